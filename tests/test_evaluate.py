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
from conftest import run_cli, stand_in_inception


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


def test_inception_plumbing_with_a_weights_file(tmp_path, capsys):
    """CIFAR-10 shape, InceptionV3 with random weights from a file (their scores mean nothing), on
    10 images: fewer than its 2,048 features, so KID is the score and no FID is printed; the real
    features (2,048 each) are cached under the weights file's fingerprint."""
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
    assert "fid" not in real and real["n"] == generated["n"] == "10"
    assert all(np.isfinite(float(row["kid"])) for row in (real, generated))
    assert "needs at least 2048 images" in out and "best by KID" in out
    key = evaluate.file_fingerprint(weights)
    cached = sorted(name for name in os.listdir(tmp_path / "cache") if key in name)
    assert [name.split("-")[1] for name in cached] == ["test", "train"]
    with np.load(tmp_path / "cache" / cached[1]) as train:
        assert train["out0"].shape == (10, 2048)


@pytest.mark.parametrize("features, fid", [(8, True), (32, False)])
def test_an_fid_only_from_at_least_as_many_images_as_features(features, fid, tmp_path, monkeypatch):
    """A small stand-in feature network (its size picks the rule's side), 20 images: an FID when
    20 >= its features, said to be incomparable with published ones (fewer than 10,000); else KID."""
    monkeypatch.setattr(evaluate, "define_inception", stand_in_inception(features))
    x = np.random.default_rng(0).integers(0, 255, (40, 32, 32, 3)).astype("uint8")
    np.savez(tmp_path / "cifar.npz", x_train=x[:20], y_train=np.zeros((20, 1)), x_test=x[20:], y_test=np.zeros((20, 1)))
    log = []
    scorer = evaluate.Scorer("cifar10", str(tmp_path / "cifar.npz"), n=20, cache_dir=str(tmp_path / "c"), log=log.append)
    scores = scorer(dcgan_cifar10.define_generator(100))
    assert ("fid" in scores) == fid and scorer.metric == ("fid" if fid else "kid") and scores["n"] == 20
    assert any("biased high" in line for line in log) == fid
    assert any("KID is the score" in line for line in log) != fid


def test_fid_of_gaussians_with_different_diagonal_covariances_is_the_closed_form():
    """|mu1 - mu2|^2 + sum((sqrt(a) - sqrt(b))^2): the covariance term, not only the means."""
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 4.0, 6), rng.uniform(0.1, 4.0, 6)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert evaluate.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    # and for full covariances, rotated alike: FID does not depend on the basis
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = evaluate.frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-6)


def test_fid_of_two_non_commuting_covariances_matches_the_2x2_closed_form():
    """For 2x2 covariances, Tr sqrt(S1 S2) = sqrt(Tr(S1 S2) + 2 sqrt(det S1 det S2)): a check of the
    covariance term where S1 and S2 do not commute (so sqrt(S1) sqrt(S2) would be wrong)."""
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[1.0, -0.6], [-0.6, 3.0]])
    mu1, mu2 = np.array([0.5, -1.0]), np.array([1.5, 0.0])
    trace_sqrt = np.sqrt(np.trace(s1 @ s2) + 2 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert evaluate.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_singular_covariances_takes_the_offset_branch_and_stays_finite(monkeypatch):
    """Rank-deficient covariances: sqrtm of their product is singular (scipy warns), so frechet_distance
    takes it again with 1e-6 on the diagonals (a second sqrtm); the result is finite, near the closed form."""
    calls, sqrtm = [], evaluate.linalg.sqrtm
    monkeypatch.setattr(evaluate.linalg, "sqrtm", lambda m: calls.append(m) or sqrtm(m))
    a, b = np.array([1.0, 4.0, 0.0, 0.0]), np.array([9.0, 0.0, 1.0, 0.0])
    fid = evaluate.frechet_distance(np.zeros(4), np.diag(a), np.ones(4), np.diag(b))
    assert len(calls) == 2 and np.diag(calls[1]).min() > 0  # the offset branch
    assert np.isfinite(fid) and fid == pytest.approx(4.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(), abs=1e-2)


def test_kid_of_two_constant_sets_is_the_kernel_by_hand():
    """Every x equal to u, every y to v: the unbiased MMD^2 is k(u,u) + k(v,v) - 2 k(u,v), with
    k(x, y) = (x.y / d + 1)^3."""
    u, v = np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, -1.0])
    k = lambda x, y: (x @ y / 3 + 1) ** 3  # noqa: E731
    kid = evaluate.kernel_distance(np.tile(u, (50, 1)), np.tile(v, (40, 1)), n_subsets=3, subset_size=20)
    assert kid == pytest.approx(k(u, u) + k(v, v) - 2 * k(u, v), rel=1e-12)
    assert evaluate.kernel_distance(np.tile(u, (50, 1)), np.tile(u, (40, 1)), 3, 20) == pytest.approx(0, abs=1e-12)


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


