"""Run freeze_checks.py under every installed Keras backend, one subprocess each."""

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import ROOT

BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b) is not None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_freeze_semantics_under_backend(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(ROOT, "tests", "freeze_checks.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"under {backend}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
