"""--eval-every in every training script: the generator is saved and scored at each evaluation
point (evaluate.py's cheap metric), eval_history.csv has a row for each, the best is named."""

import pytest

import evaluate
import cgan_mnist
import dcgan_cifar10
import dcgan_mnist
import lsgan_mnist
import wgan_mnist7
from conftest import run_cli, stand_in_inception, tiny_data

CASES = {
    # script: (arguments besides --data/--out, steps scored, metric)
    "lsgan_mnist": (["--epochs", "2", "--batch-size", "16", "--eval-every", "1"], [6, 12], "cfid"),
    "wgan_mnist7": (["--epochs", "2", "--batch-size", "16", "--n-critic", "1", "--eval-every", "1"], [6, 12], "cfid"),
    "dcgan_mnist": (["--steps", "4", "--save-every", "100", "--batch-size", "16", "--eval-every", "2"], [2, 4], "cfid"),
    # fewer images (20) than the stand-in network's features (32), as 2,000 are fewer than InceptionV3's 2,048:
    # KID, not FID
    "dcgan_cifar10": (["--epochs", "2", "--batch-size", "16", "--eval-every", "1"], [3, 6], "kid"),
    "cgan_mnist": (["--epochs", "2", "--batch-size", "16", "--eval-every", "1"], [6, 12], "cfid"),  # and agreement
}


SCRIPTS = {m.__name__: m for m in (lsgan_mnist, wgan_mnist7, dcgan_mnist, dcgan_cifar10, cgan_mnist)}


@pytest.mark.parametrize("name", list(CASES))
def test_eval_every_scores_and_names_the_best(name, tmp_path, capsys, monkeypatch):
    script = SCRIPTS[name]
    argv, steps, metric = CASES[name]
    monkeypatch.setattr(script, "EVAL_SAMPLES", 20 if name == "dcgan_cifar10" else 200)
    if name == "dcgan_cifar10":  # a tiny stand-in for InceptionV3 (test_evaluate runs the real one)
        monkeypatch.setattr(evaluate, "define_inception", stand_in_inception(32))
    data = tiny_data(tmp_path / "data.npz", name)
    out = tmp_path / "run"
    status, stdout, err = run_cli(script.main, argv + ["--data", str(data), "--out", str(out)], capsys)
    assert status == 0, err
    lines = (out / "eval_history.csv").read_text().splitlines()
    header, rows = lines[0].split(","), [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]
    assert header[:3] == ["step", "model", "n"] and metric in header and ("fid" in header) == (metric == "fid")
    assert [(int(r["step"]), r["model"]) for r in rows] == [(s, "model_%06d.h5" % s) for s in steps]
    assert all((out / r["model"]).is_file() for r in rows)
    best = min(rows, key=lambda r: float(r[metric]))
    assert f"best generator by {metric}: {best['model']}" in stdout
    if name == "cgan_mnist":  # a conditional generator's: the classifier's agreement with the asked digit too
        assert "agreement" in header and "agreement_7" in header and stdout.count("agreement with the asked") == 2


def test_eval_metric_swd_scores_against_the_training_images_with_no_network(tmp_path, capsys, monkeypatch):
    """--eval-every --eval-metric swd: evaluate.py's SWD of each saved generator against the images it trains on
    (here the CIFAR-10 DCGAN's), and no scorer of the script's (Inception) built."""
    monkeypatch.setattr(dcgan_cifar10, "define_scorer", lambda args: pytest.fail("the script's scorer was built"))
    monkeypatch.setattr(evaluate, "SWD_EVAL_IMAGES", 40)
    out = tmp_path / "run"
    argv = ["--batch-size", "16", "--max-steps", "6", "--eval-every", "1", "--eval-metric", "swd",
            "--data", str(tiny_data(tmp_path / "data.npz", "dcgan_cifar10")), "--out", str(out)]
    status, stdout, err = run_cli(dcgan_cifar10.main, argv, capsys)
    assert status == 0, err
    lines = (out / "eval_history.csv").read_text().splitlines()
    rows = [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]
    assert lines[0].split(",")[:6] == ["step", "model", "n", "swd_32", "swd_16", "swd"] and len(rows) == 2
    best = min(rows, key=lambda r: float(r["swd"]))
    assert f"best generator by swd: {best['model']}" in stdout
