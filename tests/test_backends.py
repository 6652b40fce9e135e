"""Run freeze_checks.py under every backend requirements-dev.txt installs, one subprocess each,
and under TensorFlow a second time, with the models in mixed_bfloat16 (--mixed-precision bfloat16).
TensorFlow in float32 also checks every model variant a flag builds (the CIFAR-10 extensions);
the other runs check the five published models (JAX compiles slowly on a CPU)."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, THREAD_LIMITS, XLA_THREAD_LIMIT, backend_env, needs

# (backend, dtype policy). JAX and TensorFlow come with requirements-dev.txt, so a missing one fails;
# PyTorch is an optional install: skipped without it, said in the summary, except in CI (needs()).
RUNS = [("tensorflow", "float32"), ("jax", "float32"), ("tensorflow", "mixed_bfloat16"), ("torch", "float32")]


@pytest.mark.parametrize("backend, policy", RUNS, ids=[f"{b}-{p}" for b, p in RUNS])
def test_freeze_semantics_under_backend(backend, policy):
    if backend == "torch":
        needs("torch")
    elif importlib.util.find_spec(backend) is None:
        pytest.fail(f"{backend} is not installed, so the freeze checks did not run under it")
    env = backend_env(backend, KERAS_GANS_POLICY=policy,
                      KERAS_GANS_VARIANTS="all" if (backend, policy) == ("tensorflow", "float32") else "published")
    for name in THREAD_LIMITS:  # every core, as on a user's machine
        env.pop(name, None)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "").replace(XLA_THREAD_LIMIT, "").strip()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "-n", "0",
         os.path.join(ROOT, "tests", "freeze_checks.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"under {backend}, {policy}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert re.search(r"\b\d+ passed", result.stdout), result.stdout[-2000:]
