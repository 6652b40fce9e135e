"""--mixed-precision in every script: a run trains in each dtype policy, the layers a loss reads
stay in float32, float16 scales the losses, what a run saves samples in float32 for generate.py
and evaluate.py, run.json records the policy, a checkpoint refuses another one, and the policy
set for a run does not outlive it. (freeze_checks.py also runs in mixed_bfloat16: test_backends.py.)"""

import json
import os

import numpy as np
import pytest

import gan_runner
import keras
import dcgan_cifar10
import cgan_mnist
import dcgan_mnist
import diffaugment_gan
import evaluate
import generate
import lsgan_mnist
import wgan_mnist7
from conftest import run_cli, tiny_data

SCRIPTS = {m.__name__: m for m in (lsgan_mnist, wgan_mnist7, dcgan_mnist, dcgan_cifar10, cgan_mnist, diffaugment_gan)}
RUNS = {  # two steps of each, small batches
    "lsgan_mnist": ["--batch-size", "8", "--max-steps", "2"],
    "wgan_mnist7": ["--batch-size", "8", "--n-critic", "2", "--max-steps", "2"],
    "dcgan_mnist": ["--batch-size", "4", "--steps", "2"],
    "dcgan_cifar10": ["--batch-size", "8", "--max-steps", "2"],
    "cgan_mnist": ["--batch-size", "8", "--max-steps", "2"],
    "diffaugment_gan": ["--batch-size", "8", "--max-steps", "2", "--image-size", "32"],  # DiffAugment in the policy too
}


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_trains_in_the_policy_and_saves_a_float32_sampler(name, precision, tmp_path, capsys):
    out = tmp_path / "run"
    argv = RUNS[name] + ["--data", tiny_data(tmp_path / "data.npz", name), "--out", str(out), "--mixed-precision",
                         precision]
    status, _, err = run_cli(SCRIPTS[name].main, argv, capsys)
    assert status == 0, err
    assert keras.config.dtype_policy().name == "float32"  # the run's policy is not left behind
    history = np.genfromtxt(out / "history.csv", delimiter=",", names=True)
    assert len(history) == 2 and all(np.isfinite(history[k]).all() for k in history.dtype.names)
    assert json.loads((out / "run.json").read_text())["mixed_precision"] == precision
    g_model = generate.load_generator(str(out / "model_000002.h5"))
    policies = [layer.dtype_policy.name for layer in g_model.layers]
    assert f"mixed_{precision}" in policies and policies[-1] == "float32"  # the images a loss reads: float32
    z = np.zeros((3, g_model.inputs[0].shape[-1]), "float32")
    images = np.asarray(g_model.predict_on_batch([z, np.arange(3)] if generate.classes_of(g_model) else z))
    assert images.dtype == np.float32 and np.isfinite(images).all()
    assert run_cli(generate.main, [str(out / "model_000002.h5"), "--grid", "2", "--out", str(tmp_path / "g.png")],
                   capsys)[0] == 0


@pytest.mark.parametrize("precision, loss_scaled", [("off", False), ("bfloat16", False), ("float16", True)])
def test_only_float16_scales_the_losses_of_both_optimizers_and_the_scores_are_float32(precision, loss_scaled):
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(gan_runner.PRECISIONS[precision])
    try:
        d_model = lsgan_mnist.define_discriminator()
        g_model = lsgan_mnist.define_generator(100)
        gan_model = lsgan_mnist.define_gan(g_model, d_model)
        d_fake_model = lsgan_mnist.define_discriminator_on_fakes(g_model, d_model)
    finally:
        keras.config.set_dtype_policy(policy)
    for model in (d_model, gan_model):
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == loss_scaled
    assert d_fake_model.optimizer is d_model.optimizer  # one optimizer (and one loss scale) for both updates
    assert d_model.layers[-1].compute_dtype == g_model.layers[-1].compute_dtype == "float32"
    compute = "float32" if precision == "off" else precision
    assert d_model.layers[0].compute_dtype == g_model.layers[0].compute_dtype == compute
    assert all(v.dtype == "float32" for v in d_model.trainable_variables + g_model.trainable_variables)


