"""evaluate.py --fid torch-fidelity: the published FID's network (the TTUR Inception graph, as torch-fidelity
ports it), an optional install. No network here, so the plumbing runs on a weights file the tests make
(random weights: the scores mean nothing), and the formulas are checked against this project's own on
features. Without torch-fidelity these tests are skipped but the refusal is tested; CI installs it."""

import csv
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import dcgan_cifar10
import evaluate
from conftest import OPTIONAL, ROOT, backend_env, run_cli

# Skipped without torch-fidelity (said in the summary), except in CI, which installs it (conftest.needs).
needs_torch_fidelity = pytest.mark.skipif(
    importlib.util.find_spec("torch_fidelity") is None and not os.environ.get("KERAS_GANS_CI"),
    reason=f"torch_fidelity is not installed ({OPTIONAL['torch_fidelity']}; requirements-dev.txt leaves it out)")


def gaussian(n, d, scale, shift, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ np.diag(scale) + shift


def cifar_files(tmp_path, n_test=10):
    """(a CIFAR-10-shaped .npz of 20 random training images and n_test test ones, an untrained CIFAR-10
    DCGAN generator's .h5)."""
    x = np.random.default_rng(0).integers(0, 256, (20 + n_test, 32, 32, 3)).astype("uint8")
    np.savez(tmp_path / "cifar.npz", x_train=x[:20], y_train=np.zeros((20, 1)), x_test=x[20:],
             y_test=np.zeros((n_test, 1)))
    dcgan_cifar10.define_generator(100).save(tmp_path / "model_000001.h5")
    return str(tmp_path / "cifar.npz"), str(tmp_path / "model_000001.h5")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A torch-fidelity Inception weights file with random weights, He-scaled so that the features
    do not shrink to nothing through its 94 layers (PyTorch's default initialisation shrinks them to
    ~1e-7, where every score is 0 and a broken pipe would go unseen)."""
    import torch

    torch_fidelity = evaluate.import_torch_fidelity()

    class Unloaded(torch_fidelity.FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):  # keep the random initial weights
            pass

    tmp = tmp_path_factory.mktemp("ttur")
    torch.save({}, tmp / "empty.pth")
    torch.manual_seed(0)
    network = Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(tmp / "empty.pth"))
    for module in network.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(network.state_dict(), tmp / "random.pth")
    return str(tmp / "random.pth")


@needs_torch_fidelity
def test_importing_it_after_tensorflow_does_not_crash():
    """TensorFlow 2.20+ then triton (which torchvision's import loads where PyTorch has it) segfaults
    (tensorflow/tensorflow#124205): import_torch_fidelity keeps triton out. In a fresh process, TensorFlow
    loaded and run first, as evaluate.py does it, and PyTorch still computes afterwards."""
    code = ("import keras, evaluate; keras.ops.convert_to_numpy(keras.ops.add(1, 2)); "
            "evaluate.import_torch_fidelity(); import torch; print('sum', int(torch.ones(3).sum()))")
    done = subprocess.run([sys.executable, "-c", code], env=backend_env("tensorflow"), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "sum 3" in done.stdout, done.stderr[-2000:]


@needs_torch_fidelity
def test_the_formulas_agree_with_this_projects_on_features():
    """FID: torch-fidelity's (TTUR's eigenvalue form) equals frechet_distance (scipy's sqrtm) on the same
    features. KID: with subsets of every sample (which subsets are drawn then cannot matter), its mean
    equals kernel_distance's. torch_fidelity_scores, which feeds it float32 as its extractor gives them,
    agrees to float32's precision."""
    import torch

    evaluate.import_torch_fidelity()  # first: in this process TensorFlow came first
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    f1 = gaussian(400, 16, np.linspace(0.5, 2.0, 16), 0.0, seed=1)
    f2 = gaussian(300, 16, np.linspace(2.0, 0.5, 16), 0.3, seed=2) @ np.linalg.qr(np.ones((16, 16)) + np.eye(16))[0]
    ours = evaluate.frechet_distance(*evaluate.statistics(f1), *evaluate.statistics(f2))
    stats = [fid_features_to_statistics(torch.from_numpy(f)) for f in (f1, f2)]
    theirs = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert ours > 1.0 and theirs == pytest.approx(ours, rel=1e-9)
    ours_kid = evaluate.kernel_distance(f1[:300], f2, n_subsets=3, subset_size=300)
    theirs_kid = kid_features_to_metric(torch.from_numpy(f1[:300]), torch.from_numpy(f2), kid_subsets=3,
                                        kid_subset_size=300, verbose=False)["kernel_inception_distance_mean"]
    assert ours_kid > 0.01 and theirs_kid == pytest.approx(ours_kid, rel=1e-9)
    scores = evaluate.torch_fidelity_scores(f1, f2)
    assert scores["fid_ttur"] == pytest.approx(ours, rel=1e-4)
    assert set(scores) == {"fid_ttur", "kid_ttur"} and set(evaluate.torch_fidelity_scores(f1, f2, fid=False)) == {"kid_ttur"}


@needs_torch_fidelity
def test_the_network_sees_the_datasets_own_bytes(weights, monkeypatch):
    """What reaches torch-fidelity's network is 8-bit RGB, channels first: a grey real image scaled to
    [0,1] as the scorer scales it comes back as its own bytes in all three channels; a generated value
    between two levels is rounded to the nearer."""
    network = evaluate.TorchFidelityInception(weights)
    seen = []
    run = network.network.forward
    monkeypatch.setattr(network.network, "forward", lambda x: seen.append(x.cpu().numpy()) or run(x))
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype("uint8")
    features = network.predict_on_batch(evaluate.to_unit(x))
    assert seen[0].dtype == np.uint8 and seen[0].shape == (3, 3, 28, 28)
    assert all(np.array_equal(seen[0][:, c], x[..., 0]) for c in range(3))
    assert features.shape == (3, 2048) and np.isfinite(features).all() and features.std(axis=0).max() > 1e-3
    network.predict_on_batch(np.full((1, 28, 28, 1), 100.6 / 255, "float32"))  # a generated image: rounded
    assert (seen[1] == 101).all()


@needs_torch_fidelity
def test_command_line_plumbing_with_a_weights_file(weights, tmp_path, capsys):
    """CIFAR-10 shape, 10 images: fewer than the 2,048 features, so KID is the score, under its own
    column and name; the real features are cached under the weights file's fingerprint."""
    data, model = cifar_files(tmp_path)
    argv = [model, "--dataset", "cifar10", "--data", data, "--n", "10", "--fid", "torch-fidelity",
            "--inception-weights", weights, "--cache", str(tmp_path / "cache")]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    with open(tmp_path / "scores.csv", newline="") as f:
        real, generated = csv.DictReader(f)
    assert "fid_ttur" not in real and "fid" not in real and "kid" not in real
    assert np.isfinite(float(real["kid_ttur"])) and float(generated["kid_ttur"]) > 0
    assert "best by KID (TTUR Inception, torch-fidelity)" in out
    key = evaluate.file_fingerprint(weights)
    cached = sorted(name for name in os.listdir(tmp_path / "cache") if key in name)
    assert [name.split("-")[1:3] for name in cached] == [["test", "ttur"], ["train", "ttur"]]


@needs_torch_fidelity
def test_with_enough_images_the_fid_is_the_score(monkeypatch, tmp_path):
    """A stand-in for the network with 8 features and 20 images each side: fid_ttur is computed and
    chosen, by torch-fidelity's formula, and the summary line shows it."""

    class StandIn:
        def __init__(self, weights):
            pass

        def predict_on_batch(self, images):
            return images.reshape(len(images), -1)[:, :8] * np.arange(1, 9)

    monkeypatch.setattr(evaluate, "TorchFidelityInception", StandIn)
    data, _ = cifar_files(tmp_path, n_test=20)
    scorer = evaluate.Scorer("cifar10", data, n=20, cache_dir=str(tmp_path / "c"), log=lambda _: None,
                             fid="torch-fidelity")
    scores = scorer.score_floor()
    assert scorer.metric == "fid_ttur" and set(scores) == {"n", "fid_ttur", "kid_ttur", "nearest"}
    with np.load(data) as arrays:
        real, test = (evaluate.to_unit(arrays[k]).reshape(20, -1)[:, :8] * np.arange(1, 9) for k in ("x_train", "x_test"))
    assert scores["fid_ttur"] == pytest.approx(
        evaluate.frechet_distance(*evaluate.statistics(test), *evaluate.statistics(real)), rel=1e-4)
    assert scorer.summary(scores).startswith("fid_ttur ")


@pytest.mark.parametrize("case, message", [
    ("missing", "needs torch-fidelity and PyTorch"),
    ("no-inception", "--no-inception skips InceptionV3, which --fid torch-fidelity needs"),
    ("random", "only with --fid keras"),
    ("no-file", "no such file"),
])
def test_refused_in_one_line(case, message, tmp_path, capsys, monkeypatch):
    """Without the library (hidden here): one line naming the install, exit 2, nothing written; so too
    for the flags that cannot go with it."""
    if case == "missing":
        monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # `import torch_fidelity` raises ImportError
    data, model = cifar_files(tmp_path)
    extra = {"missing": [], "no-inception": ["--no-inception"], "random": ["--inception-weights", "random"],
             "no-file": ["--inception-weights", str(tmp_path / "none.pth")]}[case]
    argv = [model, "--dataset", "cifar10", "--data", data, "--n", "10", "--fid", "torch-fidelity",
            "--cache", str(tmp_path / "cache")] + extra
    status, out, err = run_cli(evaluate.main, argv, capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    if case == "missing":
        assert evaluate.TORCH_FIDELITY_INSTALL in err
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.parametrize("fid", ["keras", pytest.param("torch-fidelity", marks=needs_torch_fidelity)])
@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, reading the wrong file before it fails
def test_a_weights_file_that_does_not_fit_is_one_line_naming_the_file_wanted(fid, tmp_path, capsys):
    """Either network, given a weights file of something else: one line naming that network's file, exit 2."""
    data, model = cifar_files(tmp_path)
    bad = tmp_path / ("bad.pth" if fid == "torch-fidelity" else "bad.weights.h5")
    if fid == "torch-fidelity":
        import torch

        torch.save({"not": torch.zeros(1)}, bad)
    else:
        dcgan_cifar10.define_generator(100).save_weights(bad)
    argv = [model, "--dataset", "cifar10", "--data", data, "--n", "10", "--fid", fid, "--inception-weights", str(bad),
            "--cache", str(tmp_path / "cache")]
    status, out, err = run_cli(evaluate.main, argv, capsys)
    wanted = evaluate.TORCH_FIDELITY_WEIGHTS if fid == "torch-fidelity" else evaluate.KERAS_INCEPTION_WEIGHTS
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{bad} does not fit" in err and wanted in err
    assert not (tmp_path / "scores.csv").exists()


def test_help_and_readme_name_both_fids_and_the_install_line(capsys):
    status, out, _ = run_cli(evaluate.main, ["--help"], capsys)
    assert status == 0 and "Keras' InceptionV3" in out and "TTUR Inception" in out
    assert evaluate.TORCH_FIDELITY_INSTALL in [line.strip() for line in out.splitlines()]  # on a line of its own
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert evaluate.TORCH_FIDELITY_INSTALL in readme and "--fid torch-fidelity" in readme


@needs_torch_fidelity
def test_a_folder_of_your_own_images_scores_with_the_ttur_network_too(weights, tmp_path, capsys):
    """evaluate.py --data FOLDER --fid torch-fidelity: the folder prepared as for training (its cache), no --dataset."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for k in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3)).astype("uint8")).save(folder / f"{k:02d}.jpg")
    _, model = cifar_files(tmp_path)
    argv = [model, "--data", str(folder), "--fid", "torch-fidelity", "--inception-weights", weights, "--n", "12",
            "--cache", str(tmp_path / "cache")]
    status, stdout, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    assert f"{folder}: 12 images decoded at 32x32" in stdout and "best by KID (TTUR Inception, torch-fidelity)" in stdout
    assert "kid_ttur" in (tmp_path / "scores.csv").read_text().splitlines()[0]
