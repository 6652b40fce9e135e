"""evaluate.py: the metrics against known answers, the digit classifier path, the cache, the
command line. Tiny data: ten digit-like patterns a classifier learns in seconds."""

import csv
import os

import numpy as np
import pytest

import keras
import evaluate
import dcgan_cifar10
import wgan_mnist7
from conftest import run_cli


def tiny_digits(n, seed=0):
    """Digit d is a bright block at its own place in a 2x5 layout, with jitter and noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 40, (n, 28, 28)).astype("uint8")
    for k, d in enumerate(y):
        r, c = 2 + 13 * (d // 5), 1 + 5 * (d % 5)
        x[k, r + rng.integers(0, 3) : r + 9, c : c + 4] = 255
    return x, y.astype("uint8")


def one_image_generator(image, latent_dim=8):
    """A 'generator' whose every sample is image (uint8, 28x28), in [-1,1] as tanh outputs."""
    z = keras.Input((latent_dim,))
    x = keras.layers.Dense(28 * 28, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(image.reshape(-1) / 127.5 - 1.0))(z)
    return keras.Model(z, keras.layers.Reshape((28, 28, 1))(x))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(data file, cache folder) with the classifier trained once, by the first Scorer."""
    tmp = tmp_path_factory.mktemp("digits")
    x, y = tiny_digits(1000)
    xt, yt = tiny_digits(200, seed=1)
    path = tmp / "digits.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    cache = tmp / "cache"
    evaluate.Scorer("mnist", str(path), n=200, inception=False, cache_dir=str(cache), log=lambda _: None)
    return str(path), str(cache)


