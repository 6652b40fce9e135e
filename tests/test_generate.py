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
    ("good", ["--n", "49"], "argument --n: with --images DIR"),  # a grid's size is --grid's: not ignored
])
def test_bad_input_gives_one_line_and_exit_2(model, extra, message, model_dir, capsys):
    out = model_dir / "grid.png"
    out.write_bytes(b"an earlier grid")
    path = str(model_dir / "model_000012.h5") if model == "good" else bad_model(model_dir, model)
    status, _, err = run_cli(generate.main, [path, "--out", str(out)] + extra, capsys)
    assert status == 2 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert out.read_bytes() == b"an earlier grid"


def cells(picture, rows, cols, h=28, w=28, scale=2):
    """The (rows, cols) images of a grid picture, undoing the border and the scaling."""
    return np.array([[picture[scale * (1 + r * (h + 1)) : scale * (r + 1) * (h + 1) : scale,
                              scale * (1 + c * (w + 1)) : scale * (c + 1) * (w + 1) : scale] for c in range(cols)]
                     for r in range(rows)])


def test_interpolation_rows_start_and_end_at_the_generators_output_at_their_ends(model_dir, capsys):
    out = model_dir / "walk.png"
    argv = [str(model_dir / "model_000012.h5"), "--interpolate", "--steps", "6", "--rows", "3", "--seed", "4"]
    assert run_cli(generate.main, argv + ["--out", str(out)], capsys)[0] == 0
    shown = cells(gray(out), 3, 6)
    g_model = keras.models.load_model(model_dir / "model_000012.h5", compile=False)
    ends = generate.latent_points(100, 6, "normal", np.random.default_rng(4))  # the walks' ends, drawn as main draws
    made = 1 - (np.asarray(g_model.predict(ends, verbose=0))[..., 0] + 1) / 2  # black on white
    for row in range(3):
        assert np.abs(shown[row, 0] - made[2 * row]).max() <= 2 / 255
        assert np.abs(shown[row, -1] - made[2 * row + 1]).max() <= 2 / 255
        assert np.abs(shown[row, 2] - shown[row, 3]).max() > 0.01  # the middle moves on
    assert gray(out).shape == (2 * (3 * 29 + 1), 2 * (6 * 29 + 1))  # 3 rows of 6


def test_slerp_keeps_the_norm_between_the_ends_norms_where_a_straight_line_sags():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.standard_normal((2, 100))
        path = generate.interpolate(a, b, 11, "normal")
        np.testing.assert_allclose(path[0], a, rtol=1e-5)
        np.testing.assert_allclose(path[-1], b, rtol=1e-5)
        norms = np.linalg.norm(path, axis=1)
        low, high = sorted([np.linalg.norm(a), np.linalg.norm(b)])
        assert (norms >= 0.97 * low).all() and (norms <= 1.03 * high).all()
        line = generate.interpolate(a, b, 11, "uniform")  # the straight line, for a uniform latent
        assert np.linalg.norm(line[5]) < 0.85 * low  # two near-orthogonal 100-d points: the middle sags to ~0.7
    cube = generate.interpolate(np.full(4, -1.0), np.full(4, 1.0), 5, "uniform")
    np.testing.assert_allclose(cube[:, 0], [-1, -0.5, 0, 0.5, 1])


def test_progress_gif_has_a_frame_per_grid_in_step_order(lsgan_run, tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    run.mkdir()
    for step in (12, 6):  # written out of order; an unrelated png is left out
        shutil.copy(lsgan_run / f"generated_plot_{step:06d}.png", run / f"generated_plot_{step:06d}.png")
    shutil.copy(lsgan_run / "plot_line_plot_loss.png", run)
    out = tmp_path / "progress.gif"
    status, text, _ = run_cli(generate.main, ["--progress", str(run), "--out", str(out), "--fps", "2"], capsys)
    assert status == 0 and "2 frames, steps 6 to 12" in text
    with Image.open(out) as gif:
        assert gif.n_frames == 2 and gif.info["duration"] == 500
        frames = []
        for k in range(2):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("L"), "float32")[20:] / 255)  # below the step label
    for frame, step in zip(frames, (6, 12)):
        assert np.abs(frame - gray(lsgan_run / f"generated_plot_{step:06d}.png")).mean() < 0.02


