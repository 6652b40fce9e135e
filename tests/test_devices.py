"""On a GPU workstation: the device line and run.json's devices, GPU memory taken as needed,
TensorFlow kept off the GPU under another backend, seeds that repeat under every backend CI
installs, --data-parallel over 2 virtual JAX devices, and the GPU report's smoke run."""

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gan_runner
import keras
import lsgan_mnist
from conftest import ROOT, backend_env, needs, run_cli, tiny_data


def run_python(code, backend, tmp_path, devices=1, timeout=600):
    """code in a fresh process under backend (the CPU; `devices` virtual JAX devices): its stdout."""
    env = backend_env(backend)
    env.pop("XLA_FLAGS", None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def flags(**given):
    values = dict(tensorboard=None, seed=None, data_parallel=False, batch_size=64)
    return argparse.Namespace(**dict(values, **given))


def test_a_run_prints_its_device_line_and_records_its_devices(tmp_path, capsys):
    data = tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    status, out, err = run_cli(lsgan_mnist.main, ["--data", data, "--out", str(tmp_path / "run"), "--batch-size", "16",
                                                  "--max-steps", "1"], capsys)
    assert status == 0, err
    assert ('lsgan_mnist.py: training on cpu:0 (tensorflow, dtype policy float32); no GPU visible, so this is slow: '
            'README, "On a GPU"') in out.splitlines()
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["backend"] == "tensorflow" and info["devices"] == ["cpu:0"]


def test_gpu_memory_is_taken_as_needed_unless_the_user_says_otherwise(monkeypatch):
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")  # the user's own choice
    undo = []
    assert gan_runner.prepare_backend(flags(), undo) == ["cpu:0"]
    for step in undo:  # as main() does when a run ends: TensorFlow's remapper given back
        step()
    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE")
    gan_runner.prepare_backend(flags(), [])
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def test_tensorflow_sees_no_gpu_when_another_backend_trains(monkeypatch):
    """Under JAX or PyTorch, --tensorboard's TensorFlow is put on the CPU before it starts."""
    import tensorflow as tf

    calls = []
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda devices, kind: calls.append((devices, kind)))
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(gan_runner, "local_devices", lambda: ["cpu:0"])
    gan_runner.prepare_backend(flags(tensorboard="logs"), [])
    assert calls == [([], "GPU")]
    calls.clear()
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    gan_runner.prepare_backend(flags(tensorboard="logs"), [])
    assert calls == []  # TensorFlow's own run keeps its GPU