def gaussian(n, d, shift=0.0, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def test_fid_of_a_set_against_itself_is_zero():
    stats = evaluate.statistics(gaussian(500, 16))
    assert abs(evaluate.frechet_distance(*stats, *stats)) < 1e-6


def test_fid_grows_with_a_gaussian_shift_as_its_formula_says():
    ref = evaluate.statistics(gaussian(4000, 8))
    fids = [evaluate.frechet_distance(*evaluate.statistics(gaussian(4000, 8, s, seed=1)), *ref) for s in (0, 0.5, 1, 2)]
    assert fids == sorted(fids) and fids[0] < 0.05
    for fid, s in zip(fids[1:], (0.5, 1, 2)):
        assert fid == pytest.approx(8 * s * s, rel=0.1)  # identity covariances: FID = ||shift||^2


def test_kid_is_unbiased():
    """Two samples of one distribution: KID about 0 (a biased MMD estimate would be clearly positive)."""
    same = [evaluate.kernel_distance(gaussian(200, 8, seed=s), gaussian(200, 8, seed=100 + s), 20, 100, s)
            for s in range(5)]
    shifted = evaluate.kernel_distance(gaussian(200, 8), gaussian(200, 8, 0.5, seed=1), 20, 100)
    assert abs(np.mean(same)) < 0.02 * shifted
    assert min(same) < 0 < max(same)


def test_digit_scores_coverage_and_kl():
    every = np.eye(10)[np.arange(1000) % 10]
    scores = evaluate.digit_scores(every)
    assert scores["coverage"] == 10 and scores["kl"] == pytest.approx(0) and scores["top_p"] == 1
    one = evaluate.digit_scores(np.eye(10)[np.full(100, 3)], digit=3)
    assert one["coverage"] == 1 and one["kl"] == pytest.approx(np.log(10)) and one["share_3"] == 1


def test_classifier_covers_real_digits_and_sees_a_one_digit_generator(digits):
    path, cache = digits
    scorer = evaluate.Scorer("mnist", path, n=200, inception=False, cache_dir=cache, log=lambda _: None)
    assert scorer.classifier_accuracy >= 0.99
    floor = scorer.score_floor()
    assert floor["coverage"] == 10 and floor["kl"] < 0.05 and floor["cfid"] < 5
    x, _ = tiny_digits(10)
    scores = scorer(one_image_generator(x[3]))
    assert scores["coverage"] == 1 and scores["digit_3"] == 1 and scores["cfid"] > 10 * floor["cfid"]
    sevens = evaluate.Scorer("mnist7", path, n=200, inception=False, cache_dir=cache, log=lambda _: None)
    assert sevens(one_image_generator(x[7]))["share_7"] == 1
    assert sevens(one_image_generator(x[3]))["share_7"] == 0


def test_the_cache_is_reused(digits, monkeypatch):
    path, cache = digits
    before = {name: os.path.getmtime(os.path.join(cache, name)) for name in os.listdir(cache)}
    monkeypatch.setattr(evaluate, "train_classifier", pytest.fail)
    monkeypatch.setattr(evaluate, "run_features", pytest.fail)  # no pass over real images either
    log = []
    scorer = evaluate.Scorer("mnist", path, n=200, inception=False, cache_dir=cache, log=log.append)
    scorer.score_floor()
    assert sum("cached" in line for line in log) == 3  # classifier, train and test features
    assert {name: os.path.getmtime(os.path.join(cache, name)) for name in os.listdir(cache)} == before


def test_command_line_scores_every_checkpoint_and_names_the_best(digits, lsgan_run, tmp_path, capsys):
    path, cache = digits
    pattern = str(lsgan_run / "model_*.h5")  # quoted glob: evaluate.py expands it
    argv = [pattern, "--dataset", "mnist", "--data", path, "--n", "100", "--no-inception", "--cache", cache,
            "--out", str(tmp_path)]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    with open(tmp_path / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["", "6", "12"]  # the real test images first, then by step
    assert {"cfid", "coverage", "kl", "top_p", "digit_0"} <= set(rows[0])
    best = min(rows[1:], key=lambda r: float(r["cfid"]))
    assert f"best by classifier FID: {best['model']}" in out
    assert (tmp_path / "scores.png").stat().st_size > 0
    # A second run refuses to replace the scores unless asked to.
    status, _, err = run_cli(evaluate.main, argv, capsys)
    assert status == 2 and "--overwrite" in err


def test_inception_plumbing_with_a_weights_file(tmp_path, capsys, monkeypatch):
    """CIFAR-10 shape, InceptionV3 with random weights from a file (their scores mean nothing):
    FID and KID come out for the real test images and the generator, from 2048 features, and
    the real features are cached under the weights file's fingerprint. (The FID itself is
    tested above; sqrtm of 2048x2048 matrices would cost this test half a minute.)"""
    dims = []
    monkeypatch.setattr(evaluate, "frechet_distance",
                        lambda mu1, s1, mu2, s2: dims.append(s1.shape) or float(((mu1 - mu2) ** 2).sum()))
    x = np.random.default_rng(0).integers(0, 255, (30, 32, 32, 3)).astype("uint8")
    data = tmp_path / "cifar.npz"
    np.savez(data, x_train=x[:20], y_train=np.zeros((20, 1)), x_test=x[20:], y_test=np.zeros((10, 1)))
    weights = tmp_path / "notop.weights.h5"
    keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(weights)
    g_model = dcgan_cifar10.define_generator(100)
    model = tmp_path / "model_000001.h5"
    g_model.save(model)
    argv = [str(model), "--dataset", "cifar10", "--data", str(data), "--n", "10", "--inception-weights",
            str(weights), "--cache", str(tmp_path / "cache")]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    with open(tmp_path / "scores.csv", newline="") as f:
        real, generated = csv.DictReader(f)
    assert all(np.isfinite(float(row[m])) for row in (real, generated) for m in ("fid", "kid"))
    assert dims == [(2048, 2048)] * 2
    assert "best by FID" in out
    key = evaluate.file_fingerprint(weights)
    assert sorted(name.split("-")[1] for name in os.listdir(tmp_path / "cache") if key in name) == ["test", "train"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("critic", "not a generator"),
        ("cifar", "are (28, 28, 1)"),
        ("weights", "no such file"),
        ("glob", "matches no file"),
        ("data", "no such data file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(case, message, digits, lsgan_run, tmp_path, capsys):
    path, cache = digits
    model = str(lsgan_run / "model_000012.h5")
    argv = {
        "critic": [str(tmp_path / "critic.h5")],
        "cifar": [str(tmp_path / "cifar.h5")],
        "weights": [model, "--inception-weights", str(tmp_path / "none.h5")],
        "glob": [str(tmp_path / "model_*.h5")],
        "data": [model, "--data", str(tmp_path / "none.npz")],
    }[case]
    if case == "critic":
        wgan_mnist7.define_critic().save(tmp_path / "critic.h5")
    if case == "cifar":
        dcgan_cifar10.define_generator(100).save(tmp_path / "cifar.h5")
    argv = argv + ["--dataset", "mnist", "--cache", cache, "--out", str(tmp_path)]
    if case != "data":
        argv += ["--data", path]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "scores.csv").exists()