@pytest.mark.parametrize("argv, message", [
    (["{model}", "--interpolate", "--steps", "1"], "--steps"),
    (["--progress", "{empty}"], "no generated_plot_*.png"),
    (["--progress", "{missing}"], "no such folder"),
    ([], "give a model"),
    (["{model}", "--progress", "{empty}"], "give a model"),
    (["{critic}", "--interpolate"], "not a generator"),
])
def test_bad_walks_and_progress_give_one_line_and_exit_2(argv, message, model_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    critic = tmp_path / "critic.h5"
    import wgan_mnist7

    wgan_mnist7.define_critic().save(critic)
    names = dict(model=model_dir / "model_000012.h5", empty=tmp_path / "empty", missing=tmp_path / "nope",
                 critic=critic)
    out = tmp_path / "out.png"
    status, _, err = run_cli(generate.main, [a.format(**names) for a in argv] + ["--out", str(out)], capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("flags, distribution", [([], "uniform"), (["--latent", "normal"], "normal")])
def test_a_grid_shows_the_generators_samples_of_the_latent_run_json_names(flags, distribution, mnist_npz, tmp_path,
                                                                           capsys):
    """A DCGAN-on-MNIST generator: run.json says uniform, --latent normal overrides it. Each of the
    grid's cells is the generator's image of the seed's latent points, drawn from that distribution."""
    import dcgan_mnist

    run = tmp_path / "run"
    assert run_cli(dcgan_mnist.main, ["--data", mnist_npz, "--out", str(run), "--steps", "1", "--batch-size", "4"],
                   capsys)[0] == 0
    out = tmp_path / "grid.png"
    argv = [str(run / "model_000001.h5"), "--grid", "3", "--seed", "7", "--out", str(out)] + flags
    assert run_cli(generate.main, argv, capsys)[0] == 0
    g_model = keras.models.load_model(run / "model_000001.h5", compile=False)
    z = generate.latent_points(100, 9, distribution, np.random.default_rng(7))
    made = 1 - np.asarray(g_model.predict(z, verbose=0))[..., 0]  # [0,1] (sigmoid), black on white
    shown = cells(gray(out), 3, 3).reshape(9, 28, 28)
    assert np.abs(shown - made).max() <= 2 / 255
    other = generate.latent_points(100, 9, "normal" if distribution == "uniform" else "uniform", np.random.default_rng(7))
    assert np.abs(shown - (1 - np.asarray(g_model.predict(other, verbose=0))[..., 0])).max() > 0.02  # it can tell


def test_every_cell_of_the_default_grid_is_a_sample_of_the_model(model_dir, capsys):
    out = model_dir / "grid.png"
    assert run_cli(generate.main, [str(model_dir / "model_000012.h5"), "--seed", "2", "--out", str(out)], capsys)[0] == 0
    g_model = keras.models.load_model(model_dir / "model_000012.h5", compile=False)
    z = generate.latent_points(100, 100, "normal", np.random.default_rng(2))
    made = 1 - (np.asarray(g_model.predict(z, verbose=0))[..., 0] + 1) / 2
    shown = cells(gray(out), 10, 10).reshape(100, 28, 28)
    assert np.abs(shown - made).max() <= 2 / 255
    assert len({cell.round(2).tobytes() for cell in shown}) == 100  # a hundred different samples


@pytest.mark.parametrize("out", ["{tmp}", "{tmp}/no/such/folder/grid.png"])
def test_a_bad_out_is_one_line_and_exit_2(out, model_dir, tmp_path, capsys):
    status, _, err = run_cli(generate.main, [str(model_dir / "model_000012.h5"), "--out", out.format(tmp=tmp_path)],
                             capsys)
    assert status == 2 and "--out" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