def test_the_wgan_clips_its_float32_kernels_under_bfloat16_and_computes_its_loss_in_float32():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        c_model = wgan_mnist7.define_critic()
        g_model = wgan_mnist7.define_generator(100)
        c_fake_model = wgan_mnist7.define_discriminator_on_fakes(g_model, c_model)
    finally:
        keras.config.set_dtype_policy(policy)
    kernels = [layer.kernel for layer in c_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert max(np.abs(keras.ops.convert_to_numpy(k)).max() for k in kernels) > 0.01  # wider at first
    dataset = np.random.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    for _ in range(2):
        wgan_mnist7.train_discriminator(c_model, c_fake_model, dataset, 100, 8)
    for kernel in kernels:
        assert kernel.dtype == "float32" and np.abs(keras.ops.convert_to_numpy(kernel)).max() <= 0.01
    score = c_model(dataset[:4], training=True)
    assert score.dtype == "float32"  # what the Wasserstein loss reads
    assert keras.ops.convert_to_numpy(wgan_mnist7.wasserstein_loss(np.ones((4, 1), "float32"), score)).dtype == np.float32


def test_a_checkpoint_refuses_another_policy_in_one_line(tmp_path, capsys):
    base = ["--batch-size", "8", "--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", str(tmp_path / "r")]
    assert run_cli(lsgan_mnist.main, base + ["--max-steps", "2", "--mixed-precision", "bfloat16"], capsys)[0] == 0
    status, _, err = run_cli(lsgan_mnist.main, base + ["--max-steps", "4", "--resume"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "made with --mixed-precision bfloat16, not off" in err
    status, out, _ = run_cli(lsgan_mnist.main, base + ["--max-steps", "4", "--resume", "--mixed-precision", "bfloat16"],
                             capsys)
    assert status == 0 and "at step 2 of 4" in out


def test_evaluate_scores_a_generator_saved_in_bfloat16(tmp_path, capsys):
    out = tmp_path / "run"
    data = tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    argv = RUNS["lsgan_mnist"] + ["--data", data, "--out", str(out), "--mixed-precision", "bfloat16"]
    assert run_cli(lsgan_mnist.main, argv, capsys)[0] == 0
    g_model = generate.load_generator(str(out / "model_000002.h5"))
    batch = next(evaluate.batches_of_generated(g_model, 10, (-1.0, 1.0), "normal"))
    assert batch.dtype == np.float32 and batch.shape == (10, 28, 28, 1) and 0 <= batch.min() <= batch.max() <= 1


@pytest.mark.parametrize("flags, said", [({"avx2", "fma", "avx512f"}, True), ({"avx2", "avx512f", "avx512_bf16"}, False),
                                         ({"avx2", "amx_bf16"}, False)])
def test_bfloat16_on_a_cpu_without_bfloat16_arithmetic_says_so_at_start(flags, said, tmp_path, capsys, monkeypatch):
    """The CPU's flags stubbed both ways: without avx512_bf16 or amx_bf16, one line at the start names the
    likely slowdown (the run then stops at its missing data: the line comes before anything is read)."""
    monkeypatch.setattr(gan_runner, "cpu_info", lambda: ("AMD EPYC 7B13 64-Core Processor", flags))
    argv = ["--mixed-precision", "bfloat16", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "run")]
    status, out, _ = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 2
    lines = [line for line in out.splitlines() if "--mixed-precision" in line]
    if said:
        assert lines == ["lsgan_mnist.py: --mixed-precision bfloat16: this CPU (AMD EPYC 7B13 64-Core Processor) has "
                         "no bfloat16 arithmetic (none of avx512_bf16, amx_bf16, bf16 among its flags): it is emulated, "
                         "several times slower than float32 (the LSGAN step: 5.8x on an AVX2 Zen 3, measured)"]
    else:
        assert lines == []
    assert run_cli(lsgan_mnist.main, argv[2:], capsys)[1].count("--mixed-precision") == 0  # float32: nothing said


def test_what_each_precision_is_told_on_each_device(monkeypatch):
    note = gan_runner.precision_note
    assert note("float16", ["cpu:0"]).startswith("--mixed-precision float16 on a CPU: CPU kernels emulate float16")
    monkeypatch.setattr(gan_runner, "cpu_info", lambda: (None, None))  # no /proc/cpuinfo: another OS
    assert "cannot be read" in note("bfloat16", ["cpu:0"]) and "is unknown" in note("bfloat16", ["cpu:0"])
    monkeypatch.setattr(gan_runner, "gpu_capability", lambda: ("Tesla T4", (7, 5)))  # free Colab's
    assert note("bfloat16", ["gpu:0"]).startswith("--mixed-precision bfloat16: Tesla T4 (compute capability 7.5) "
                                                  "has no bfloat16 arithmetic (8.0 and later have)")
    assert note("float16", ["gpu:0"]) is None
    monkeypatch.setattr(gan_runner, "gpu_capability", lambda: ("NVIDIA H200", (9, 0)))
    assert note("bfloat16", ["gpu:0"]) is None and note("float16", ["gpu:0"]) is None
    monkeypatch.setattr(gan_runner, "gpu_capability", lambda: ("Tesla P4", (6, 1)))
    assert "has no float16 arithmetic" in note("float16", ["gpu:0"])
    monkeypatch.setattr(gan_runner, "gpu_capability", lambda: None)
    assert "is unknown" in note("bfloat16", ["gpu:0"])
    assert note("off", ["cpu:0"]) is None


def test_the_cpu_is_named_with_the_flags_that_decide_each_precisions_speed(monkeypatch):
    monkeypatch.setattr(gan_runner, "cpu_info", lambda: ("AMD EPYC 7B13", {"avx2", "fma", "sse4_2", "aes"}))
    assert gan_runner.cpu_description() == "AMD EPYC 7B13 (avx2, fma)"
    monkeypatch.undo()
    if os.path.isfile("/proc/cpuinfo"):  # this machine's, read for real
        model, flags = gan_runner.cpu_info()
        assert model and flags
