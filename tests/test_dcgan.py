"""dcgan_mnist.py: what sets this variant apart, its outputs, and generate.py on them."""

import json
import os

import numpy as np
import pytest

import keras
import dcgan_mnist
import generate
from conftest import run_cli


def test_help_shows_the_step_counted_defaults(capsys):
    status, out, _ = run_cli(dcgan_mnist.main, ["--help"], capsys)
    text = " ".join(out.split())
    assert status == 0
    for flag, default in [("--steps", 10000), ("--save-every", 500), ("--batch-size", 256),
                          ("--latent-dim", 100), ("--out", "runs/dcgan_mnist")]:
        assert flag in text and f"(default: {default})" in text


def test_published_architecture_and_optimizers():
    d_model, g_model = dcgan_mnist.define_discriminator(), dcgan_mnist.define_generator(100)
    assert d_model.count_params() == 4_311_553 and g_model.count_params() == 2_394_241
    assert sum(isinstance(l, keras.layers.Dropout) for l in d_model.layers) == 4
    assert [l.momentum for l in g_model.layers if isinstance(l, keras.layers.BatchNormalization)] == [0.9] * 4
    gan_model = dcgan_mnist.define_gan(g_model, d_model)
    for model, lr in ((d_model, 0.0008), (gan_model, 0.0004)):
        assert isinstance(model.optimizer, keras.optimizers.RMSprop)
        assert model.optimizer.clipvalue == 1.0 and model.loss.get_config()["from_logits"]  # the sigmoid's, in it
        assert float(model.optimizer.learning_rate) == pytest.approx(lr)


@pytest.mark.parametrize("lr, decay", [(0.0008, 6e-8), (0.0004, 3e-8)])
def test_learning_rate_decays_as_keras_2_did(lr, decay):
    optimizer = dcgan_mnist.decayed_rmsprop(lr, decay)
    optimizer.build([keras.Variable(np.zeros(3, "float32"))])
    for n in (0, 1, 1_000, 10_000, 5_000_000):
        optimizer.iterations.assign(n)
        assert float(optimizer.learning_rate) == pytest.approx(lr / (1 + decay * n), rel=1e-6)


def test_real_and_generated_images_go_to_the_discriminator_in_one_batch(monkeypatch):
    keras.utils.set_random_seed(0)
    d_model, g_model = dcgan_mnist.define_discriminator(), dcgan_mnist.define_generator(100)
    d_fake_model = dcgan_mnist.define_discriminator_on_fakes(g_model, d_model)
    assert d_fake_model.optimizer is d_model.optimizer
    batches = []
    real_update = d_fake_model.train_on_batch
    monkeypatch.setattr(d_fake_model, "train_on_batch", lambda x, y: batches.append((x, y)) or real_update(x, y))
    dataset = np.random.uniform(0, 1, (64, 28, 28, 1)).astype("float32")
    d_loss, d_acc = dcgan_mnist.train_discriminator(d_fake_model, dataset, 100, 8)
    ((real, z), y), = batches
    assert real.shape == (8, 28, 28, 1) and z.shape == (8, 100) and y.ravel().tolist() == [1.0] * 8 + [0.0] * 8
    # What the discriminator saw: its input in that model is one batch, the 8 real images, then 8 generated.
    concatenate = next(layer for layer in d_fake_model.layers if isinstance(layer, keras.layers.Concatenate))
    batch = keras.Model(d_fake_model.inputs, concatenate.output)
    seen = np.asarray(batch([real, z], training=True))
    assert seen.shape == (16, 28, 28, 1) and np.array_equal(seen[:8], real)
    generator_batch = np.asarray(d_fake_model.get_layer("generator")(z, training=False))
    assert np.abs(seen[8:] - generator_batch).max() > 0  # made on batch statistics, not the moving ones
    # and the model's scores are the discriminator's of that batch (compared in inference mode: no dropout)
    scored = d_model(batch([real, z], training=False), training=False)
    np.testing.assert_allclose(np.asarray(d_fake_model([real, z], training=False)), np.asarray(scored), rtol=1e-6)
    assert 0.0 <= d_acc <= 1.0 and np.isfinite(d_loss)


def test_latent_points_are_uniform_in_minus_one_to_one():
    z = dcgan_mnist.generate_latent_points(100, 2000)
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.01 and z.std() == pytest.approx(1 / 3 ** 0.5, rel=0.02)


def test_data_in_zero_one(mnist_npz):
    x = dcgan_mnist.load_real_samples(mnist_npz)
    assert x.shape[1:] == (28, 28, 1) and x.min() == 0.0 and x.max() == 1.0


def test_short_run_and_generate_reads_its_uniform_latent_and_range(mnist_npz, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", mnist_npz, "--out", str(out), "--steps", "3", "--save-every", "2", "--batch-size", "8"]
    assert run_cli(dcgan_mnist.main, argv, capsys)[0] == 0
    assert {"model_000002.h5", "model_000003.h5", "generated_plot_000003.png", "history.csv"} <= set(os.listdir(out))
    header, *rows = (out / "history.csv").read_text().splitlines()
    assert header == "step,d_loss,d_acc,a_loss,a_acc" and len(rows) == 3
    model = generate.load_generator(str(out / "model_000003.h5"))
    assert generate.sampling_info(str(out / "model_000003.h5"), model) == ("uniform", (0.0, 1.0))
    assert json.loads((out / "run.json").read_text())["latent_distribution"] == "uniform"
    os.remove(out / "run.json")  # without the sidecar the range still comes from the sigmoid
    assert generate.sampling_info(str(out / "model_000003.h5"), model)[1] == (0.0, 1.0)
    status, _, _ = run_cli(generate.main, [str(out / "model_000003.h5"), "--point", "0.75", "--out", str(tmp_path / "p.png")], capsys)
    assert status == 0


@pytest.mark.parametrize("argv, message", [(["--steps", "0"], "--steps"), (["--save-every", "-1"], "--save-every"),
                                           (["--batch-size", "0"], "--batch-size")])
def test_bad_numbers(argv, message, mnist_npz, tmp_path, capsys):
    status, _, err = run_cli(dcgan_mnist.main, argv + ["--data", mnist_npz, "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
