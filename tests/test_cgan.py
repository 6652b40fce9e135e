"""The conditional GAN: it trains on labelled data (an .npz's y_train, or a folder whose subfolders are the classes),
draws a row per class, and generate.py and evaluate.py draw and score the class asked for."""

import inspect
import json
import os

import numpy as np
import pytest

import cgan_mnist
import evaluate
import generate
from conftest import run_cli

ROWS = {k: slice(2 * k + 4, 2 * k + 7) for k in range(10)}  # class k: a bar across these rows


def patterns(n, seed=0):
    """uint8 images of class k (k = 0..9, n of each kind in turn): a bright bar at ROWS[k], on faint noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, (n, 28, 28)).astype("uint8")
    y = np.arange(n) % 10
    for k, label in enumerate(y):
        x[k, ROWS[label], 4:24] = 255
    return x, y.astype("uint8")


def pattern_generator(follow=True):
    """A conditional generator of the cGAN's form, (latent point, label) -> image through an Embedding: it draws
    its label's bar (follow) or always class 0's, whatever the latent point."""
    import keras
    from keras import layers

    z, label = keras.Input((cgan_mnist.LATENT_DIM,)), keras.Input((1,), dtype="int32")
    table = layers.Embedding(10, 28 * 28)
    drawn = layers.Reshape((28, 28, 1))(table(label))
    ignored = layers.Reshape((28, 28, 1))(layers.Dense(28 * 28, kernel_initializer="zeros", use_bias=False)(z))
    model = keras.Model([z, label], layers.Add()([drawn, ignored]), name="generator")
    x, _ = patterns(10)
    rows = x.reshape(10, -1).astype("float32") / 127.5 - 1.0  # in tanh's range
    table.set_weights([rows if follow else np.repeat(rows[:1], 10, axis=0)])
    return model


def test_labels_are_drawn_over_every_class_the_last_included():
    np.random.seed(0)
    _, labels = cgan_mnist.generate_latent_points(cgan_mnist.LATENT_DIM, 5000, 10)
    counts = np.bincount(labels, minlength=11)
    assert counts[10] == 0 and counts[:10].min() > 400  # 0 to 9, each about 500 times (randint(0, 9) drew no 9)


def test_the_grid_has_a_row_per_class(tmp_path, monkeypatch):
    asked = []

    class Generator:
        def predict_on_batch(self, inputs):
            asked.append(inputs[1])
            return np.zeros((len(inputs[0]), 28, 28, 1), "float32")

    monkeypatch.setattr(cgan_mnist, "save_model", lambda model, path: None)
    cgan_mnist.summarize_performance(9, Generator(), cgan_mnist.LATENT_DIM, n_classes=3, out_dir=str(tmp_path))
    assert asked[0].tolist() == [0] * 10 + [1] * 10 + [2] * 10  # row k: class k
    from PIL import Image

    with Image.open(tmp_path / "generated_plot_000010.png") as grid:
        assert grid.size == (2 * (10 * 29 + 1), 2 * (3 * 29 + 1))  # 10 columns, 3 rows


def test_a_short_run_on_mnist_records_its_classes(tmp_path, mnist_npz, capsys):
    out = tmp_path / "run"
    argv = ["--data", mnist_npz, "--out", str(out), "--epochs", "2", "--batch-size", "16", "--seed", "1"]
    status, stdout, err = run_cli(cgan_mnist.main, argv, capsys)
    assert status == 0, err
    info = json.loads((out / "run.json").read_text())
    assert info["classes"] == [str(k) for k in range(10)] and info["n_classes"] == 10
    assert sorted(n for n in os.listdir(out) if n.startswith("model_")) == ["model_000006.h5", "model_000012.h5"]
    model = generate.load_generator(str(out / "model_000012.h5"))
    assert generate.classes_of(model) == 10


def grey_pngs(folder, n, seed=0):
    from PIL import Image

    folder.mkdir(parents=True)
    x, _ = patterns(n, seed)
    for k, image in enumerate(x):
        Image.fromarray(image).save(folder / f"{k}.png")


def test_a_folder_whose_subfolders_are_the_classes(tmp_path, capsys):
    photos = tmp_path / "photos"
    grey_pngs(photos / "dogs", 16)
    grey_pngs(photos / "cats", 16, seed=1)
    grey_pngs(photos / "stray", 1)
    (photos / "stray" / "0.png").rename(photos / "stray.png")  # an image outside the classes' subfolders
    (photos / "stray").rmdir()
    out = tmp_path / "run"
    argv = ["--data", str(photos), "--out", str(out), "--epochs", "1", "--batch-size", "16", "--seed", "1"]
    status, stdout, err = run_cli(cgan_mnist.main, argv, capsys)
    assert status == 0, err
    assert "32 images decoded at 28x28 in 2 classes (1 image outside their subfolders left out)" in stdout
    info = json.loads((out / "run.json").read_text())
    assert info["classes"] == ["cats", "dogs"] and info["n_classes"] == 2  # sorted, as Keras numbers them
    model = str(out / "model_000002.h5")
    assert run_cli(generate.main, [model, "--label", "dogs", "--out", str(tmp_path / "dogs.png")], capsys)[0] == 0
    status, _, err = run_cli(generate.main, [model, "--label", "birds", "--out", str(tmp_path / "b.png")], capsys)
    assert status == 2 and err.strip().splitlines() == [
        f"generate.py: error: --label birds: {model} draws the classes cats, dogs (a name, or an index from 0)"]


@pytest.mark.parametrize("layout, said", [
    ("flat", "no subfolders of images; a conditional GAN learns two classes or more"),
    ("one", "one subfolder of images; a conditional GAN learns two classes or more"),
])
def test_a_folder_without_two_classes_is_refused_in_one_line(tmp_path, capsys, layout, said):
    photos = tmp_path / "photos"
    grey_pngs(photos if layout == "flat" else photos / "cats", 16)
    status, _, err = run_cli(cgan_mnist.main, ["--data", str(photos), "--out", str(tmp_path / "run")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and said in err, err
    assert not (tmp_path / "run").exists()


def test_generate_draws_the_class_asked_for(tmp_path, capsys):
    path = tmp_path / "model_000100.h5"
    pattern_generator().save(path)
    x, _ = patterns(10)
    for args, expected in ((["--label", "3", "--grid", "2"], [3] * 4), ([], [k for k in range(10) for _ in range(10)]),
                           (["--images", str(tmp_path / "each"), "--n", "12"], [k % 10 for k in range(12)])):
        out = tmp_path / "grid.png"
        status, _, err = run_cli(generate.main, [str(path), "--out", str(out)] + args, capsys)
        assert status == 0, err
        if "--images" in args:
            from PIL import Image

            drawn = [np.asarray(Image.open(tmp_path / "each" / f"{k + 1:06d}.png")) for k in range(12)]
        else:
            drawn = grid_images(out, len(expected), 2 if "--grid" in args else 10)
        for image, label in zip(drawn, expected):
            rows = image.reshape(28, 28).mean(axis=1)
            bright = np.nonzero(rows > 128 if "--images" in args else rows < 128)[0]  # a grid draws the bar dark
            assert bright.min() == ROWS[label].start and bright.max() == ROWS[label].stop - 1, label


def grid_images(path, n, columns):
    """The images of a grid PNG save_grid wrote (scale 2, a one-pixel border), grey."""
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), "float32")[::2, ::2]
    return [pixels[1 + (k // columns) * 29 : 1 + (k // columns) * 29 + 28, 1 + (k % columns) * 29 :
                   1 + (k % columns) * 29 + 28] for k in range(n)]


def test_label_on_a_generator_of_no_classes_is_refused(tmp_path, lsgan_run, capsys):
    model = str(lsgan_run / "model_000012.h5")
    status, _, err = run_cli(generate.main, [model, "--label", "3", "--out", str(tmp_path / "g.png")], capsys)
    assert status == 2 and err.strip().splitlines() == [
        f"generate.py: error: --label: {model} is not a conditional generator (it draws no classes; cgan_mnist.py's "
        "do)"]


def test_evaluate_scores_the_agreement_with_the_asked_digit(tmp_path, capsys):
    x, y = patterns(3000)
    x_test, y_test = patterns(200, seed=1)
    data = tmp_path / "patterns.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    for name, follow in (("follows", True), ("ignores", False)):
        pattern_generator(follow).save(tmp_path / f"{name}.h5")
    argv = [str(tmp_path / "follows.h5"), str(tmp_path / "ignores.h5"), "--dataset", "mnist", "--data", str(data),
            "--no-inception", "--n", "1500", "--out", str(tmp_path / "scores")]
    status, stdout, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    import csv

    with open(tmp_path / "scores" / "scores.csv", encoding="utf-8") as f:
        rows = {os.path.basename(r["model"]): r for r in csv.DictReader(f)}
    assert float(rows["follows.h5"]["agreement"]) == 1.0
    assert float(rows["ignores.h5"]["agreement"]) == pytest.approx(0.1, abs=0.01)  # only its 0s agree
    assert float(rows["ignores.h5"]["agreement_0"]) == 1.0 and float(rows["ignores.h5"]["agreement_7"]) == 0.0
    # 150 samples of each class (and about as many real ones), more than the classifier's 128 features: a FID each
    assert float(rows["follows.h5"]["cfid_3"]) < float(rows["ignores.h5"]["cfid_3"])
    assert "agreement per asked digit: 0 100%, 1 100%" in stdout


@pytest.mark.parametrize("flags, real_label, mismatch", [([], 0.9, True), (["--no-mismatched-labels"], 0.9, False),
                                                          (["--no-label-smoothing", "--no-mismatched-labels"], 1.0, False)])
def test_the_defaults_smooth_the_real_targets_and_show_real_images_with_wrong_labels_as_fakes(
        tmp_path, mnist_npz, capsys, monkeypatch, flags, real_label, mismatch):
    """The defaults depart from the tutorial, whose run collapses on MNIST (docs/cgan_mnist.md): the discriminator's
    update on real images has targets 0.9 and, as many again as half of them, the same images with a wrong label,
    target 0.0. Two flags give the tutorial's: 1.0, its images and labels only."""
    given = []
    define_discriminator = cgan_mnist.define_discriminator

    def spied(*args, **kwargs):
        model = define_discriminator(*args, **kwargs)
        train_on_batch = model.train_on_batch
        model.train_on_batch = lambda x, y: given.append((x, y)) or train_on_batch(x, y)
        return model

    monkeypatch.setattr(cgan_mnist, "define_discriminator", spied)
    out = tmp_path / "run"
    argv = ["--data", mnist_npz, "--out", str(out), "--max-steps", "2", "--batch-size", "16", "--seed", "1"] + flags
    assert run_cli(cgan_mnist.main, argv, capsys)[0] == 0
    with np.load(mnist_npz) as data:
        x_train, y_train = data["x_train"], data["y_train"]
    assert len(given) == 2
    for (images, labels), y in given:  # the real images' update: 8 images with their labels, 4 with wrong ones
        assert len(images) == (12 if mismatch else 8) and (y[:8] == real_label).all() and (y[8:] == 0.0).all()
        pixels = np.rint(images[..., 0] * 127.5 + 127.5).astype("uint8")
        found = [np.flatnonzero((x_train == image).all(axis=(1, 2))) for image in pixels]
        truth = [set(y_train[k].tolist()) for k in found]
        assert all(label in truth[k] for k, label in enumerate(labels[:8]))
        assert not mismatch or ((pixels[8:] == pixels[:4]).all() and (labels[8:] != labels[:4]).all())  # relabelled
    assert json.loads((out / "run.json").read_text())["real_label"] == real_label
    assert cgan_mnist.N_BATCH == 128 and inspect.signature(cgan_mnist.train).parameters["real_label"].default == 0.9
    assert inspect.signature(cgan_mnist.train).parameters["mismatch"].default is True  # the loop called by hand too
    seen = []

    class Model:
        name = "gan"

        def train_on_batch(self, x, y):
            seen.append(y)
            return 0.0

    cgan_mnist.train_generator(Model(), cgan_mnist.LATENT_DIM, 8)  # the generator's targets stay at 1.0
    assert (seen[0] == 1.0).all()
