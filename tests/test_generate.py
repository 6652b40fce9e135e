"""generate.py on generators this project saved: grids, single points, bad input."""

import json
import os
import shutil

import numpy as np
import pytest
from matplotlib.image import imread

import keras
import generate
import lsgan_mnist
from conftest import run_cli


@pytest.fixture
def model_dir(lsgan_run, tmp_path):
    """A copy of the run's final generator with its run.json, safe to write beside."""
    for name in ("model_000012.h5", "run.json"):
        shutil.copy(lsgan_run / name, tmp_path / name)
    return tmp_path


def gray(path):
    return imread(path)[..., 0]


def test_default_grid_is_ten_by_ten(model_dir, capsys, monkeypatch):
    monkeypatch.chdir(model_dir)
    status, out, _ = run_cli(generate.main, ["model_000012.h5"], capsys)
    assert status == 0 and "100 images" in out
    assert gray(model_dir / "grid.png").shape == (2 * (10 * 29 + 1),) * 2


def test_grid_size_and_seed(model_dir, capsys):
    model = str(model_dir / "model_000012.h5")
    paths = [model_dir / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (1, 1, 2)):
        assert run_cli(generate.main, [model, "--grid", "3", "--seed", str(seed), "--out", str(path)], capsys)[0] == 0
    a, b, c = (gray(p) for p in paths)
    assert a.shape == (2 * (3 * 29 + 1),) * 2
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_point_renders_exactly_the_generator_output(model_dir, capsys):
    model = str(model_dir / "model_000012.h5")
    out = model_dir / "p.png"
    assert run_cli(generate.main, [model, "--point", "0.75", "--out", str(out)], capsys)[0] == 0
    g_model = keras.models.load_model(model, compile=False)
    image = np.asarray(g_model.predict(np.full((1, 100), 0.75, "float32"), verbose=0))[0, :, :, 0]
    shown = gray(out)[2:-2:2, 2:-2:2]  # drop the white border, undo the 2x scaling
    assert np.abs(shown - (1 - (image + 1) / 2)).max() <= 2 / 255  # black on white; colormap + 8-bit rounding


def test_sampling_follows_run_json_else_the_output_layer(model_dir):
    model = generate.load_generator(str(model_dir / "model_000012.h5"))
    assert generate.sampling_info(str(model_dir / "model_000012.h5"), model) == ("normal", (-1.0, 1.0))
    info = json.loads((model_dir / "run.json").read_text())
    (model_dir / "run.json").write_text(json.dumps(dict(info, latent_distribution="uniform", output_range=[0, 1])))
    assert generate.sampling_info(str(model_dir / "model_000012.h5"), model) == ("uniform", (0.0, 1.0))
    os.remove(model_dir / "run.json")
    assert generate.sampling_info(str(model_dir / "model_000012.h5"), model) == ("normal", (-1.0, 1.0))
    sigmoid = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4 * 4), keras.layers.Reshape((4, 4, 1)),
                                keras.layers.Activation("sigmoid")])
    assert generate.output_range_of(sigmoid) == (0.0, 1.0)


def bad_model(tmp_path, kind):
    path = tmp_path / f"{kind}.h5"
    if kind == "corrupt":
        path.write_bytes(b"\x89HDF\r\n\x1a\n but not really")
    elif kind == "discriminator":
        lsgan_mnist.define_discriminator().save(path)
    return str(path)


@pytest.mark.parametrize("model, extra, message", [
    ("missing", [], "no such model file"),
    ("corrupt", [], "not a Keras model"),
    ("discriminator", [], "not a generator"),
    ("good", ["--grid", "0"], "--grid"),
    ("good", ["--grid", "-3"], "--grid"),
    ("good", ["--point", "lots"], "--point"),
])
def test_bad_input_gives_one_line_and_exit_2(model, extra, message, model_dir, capsys):
    out = model_dir / "grid.png"
    out.write_bytes(b"an earlier grid")
    path = str(model_dir / "model_000012.h5") if model == "good" else bad_model(model_dir, model)
    status, _, err = run_cli(generate.main, [path, "--out", str(out)] + extra, capsys)
    assert status == 2 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert out.read_bytes() == b"an earlier grid"
