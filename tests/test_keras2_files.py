"""The generators the tutorials' readers already have, saved by Keras 2: drawn by generate.py as
Keras 2 draws them, copied to Keras 3 files with --save-as, scored by evaluate.py; never changed."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import evaluate
import gan_runner
import generate
import keras
from conftest import ROOT, run_cli

TUTORIALS = ("model_018740", "generator_model_0970", "dcgan_mnist_generator", "generator_model_200")


@pytest.fixture(scope="module")
def keras2_files(tmp_path_factory):
    """The four tutorials' generators saved by tf_keras (Keras 2), with Keras 2's images of 16 latent points."""
    folder = tmp_path_factory.mktemp("keras2")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "keras2_tutorials.py"), str(folder)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grid_levels(images, value_range):
    """generate.py's grid as the 8-bit grey levels its PNG holds."""
    return np.clip(gan_runner.grid_pixels(images, value_range) * 256, 0, 255).astype("uint8")


def as_keras_224(source, target):
    """source (a tf_keras .h5) rewritten in the layout standalone Keras 2.2.4 wrote in 2019: byte
    attributes, no InputLayer but batch_input_shape on the first layer, no dtype on the others,
    initializers without module names, LeakyReLU's alpha, no `groups`, an integer BatchNorm axis."""
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        first_shape = layers.pop(0)["config"]["batch_input_shape"]
        for k, layer in enumerate(layers):
            c = layer["config"]
            for key in ("dtype", "groups", "batch_input_shape"):
                c.pop(key, None)
            for key, value in list(c.items()):
                if isinstance(value, dict) and "module" in value:
                    c[key] = {"class_name": value["class_name"], "config": value["config"]}
            if layer["class_name"] == "BatchNormalization":
                c["axis"] = -1
            if k == 0:
                c["batch_input_shape"], c["dtype"] = first_shape, "float32"
        f.attrs["model_config"] = np.bytes_(json.dumps(config))
        f.attrs["keras_version"] = np.bytes_("2.2.4")
        f.attrs["backend"] = np.bytes_("tensorflow")
        f["model_weights"].attrs["keras_version"] = np.bytes_("2.2.4")
    return target


@pytest.mark.parametrize("name", TUTORIALS)
def test_generate_draws_a_keras2_generator_as_keras2_does(name, keras2_files, tmp_path, capsys):
    path = keras2_files / f"{name}.h5"
    before = sha256(path)
    expected = np.load(keras2_files / f"{name}.npz")
    model = generate.load_generator(str(path))
    images = np.asarray(model.predict(expected["z"], verbose=0))
    np.testing.assert_allclose(images, expected["images"], atol=1e-5)  # float round-off: BatchNorm's other kernels
    value_range = generate.sampling_info(str(path), model)[1]
    ours, theirs = grid_levels(images, value_range), grid_levels(expected["images"], value_range)
    assert (ours != theirs).mean() <= 0.001 and np.abs(ours.astype(int) - theirs).max() <= 1
    # The command line says what it read, and draws the grid.
    status, out, err = run_cli(generate.main, [str(path), "--out", str(tmp_path / "grid.png"), "--grid", "4"], capsys)
    assert status == 0, err
    assert f"{path}: a Keras {expected['keras_version']} file, translated" in out
    assert (tmp_path / "grid.png").is_file()
    assert sha256(path) == before  # the user's file is only read


def test_a_standalone_keras_224_file_of_2019_is_read(keras2_files, tmp_path, capsys):
    path = as_keras_224(keras2_files / "generator_model_0970.h5", tmp_path / "generator_model_0970.h5")
    assert generate.keras2_version(str(path)) == "2.2.4"
    before = sha256(path)
    expected = np.load(keras2_files / "generator_model_0970.npz")
    model = generate.load_generator(str(path))
    assert model.input_shape == (None, 50) and model.output_shape == (None, 28, 28, 1)
    np.testing.assert_allclose(np.asarray(model.predict(expected["z"], verbose=0)), expected["images"], atol=1e-5)
    status, out, _ = run_cli(generate.main, [str(path), "--out", str(tmp_path / "g.png")], capsys)
    assert status == 0 and "a Keras 2.2.4 file, translated" in out
    assert sha256(path) == before


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_save_as_writes_a_keras3_copy_that_load_model_opens(suffix, keras2_files, tmp_path, capsys):
    path = keras2_files / "model_018740.h5"
    before = sha256(path)
    copy = tmp_path / f"lsgan{suffix}"
    status, out, err = run_cli(generate.main, [str(path), "--save-as", str(copy)], capsys)
    assert status == 0, err
    assert f"wrote {copy}" in out and not (tmp_path / "grid.png").exists()
    model = keras.models.load_model(copy, compile=False)  # the reader's own code, no translation
    expected = np.load(keras2_files / "model_018740.npz")
    np.testing.assert_allclose(np.asarray(model.predict(expected["z"], verbose=0)), expected["images"], atol=1e-5)
    assert generate.keras2_version(str(copy)) is None
    assert sha256(path) == before
    # An existing file is never overwritten, the input least of all.
    for target in (copy, path):
        status, _, err = run_cli(generate.main, [str(path), "--save-as", str(target)], capsys)
        assert status == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    assert sha256(path) == before


def test_keras2_files_that_are_not_generators_are_refused_in_one_line(keras2_files, tmp_path, capsys):
    critic = tmp_path / "critic.h5"
    code = ("import tf_keras as k; m = k.Sequential([k.layers.Conv2D(8, (4, 4), input_shape=(28, 28, 1)), "
            "k.layers.Flatten(), k.layers.Dense(1)]); m.save(%r)" % str(critic))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes((keras2_files / "model_018740.h5").read_bytes()[:5000])
    for path, words in ((critic, "not a generator"), (truncated, "not a Keras model")):
        status, _, err = run_cli(generate.main, [str(path)], capsys)
        assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_evaluate_scores_a_keras2_lsgan_generator(keras2_files, mnist_npz, tmp_path, capsys):
    path = keras2_files / "model_018740.h5"
    before = sha256(path)
    status, out, err = run_cli(evaluate.main, [str(path), "--dataset", "mnist", "--data", mnist_npz, "--n", "200",
                                               "--no-inception", "--out", str(tmp_path)], capsys)
    assert status == 0, err
    assert "a Keras 2.21.0 file, translated" in out and "cfid" in out
    assert (tmp_path / "scores.csv").is_file()
    assert sha256(path) == before