def test_the_metric_follows_the_images_really_scored_and_out_is_made(tmp_path, capsys, monkeypatch):
    """640 training images and --n 2100: 2,100 generated but only 640 real, fewer than the 2,048
    features on one side, so KID is the score (said so), no FID, exit 0; --out is made as the
    training scripts make theirs."""
    monkeypatch.setattr(evaluate, "define_inception", lambda in_shape, weights: keras.Sequential(
        [keras.Input(in_shape), keras.layers.Flatten(), keras.layers.Dense(2048)]))  # 2,048 features, quickly
    x = np.random.default_rng(0).integers(0, 255, (700, 32, 32, 3)).astype("uint8")
    np.savez(tmp_path / "cifar.npz", x_train=x[:640], y_train=np.zeros((640, 1)), x_test=x[640:], y_test=np.zeros((60, 1)))
    model = tmp_path / "model_000001.h5"
    dcgan_cifar10.define_generator(100).save(model)
    out = tmp_path / "new" / "scores"
    status, text, err = run_cli(evaluate.main, [str(model), "--dataset", "cifar10", "--data", str(tmp_path / "cifar.npz"),
                                                "--n", "2100", "--out", str(out), "--cache", str(tmp_path / "c")], capsys)
    assert status == 0, err
    assert "Traceback" not in err and "with 2100 generated against 640 real, KID is the score" in text
    with open(out / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all("fid" not in row and np.isfinite(float(row["kid"])) for row in rows)
    assert "best by KID (Keras InceptionV3)" in text


def test_the_digit_classifier_leaves_the_callers_random_state_alone():
    """Training it (the first --eval-every of an unseeded run does) reseeds nothing, and draws nothing
    from the caller's Python and NumPy random state, nor, on Keras 3.15, from the backend's."""
    import random

    x, y = tiny_digits(200)
    keras.utils.set_random_seed(0)
    reseeded = keras.ops.convert_to_numpy(keras.random.uniform((4,)))
    keras.utils.set_random_seed(5)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    evaluate.train_classifier(x, y, None, None, epochs=1)
    assert random.getstate() == python_state
    now = np.random.get_state()
    assert now[0] == numpy_state[0] and np.array_equal(now[1], numpy_state[1]) and now[2] == numpy_state[2]
    after = keras.ops.convert_to_numpy(keras.random.uniform((4,)))
    assert not np.allclose(after, reseeded)  # the backend was not reseeded
    if tuple(int(n) for n in keras.__version__.split(".")[:2]) >= (3, 15):  # nor drawn from (Keras 3.8 draws
        # from its global generator while building layers, seeded or not; 3.15 does not)
        keras.utils.set_random_seed(5)
        np.testing.assert_array_equal(after, keras.ops.convert_to_numpy(keras.random.uniform((4,))))


def smooth_images(n, side, channels, seed=0):
    """Photo-like uint8 images: a few soft blobs of colour on a gradient, and a fine stripe texture a few pixels
    wide at any size (a photo's detail), each image its own."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    x = np.empty((n, side, side, channels), np.float32)
    for k in range(n):
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 8) / side
        stripes = np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
        image = rng.uniform(0, 80, channels) + 60 * yy[..., None] * rng.uniform(-1, 1, channels)
        image = image + 30 * stripes[..., None]
        for _ in range(4):
            cy, cx, r = rng.uniform(0, 1, 3) * (1, 1, 0.3) + (0, 0, 0.05)
            image = image + rng.uniform(0, 170, channels) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)[..., None]
        x[k] = image
    return np.clip(x, 0, 255).astype("uint8")


@pytest.mark.parametrize("side, channels", [(28, 1), (32, 3), (64, 3), (128, 1)])
def test_swd_is_zero_on_identical_sets_and_grows_with_the_damage(side, channels):
    """ProGAN's SWD (metrics/sliced_wasserstein.py; its values on real CIFAR-10 folders: docs/evaluation.md): 0 for a
    set against itself at every level; more noise or more blur scores worse (the mean over levels: one level alone
    saturates, as each set is normalised by its own spread), shifted by 2 pixels better than the worst of those;
    levels as ProGAN's."""
    from scipy import ndimage

    real = smooth_images(60, side, channels)
    reference = evaluate.swd_descriptors(real)
    levels = [f"swd_{r}" for r in evaluate.swd_resolutions(side)]
    assert levels == [f"swd_{side >> k}" for k in range(len(levels))]  # the side, halved down to 16 (28: itself)
    assert side >> (len(levels) - 1) >= 16 and side >> len(levels) < 16 or levels == ["swd_28"]

    def swd(images):
        scores = evaluate.swd_scores(reference, evaluate.swd_descriptors(images), side)
        assert list(scores) == levels + ["swd"] and scores["swd"] == pytest.approx(np.mean([scores[k] for k in levels]))
        return scores

    assert all(value == 0.0 for value in swd(real.copy()).values())
    rng = np.random.default_rng(1)
    noisy = [swd(np.clip(real + rng.normal(0, s, real.shape), 0, 255).astype("uint8")) for s in (4, 16, 48)]
    blurred = [swd(ndimage.gaussian_filter(real, sigma=(0, s, s, 0))) for s in (0.7, 1.5, 3.0)]
    for damaged in (noisy, blurred):
        mean = [scores["swd"] for scores in damaged]
        assert 0 < mean[0] < mean[1] < mean[2], mean
    assert swd(smooth_images(60, side, channels, seed=2))["swd"] > 0  # other images of the same kind
    shifted = swd(np.roll(real, 2, axis=(1, 2)))["swd"]  # the same patches, mostly, at other places
    assert 0 < shifted < min(noisy[2]["swd"], blurred[2]["swd"])


def test_metric_swd_scores_folders_and_generators_against_a_folder_offline(tmp_path, capsys, monkeypatch):
    """evaluate.py --metric swd: a folder of images, and a generator, against a folder; no network touched. Each row
    has the nearest-neighbour ratio against the real images' ("nearest"): about 1 for other images of the kind; two
    pictures and blends of them under the collapse guard's 0.5, which their line says."""
    from PIL import Image

    monkeypatch.setattr(keras.applications, "InceptionV3", None)  # any use of Inception would fail
    real, other = smooth_images(40, 32, 3), smooth_images(40, 32, 3, seed=3)
    share = np.linspace(0.0, 1.0, 40)[:, None, None, None]
    blended = np.round(share * other[0] + (1.0 - share) * other[1]).astype("uint8")
    for name, images in (("real", real), ("other", other), ("blended", blended)):
        (tmp_path / name).mkdir()
        for k, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / name / f"{k}.png")
    generator = dcgan_cifar10.define_generator(8)
    generator.save(tmp_path / "model_000010.h5")
    argv = [str(tmp_path / "other"), str(tmp_path / "model_000010.h5"), str(tmp_path / "blended"), "--data",
            str(tmp_path / "real"), "--metric", "swd", "--n", "40", "--cache", str(tmp_path / "cache"), "--out",
            str(tmp_path / "scores")]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    with open(tmp_path / "scores" / "scores.csv", newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert set(rows[str(tmp_path / "other")]) >= {"swd", "swd_32", "swd_16", "nearest"}
    assert 0.8 < float(rows[str(tmp_path / "other")]["nearest"]) < 1.2
    assert float(rows[str(tmp_path / "blended")]["nearest"]) < 0.3
    lines = {line.split(": ")[0]: line for line in out.splitlines() if line.startswith(str(tmp_path))}
    assert "likely a few pictures and blends of them" in lines[str(tmp_path / "blended")]
    assert "likely a few" not in lines[str(tmp_path / "other")]
    assert "nearest" in out.split("\n\n")[1].splitlines()[0]  # a column of the table
    assert float(rows[str(tmp_path / "other")]["swd"]) < float(rows[str(tmp_path / "model_000010.h5")]["swd"])
    assert f"best by SWD (sliced Wasserstein, x 1e3): {tmp_path / 'other'}" in out
    status, _, err = run_cli(evaluate.main, [str(tmp_path / "other"), "--data", str(tmp_path / "real"), "--metric",
                                             "swd", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "o2")],
                             capsys)
    assert status == 2 and "give --image-size N" in err and len(err.strip().splitlines()) == 1
