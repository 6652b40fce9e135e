"""diffaugment_gan.py: its models and levers, the average saved and drawn, its defaults' data, bad flags.
(Its updates and the saturated discriminator: freeze_checks.py, on every backend; --resume: test_runs.py.)"""

import os

import numpy as np
import pytest

import keras
import diffaugment_gan
import gan_runner
import generate
from conftest import run_cli, tiny_data


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("size", [32, 64, 128])
def test_the_models_at_each_size_and_each_lever_off(size):
    """Upsampling then a 3x3 convolution a doubling (transposed convolutions with --no-upsampling); DiffAugment in
    front of the discriminator (none without it), its convolutions spectrally normalized with spectral=True (not by
    default); a logit out; sizes 32, 64 and 128."""
    g_model = diffaugment_gan.define_generator(128, size)
    assert g_model.output_shape == (None, size, size, 3)
    doublings = int(np.log2(size // 4))
    assert layer_kinds(g_model).count("UpSampling2D") == doublings and "Conv2DTranspose" not in layer_kinds(g_model)
    plain = diffaugment_gan.define_generator(128, size, upsampling=False)
    assert layer_kinds(plain).count("Conv2DTranspose") == doublings and "UpSampling2D" not in layer_kinds(plain)
    d_model = diffaugment_gan.define_discriminator((size, size, 3))
    assert layer_kinds(d_model)[0] == "DiffAugment" and d_model.layers[0].policy == "color,translation"
    assert d_model.output_shape == (None, 1) and d_model.layers[-1].activation.__name__ == "linear"
    assert "DiffAugment" not in layer_kinds(diffaugment_gan.define_discriminator((size, size, 3), "none"))
    assert not [layer for layer in d_model.layers if getattr(layer, "kernel_constraint", None) is not None]
    spectral = diffaugment_gan.define_discriminator((size, size, 3), spectral=True)
    convs = [layer for layer in spectral.layers if type(layer).__name__ == "Conv2D"]
    assert len(convs) == doublings and all(isinstance(c.kernel_constraint, diffaugment_gan.SpectralNorm) for c in convs)


def test_the_average_is_what_is_saved_and_drawn(tmp_path):
    """train() saves the averaged generator, not the trained one, and generate.py draws it."""
    keras.utils.set_random_seed(1)
    d_model, g_model = diffaugment_gan.define_discriminator((32, 32, 3)), diffaugment_gan.define_generator(128, 32)
    gan_model, ema_model = diffaugment_gan.define_gan(g_model, d_model), diffaugment_gan.define_average(g_model)
    dataset = np.random.uniform(-1, 1, (32, 32, 32, 3)).astype("float32")
    history = diffaugment_gan.train(ema_model, d_model, gan_model, dataset, 128, n_epochs=1, n_batch=8,
                                    out_dir=str(tmp_path), verbose=0)
    assert len(history["g"]) == 4 and (tmp_path / "generated_plot_000004.png").exists()
    saved = keras.models.load_model(tmp_path / "model_000004.h5", compile=False)
    for s, e, g in zip(saved.get_weights(), ema_model.get_weights(), g_model.get_weights()):
        np.testing.assert_array_equal(s, e)
    assert any(not np.array_equal(e, g) for e, g in zip(ema_model.get_weights(), g_model.get_weights()))
    assert generate.main([str(tmp_path / "model_000004.h5"), "--out", str(tmp_path / "grid.png")]) == 0


def test_a_run_from_the_command_line_and_its_flags(tmp_path, capsys):
    """A folder run at 32x32 writes the averaged generator and run.json; --augment (gan_runner's) is refused in one
    line, as it augments by itself; the levers are recorded, so --resume refuses a change; --spectral-norm reaches
    the discriminator."""
    data = tiny_data(tmp_path / "data.npz", "diffaugment_gan")
    args = ["--data", data, "--image-size", "32", "--batch-size", "8", "--max-steps", "2", "--out"]
    status, out, _ = run_cli(diffaugment_gan.main, args + [str(tmp_path / "run")], capsys)
    assert status == 0 and (tmp_path / "run" / "model_000002.h5").exists()
    status, _, err = run_cli(diffaugment_gan.main, args + [str(tmp_path / "aug"), "--augment"], capsys)
    assert status == 2 and "augments by itself" in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "aug" / "checkpoint.npz")
    status, _, err = run_cli(diffaugment_gan.main, args + [str(tmp_path / "bad"), "--diffaugment", "blur"], capsys)
    assert status == 2 and "blur" in err
    status, _, err = run_cli(diffaugment_gan.main, args + [str(tmp_path / "run"), "--ema", "0", "--resume"], capsys)
    assert status == 2 and "made with --ema 0.995, not 0.0" in err
    status, _, err = run_cli(diffaugment_gan.main, args + [str(tmp_path / "run"), "--spectral-norm", "--resume"],
                             capsys)
    assert status == 2 and "made with --spectral-norm False, not True" in err
    (_, d_model, _), _ = diffaugment_gan.define_run(gan_runner.parse_args(diffaugment_gan, ["--spectral-norm"]))
    convs = [layer for layer in d_model.layers if type(layer).__name__ == "Conv2D"]
    assert convs and all(isinstance(layer.kernel_constraint, diffaugment_gan.SpectralNorm) for layer in convs)


def test_the_default_data_is_flower_photos_from_keras(tmp_path, monkeypatch):
    """Without --data: flower_photos through keras.utils.get_file (no network here: a stand-in archive's folder),
    each photo centre-cropped to a square and resized."""
    from PIL import Image

    folder = tmp_path / "datasets" / "flower_photos_extracted" / "flower_photos" / "roses"
    folder.mkdir(parents=True)
    Image.new("RGB", (90, 60), (200, 30, 30)).save(folder / "a.jpg")
    Image.new("RGB", (50, 80), (30, 30, 200)).save(folder / "b.jpg")
    asked = []
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: asked.append(k) or str(folder.parent.parent))
    x = diffaugment_gan.load_real_samples(image_shape=(32, 32, 3))
    assert asked[0]["origin"] == diffaugment_gan.FLOWERS and x.shape == (2, 32, 32, 3)
    assert -1 <= x.min() and x.max() <= 1 and x[0, ..., 0].mean() > x[1, ..., 0].mean()  # red, then blue
