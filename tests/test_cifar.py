"""dcgan_cifar10.py: the accuracy report, the extensions, colour output in generate.py."""

import os

import numpy as np
import pytest

import keras
import dcgan_cifar10
import generate
from conftest import run_cli


@pytest.fixture
def cifar_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (48, 32, 32, 3)).astype("uint8")
    path = tmp_path / "tiny_cifar.npz"
    np.savez(path, x_train=x, y_train=rng.integers(0, 10, (48, 1)).astype("uint8"))
    return str(path)


def test_help_shows_defaults_and_extensions(capsys):
    status, out, _ = run_cli(dcgan_cifar10.main, ["--help"], capsys)
    text = " ".join(out.split())
    assert status == 0
    for flag, default in [("--epochs", 200), ("--batch-size", 128), ("--save-every", 10), ("--latent-dim", 100),
                          ("--batchnorm", "none"), ("--label-smoothing", False), ("--upsampling", False),
                          ("--models", "tutorial")]:
        assert flag in text and f"(default: {default})" in text


def test_published_architecture():
    d_model, g_model = dcgan_cifar10.define_discriminator(), dcgan_cifar10.define_generator(100)
    assert d_model.count_params() == 522_497 and g_model.count_params() == 1_466_115
    assert g_model.output_shape == (None, 32, 32, 3)
    config = d_model.optimizer.get_config()
    assert config["learning_rate"] == pytest.approx(0.0002) and config["beta_1"] == pytest.approx(0.5)


@pytest.mark.parametrize("d_bn, g_bn, upsampling, smoothing", [
    (True, False, False, False), (False, True, False, False), (False, False, True, False), (False, False, False, True),
])
def test_each_extension_builds_and_trains_a_step(d_bn, g_bn, upsampling, smoothing):
    keras.utils.set_random_seed(0)
    d_model = dcgan_cifar10.define_discriminator(batchnorm=d_bn)
    g_model = dcgan_cifar10.define_generator(100, batchnorm=g_bn, upsampling=upsampling)
    gan_model = dcgan_cifar10.define_gan(g_model, d_model)
    d_fake_model = dcgan_cifar10.define_discriminator_on_fakes(g_model, d_model)
    layer_types = {type(l).__name__ for l in d_model.layers} | {type(l).__name__ for l in g_model.layers}
    assert ("BatchNormalization" in layer_types) == (d_bn or g_bn)
    assert ("UpSampling2D" in layer_types) == upsampling and ("Conv2DTranspose" in layer_types) != upsampling
    dataset = np.random.uniform(-1, 1, (32, 32, 32, 3)).astype("float32")
    before = [keras.ops.convert_to_numpy(v) for v in g_model.trainable_weights]
    losses = dcgan_cifar10.train_step(d_model, d_fake_model, gan_model, dataset, 100, 8, label_smoothing=smoothing)
    assert np.all(np.isfinite(losses))
    assert all(not np.array_equal(b, keras.ops.convert_to_numpy(v)) for b, v in zip(before, g_model.trainable_weights))


def test_label_smoothing_is_one_sided_and_noisy():
    dataset = np.zeros((10, 32, 32, 3), "float32")
    _, y = dcgan_cifar10.generate_real_samples(dataset, 500, label_smoothing=True)
    assert 0.85 <= y.min() < 0.87 and 0.93 < y.max() <= 0.95 and len(np.unique(y)) > 100
    _, y = dcgan_cifar10.generate_real_samples(dataset, 5)
    assert (y == 1.0).all()


def test_short_run_reports_accuracy_and_saves_colour_grid(cifar_npz, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", cifar_npz, "--out", str(out), "--epochs", "2", "--save-every", "1", "--batch-size", "16"]
    status, text, _ = run_cli(dcgan_cifar10.main, argv, capsys)
    assert status == 0 and text.count(">Accuracy real:") == 2
    assert {"model_000003.h5", "model_000006.h5", "generated_plot_000006.png", "history.csv"} <= set(os.listdir(out))
    from matplotlib.image import imread
    grid = imread(out / "generated_plot_000006.png")
    assert grid.shape[:2] == (2 * (7 * 33 + 1),) * 2  # a 7x7 grid
    assert not (np.array_equal(grid[..., 0], grid[..., 1]) and np.array_equal(grid[..., 1], grid[..., 2]))
    # In colour, channel by channel: the picture of one latent point is the generator's output.
    point = tmp_path / "point.png"
    assert run_cli(generate.main, [str(out / "model_000006.h5"), "--point", "0.5", "--out", str(point)], capsys)[0] == 0
    model = keras.models.load_model(out / "model_000006.h5", compile=False)
    made = (np.asarray(model.predict(np.full((1, 100), 0.5, "float32"), verbose=0))[0] + 1) / 2
    assert np.abs(made[..., 0] - made[..., 1]).max() > 4 / 255  # the check can tell colour from grey
    assert np.abs(imread(point)[2:-2:2, 2:-2:2, :3] - made).max() <= 2 / 255
    status, text, _ = run_cli(generate.main, [str(out / "model_000006.h5"), "--out", str(tmp_path / "g.png")], capsys)
    assert status == 0 and "100 images of (32, 32, 3)" in text
    assert imread(tmp_path / "g.png").shape[:2] == (2 * (10 * 33 + 1),) * 2


def test_mnist_shaped_data_is_refused(mnist_npz, tmp_path, capsys):
    status, _, err = run_cli(dcgan_cifar10.main, ["--data", mnist_npz, "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "expected (32, 32, 3)" in err and len(err.strip().splitlines()) == 1