def test_tensorflows_remapper_error_line_stays_off_the_screen(tmp_path):
    """TensorFlow 2.21 on a CPU printed "E0000 ... remapper failed: ... LeakyReluGrad ..." at the first update of a
    discriminator on generated images, an error line in a run that goes on (issue 44): a run on the CPU turns
    grappler's remapper off, and gives a notebook its setting back. In a fresh process: the line is TensorFlow's
    C++ log, on file descriptor 2."""
    data = tiny_data(tmp_path / "data.npz", "cgan_mnist")
    argv = ["--data", data, "--out", "run", "--batch-size", "16", "--max-steps", "2"]
    code = ("import sys, cgan_mnist, tensorflow as tf\n"
            f"status = cgan_mnist.main({argv!r})\n"
            "print('remapping after:', tf.config.optimizer.get_experimental_options().get('remapping', True))\n"
            "sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=backend_env("tensorflow"),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remapper failed" not in result.stderr, result.stderr[-3000:]
    assert "remapping after: True" in result.stdout


def test_data_parallel_is_refused_under_tensorflow_in_one_line(tmp_path, capsys):
    data = tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    status, _, err = run_cli(lsgan_mnist.main, ["--data", data, "--out", str(tmp_path / "run"), "--data-parallel"],
                             capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "KERAS_BACKEND=jax" in err
    assert not (tmp_path / "run").exists()


SEEDED_TWICE = """
import sys, os, lsgan_mnist, keras
backend = keras.backend.backend()
if backend == "jax":  # JAX started before the first seeded run: too late for its flag, said once
    import jax.numpy as jnp
    jnp.zeros(1)
if backend == "torch":  # what the run asks of PyTorch, while it trains
    import torch
    lsgan_mnist.train_step = lambda *a, step=lsgan_mnist.train_step: (
        print("during the run, deterministic algorithms:", torch.are_deterministic_algorithms_enabled()), step(*a))[1]
args = ["--data", {data!r}, "--batch-size", "16", "--max-steps", "3", "--seed", "5"]
for out in ("a", "b"):
    assert lsgan_mnist.main(args + ["--out", out]) == 0
if backend == "jax":
    print("flag:", "--xla_gpu_deterministic_ops=true" in os.environ["XLA_FLAGS"])
if backend == "torch":
    print("after main, deterministic algorithms:", torch.are_deterministic_algorithms_enabled())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_seeded_runs_repeat_under_every_backend(backend, tmp_path):
    """Two seeded runs, the same losses, in a fresh process under JAX and PyTorch (TensorFlow: in this one, in
    tests/test_runs.py and tests/test_replay.py). Under JAX, started first here, the seed says once that it came
    too late for XLA's deterministic-ops flag (which it still sets, for JAX's next start)."""
    if backend == "torch":
        needs("torch")
    out = run_python(SEEDED_TWICE.format(data=tiny_data(tmp_path / "data.npz", "lsgan_mnist")), backend, tmp_path)
    first, second = ((tmp_path / run / "history.csv").read_text() for run in "ab")
    assert first == second and len(first.splitlines()) == 4
    assert f"training on cpu:0 ({backend}" in out
    if backend == "jax":
        assert "flag: True" in out
        assert len([line for line in out.splitlines() if "too late" in line]) == 1
    if backend == "torch":
        during = [line for line in out.splitlines() if line.startswith("during the run")]
        assert len(during) == 6 and all(line.endswith("True") for line in during)  # on while it trains
        assert "after main, deterministic algorithms: False" in out  # switched back


DATA_PARALLEL = """
import json, numpy as np, keras, lsgan_mnist as m
data = m.load_real_samples({data!r})

def one_step(parallel):
    if parallel:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    keras.utils.set_random_seed(3)
    d_model, g_model = m.define_discriminator(), m.define_generator(m.LATENT_DIM)
    gan_model = m.define_gan(g_model, d_model)
    d_fake_model = m.define_discriminator_on_fakes(g_model, d_model)
    np.random.seed(4)
    losses = m.train_step(d_model, d_fake_model, gan_model, data, m.LATENT_DIM, 16)
    # Adam's first step moves each weight by lr * g / (|g| + eps): by about +-lr whatever the size of g,
    # so where g is rounding noise its sign, and the step, can differ between one device and two.
    # That is the whole gradient of a bias just before a BatchNorm (it has no true gradient): those
    # are compared apart; elsewhere at most 1 weight in 10,000 may differ by more than 1e-6.
    noise = set(id(layer.bias) for model in (g_model, d_model) for layer, after in zip(model.layers, model.layers[1:])
                if isinstance(after, keras.layers.BatchNormalization) and getattr(layer, "bias", None) is not None)
    weights = [(id(v) in noise, keras.ops.convert_to_numpy(v)) for v in g_model.weights + d_model.weights]
    keras.distribution.set_distribution(None)
    return losses, weights, d_model.layers[0].kernel

(single, w1, _), (parallel, w2, kernel) = one_step(False), one_step(True)
np.testing.assert_allclose(parallel, single, rtol=1e-4)
differ = total = 0
for (noise, a), (_, b) in zip(w1, w2):
    assert np.abs(a - b).max() <= 2 * m.LEARNING_RATE
    if not noise:
        differ, total = differ + int((np.abs(a - b) > 1e-6).sum()), total + a.size
assert differ <= total / 10000, (differ, total)
print("compared", total, "weights:", differ, "differ by more than 1e-6")
print("replicated over", len(kernel.value.sharding.device_set), "devices")

base = ["--data", {data!r}, "--batch-size", "16", "--seed", "2", "--data-parallel"]
assert m.main(base + ["--out", "straight", "--max-steps", "4"]) == 0
assert m.main(base + ["--out", "resumed", "--max-steps", "2"]) == 0
assert m.main(base + ["--out", "resumed", "--max-steps", "4", "--resume"]) == 0
print("devices:", json.load(open("resumed/run.json"))["devices"])
assert m.main(["--data", {data!r}, "--batch-size", "6", "--data-parallel", "--out", "odd"]) == 2
"""


def test_data_parallel_over_two_devices_steps_as_one_device_trains_and_resumes(tmp_path):
    """JAX with 2 virtual CPU devices: one data-parallel step equals the one-device step; a run
    stopped after 2 steps and resumed ends as the straight 4-step run; run.json lists 2 devices;
    a batch whose halves do not split over 2 devices is refused."""
    out = run_python(DATA_PARALLEL.format(data=tiny_data(tmp_path / "data.npz", "lsgan_mnist")), "jax", tmp_path,
                     devices=2, timeout=900)
    assert "replicated over 2 devices" in out
    assert "devices: ['cpu:0', 'cpu:1']" in out
    assert "training on cpu:0, cpu:1 (jax" in out
    assert "resuming the run" in out
    with open(tmp_path / "straight" / "history.csv") as a, open(tmp_path / "resumed" / "history.csv") as b:
        straight, resumed = list(csv.reader(a)), list(csv.reader(b))
    assert len(straight) == 5
    np.testing.assert_allclose(np.array(resumed[1:], float), np.array(straight[1:], float), rtol=1e-5)


def test_the_gpu_report_smoke_run_prints_its_table(capsys):
    spec = importlib.util.spec_from_file_location("speed", os.path.join(ROOT, "benchmarks", "speed.py"))
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    policy = keras.config.dtype_policy()
    try:
        speed.main(["--all", "--smoke"])
    finally:
        keras.config.set_dtype_policy(policy)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Device: tensorflow on cpu:0 ({gan_runner.cpu_description()}), Keras ")
    rows = [line for line in lines if line.startswith("| ") and "ms" in line and "---" not in line]
    assert [row.split(" | ")[0] for row in rows] == [f"| {name}" for name in
                                                     ("lsgan_mnist", "wgan_mnist7", "dcgan_mnist", "dcgan_cifar10")]
    assert all(row.count("x)") == 3 for row in rows)
    try:  # the folder scripts' steps, ms a real image seen
        speed.main(["--per-image", "64", "--smoke"])
    finally:
        keras.config.set_dtype_policy(policy)
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "---" not in line]
    assert [row[0] for row in rows[1:]] == ["| dcgan_cifar10, the tutorial's models",
                                            "| dcgan_cifar10 --models dcgan-paper", "| diffaugment_gan"]
    assert rows[-1][1] == "4"  # --smoke's batch: all of it real, for diffaugment_gan.py
