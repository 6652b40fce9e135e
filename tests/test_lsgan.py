"""lsgan_mnist.py as a user runs it: flags, outputs, bad input."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

import gan_runner
import keras
import lsgan_mnist
from conftest import ROOT, run_cli


@pytest.mark.keras_independent
def test_help_shows_every_default(capsys):
    status, out, _ = run_cli(lsgan_mnist.main, ["--help"], capsys)
    assert status == 0
    text = " ".join(out.split())
    for flag, default in [("--epochs", 20), ("--batch-size", 64), ("--latent-dim", 100),
                          ("--out", "runs/lsgan_mnist"), ("--seed", None), ("--max-steps", None)]:
        assert flag in text
        assert f"(default: {default})" in text


def test_defaults_are_the_published_hyperparameters():
    d_model = lsgan_mnist.define_discriminator()
    config = d_model.optimizer.get_config()
    assert config["learning_rate"] == pytest.approx(0.0002) and config["beta_1"] == pytest.approx(0.5)
    assert d_model.layers[-1].activation.__name__ == "linear"
    g_model = lsgan_mnist.define_generator(100)
    assert g_model.output_shape == (None, 28, 28, 1) and g_model.count_params() == 1_976_577
    assert d_model.count_params() == 139_329


def test_two_epoch_run_writes_every_output(lsgan_run):
    names = sorted(os.listdir(lsgan_run))
    assert names == [
        "checkpoint.npz", "diversity.csv", "generated_plot_000006.png", "generated_plot_000012.png", "history.csv",
        "model_000006.h5", "model_000012.h5", "plot_line_plot_loss.png", "run.json",
    ]
    spreads = np.genfromtxt(lsgan_run / "diversity.csv", delimiter=",", names=True)  # the collapse guard's, each epoch
    assert list(spreads["step"]) == [6, 12] and (spreads["diversity"] > 0).all()
    with open(lsgan_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    losses = np.array([[float(r[k]) for k in ("d1", "d2", "g")] for r in rows])
    assert np.isfinite(losses).all() and (losses >= 0).all()
    info = json.loads((lsgan_run / "run.json").read_text())
    assert info["latent_dim"] == 100 and info["latent_distribution"] == "normal"


def test_grid_shows_one_hundred_varied_samples_of_the_saved_generator(lsgan_run):
    grid = imread(lsgan_run / "generated_plot_000012.png")[..., 0]
    assert grid.shape == (2 * (10 * 29 + 1),) * 2
    cells = [grid[2 * (1 + r * 29) : 2 * (r + 1) * 29, 2 * (1 + c * 29) : 2 * (c + 1) * 29] for r in range(10) for c in range(10)]
    assert len({cell.tobytes() for cell in cells}) == 100, "every sample should differ"
    # The saved generator is the trained one of step 12: the same weights as the checkpoint's (the run
    # ended there), none of them the initial ones.
    g_model = keras.models.load_model(lsgan_run / "model_000012.h5", compile=False)
    with np.load(lsgan_run / "checkpoint.npz") as saved:
        checkpointed = [saved[f"arr_{k}"] for k in range(len(g_model.variables))]
    assert all(np.array_equal(keras.ops.convert_to_numpy(v), c) for v, c in zip(g_model.variables, checkpointed))
    keras.utils.set_random_seed(3)  # the run's --seed: the generator it started from
    initial = lsgan_mnist.define_generator(100)
    assert all(not np.array_equal(keras.ops.convert_to_numpy(v), keras.ops.convert_to_numpy(w))
               for v, w in zip(g_model.trainable_variables, initial.trainable_variables))


def test_max_steps_stops_early_and_still_writes_final_outputs(mnist_npz, tmp_path, capsys):
    out = tmp_path / "run"
    status, _, _ = run_cli(lsgan_mnist.main, ["--data", mnist_npz, "--out", str(out), "--batch-size", "16", "--max-steps", "2"], capsys)
    assert status == 0
    assert {"generated_plot_000002.png", "model_000002.h5", "history.csv", "plot_line_plot_loss.png"} <= set(os.listdir(out))
    assert len((out / "history.csv").read_text().splitlines()) == 3


def write_bad_npz(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "no_x_train":
        np.savez(path, images=np.zeros((100, 28, 28), "uint8"))
    elif kind == "wrong_shape":
        np.savez(path, x_train=np.zeros((100, 32, 32, 3), "uint8"))
    elif kind == "too_few":
        np.savez(path, x_train=np.zeros((10, 28, 28), "uint8"))
    elif kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return str(path)


BAD_RUNS = [
    (["--data", "{tmp}/missing.npz"], "no such data file"),
    (["--data", "no_x_train"], "no x_train array"),
    (["--data", "wrong_shape"], "expected (28, 28, 1)"),
    (["--data", "too_few"], "fewer than one batch"),
    (["--data", "corrupt"], "not a readable .npz"),
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "1"], "--batch-size"),
    (["--latent-dim", "zero"], "--latent-dim"),
    (["--max-steps", "-5"], "--max-steps"),
]


@pytest.mark.keras_independent
@pytest.mark.parametrize("argv, message", BAD_RUNS)
def test_bad_input_gives_one_line_and_exit_2_and_touches_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "model_000937.h5"
    keep.write_bytes(b"an earlier run's generator")
    argv = [a.format(tmp=tmp_path) for a in argv]
    if argv[0] == "--data" and "/" not in argv[1]:
        argv[1] = write_bad_npz(tmp_path, argv[1])
    elif argv[0] != "--data":
        argv = argv + ["--data", "{}/unused.npz".format(tmp_path)]
    status, _, err = run_cli(lsgan_mnist.main, argv + ["--out", str(out), "--overwrite"], capsys)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert os.listdir(out) == ["model_000937.h5"] and keep.read_bytes() == b"an earlier run's generator"


@pytest.mark.keras_independent
def test_refuses_a_folder_that_already_holds_a_run(lsgan_run, mnist_npz, capsys):
    before = {n: os.path.getmtime(lsgan_run / n) for n in os.listdir(lsgan_run)}
    status, _, err = run_cli(lsgan_mnist.main, ["--data", mnist_npz, "--out", str(lsgan_run)], capsys)
    assert status == 2 and "already holds a run" in err and "--overwrite" in err
    assert {n: os.path.getmtime(lsgan_run / n) for n in os.listdir(lsgan_run)} == before


@pytest.mark.keras_independent
def test_bad_input_from_the_shell_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "lsgan_mnist.py"), "--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"lsgan_mnist.py: error: {tmp_path / 'nope.npz'}: no such data file"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.keras_independent
def test_interrupted_save_leaves_the_previous_file_and_no_partial_file(tmp_path):
    target = tmp_path / "model_000001.h5"
    target.write_bytes(b"previous complete version")

    def write_then_die(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gan_runner.save_atomically(str(target), write_then_die)
    assert os.listdir(tmp_path) == ["model_000001.h5"]
    assert target.read_bytes() == b"previous complete version"


def test_keras3_trainable_flag_is_why_the_composite_is_a_class():
    """The tutorial's freeze, on Keras 3: the discriminator itself can no longer learn."""
    d_model = lsgan_mnist.define_discriminator()
    d_model.trainable = False
    assert d_model.trainable_weights == []
    d_model = lsgan_mnist.define_discriminator()
    lsgan_mnist.define_gan(lsgan_mnist.define_generator(100), d_model)
    assert len(d_model.trainable_weights) == 10  # ours leaves the discriminator trainable


def test_generator_learns_towards_the_data():
    """Sixty real steps on tiny data move the generated images towards the real ones."""
    from conftest import tiny_mnist

    keras.utils.set_random_seed(0)
    x, _ = tiny_mnist(256)
    dataset = (x[..., None].astype("float32") - 127.5) / 127.5  # as load_real_samples scales
    d_model, g_model = lsgan_mnist.define_discriminator(), lsgan_mnist.define_generator(100)
    gan_model = lsgan_mnist.define_gan(g_model, d_model)
    d_fake_model = lsgan_mnist.define_discriminator_on_fakes(g_model, d_model)

    def distance_to_data():
        fake, _ = lsgan_mnist.generate_fake_samples(g_model, 100, 128)
        return float(np.abs(fake.mean(axis=0) - dataset.mean(axis=0)).mean())

    before = distance_to_data()
    for _ in range(60):
        lsgan_mnist.train_step(d_model, d_fake_model, gan_model, dataset, 100, 16)
    assert distance_to_data() < 0.9 * before

