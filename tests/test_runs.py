"""Long runs in every script: resume as if never stopped, Ctrl-C and SIGTERM, kill -9 while
saving, NaN and collapse detection, a full or unwritable --out, determinism with --seed."""

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import keras
import dcgan_cifar10
import dcgan_mnist
import lsgan_mnist
import wgan_mnist7
from conftest import ROOT, run_cli, tiny_data, tiny_mnist

SCRIPTS = {m.__name__: m for m in (lsgan_mnist, wgan_mnist7, dcgan_mnist, dcgan_cifar10)}
# script: (arguments of every run, how a run is cut short / lengthened)
RUNS = {
    "lsgan_mnist": (["--batch-size", "16"], "--max-steps"),
    "wgan_mnist7": (["--batch-size", "16", "--n-critic", "2"], "--max-steps"),
    "dcgan_mnist": (["--batch-size", "8", "--save-every", "100"], "--steps"),
    "dcgan_cifar10": (["--batch-size", "16"], "--max-steps"),
}


def snapshot(folder):
    """{file name: sha1 of its bytes} for every file in folder."""
    return {n: hashlib.sha1((folder / n).read_bytes()).hexdigest() for n in sorted(os.listdir(folder))}


def checkpoint_step(folder):
    with np.load(folder / "checkpoint.npz") as saved:
        return json.loads(str(saved["state"]))["step"]


@pytest.mark.parametrize("name", list(RUNS))
def test_resume_continues_as_if_never_stopped(name, tmp_path, capsys):
    """6 steps straight, against 3 steps, then --resume for 3 more: the same generator, the
    same history. Resuming the finished run says so and exits 0."""
    script, (args, length) = SCRIPTS[name], RUNS[name]
    args = args + ["--data", tiny_data(tmp_path / "data.npz", name), "--seed", "1"]
    assert run_cli(script.main, args + ["--out", str(tmp_path / "a"), length, "6"], capsys)[0] == 0
    assert run_cli(script.main, args + ["--out", str(tmp_path / "b"), length, "3"], capsys)[0] == 0
    assert checkpoint_step(tmp_path / "b") == 3
    status, out, _ = run_cli(script.main, args + ["--out", str(tmp_path / "b"), length, "6", "--resume"], capsys)
    assert status == 0 and "resuming the run" in out and "at step 3 of 6" in out
    straight, resumed = (keras.models.load_model(tmp_path / d / "model_000006.h5", compile=False) for d in "ab")
    for u, v in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "a" / "history.csv").read_text() == (tmp_path / "b" / "history.csv").read_text()
    status, out, _ = run_cli(script.main, args + ["--out", str(tmp_path / "b"), length, "6", "--resume"], capsys)
    assert status == 0 and "already finished (6 of 6 steps)" in out


def test_resume_refuses_other_settings_and_missing_checkpoints(tmp_path, capsys):
    args = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", str(tmp_path / "run")]
    assert run_cli(lsgan_mnist.main, args + ["--batch-size", "16", "--max-steps", "2"], capsys)[0] == 0
    status, _, err = run_cli(lsgan_mnist.main, args + ["--batch-size", "8", "--resume"], capsys)
    assert status == 2 and "n_batch=16, not 8" in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli(lsgan_mnist.main, args[:2] + ["--out", str(tmp_path / "none"), "--resume"], capsys)
    assert status == 2 and "no checkpoint.npz to resume from" in err


def test_seed_gives_the_same_losses_for_50_steps(tmp_path, capsys):
    """(The resume test above compares two seeded runs of every script, over 8 steps.)"""
    name = "lsgan_mnist"
    script, (args, length) = SCRIPTS[name], RUNS[name]
    args = args + ["--data", tiny_data(tmp_path / "data.npz", name), "--seed", "5", length, "50"]
    for run in ("a", "b"):
        assert run_cli(script.main, args + ["--out", str(tmp_path / run)], capsys)[0] == 0
    a, b = ((tmp_path / run / "history.csv").read_text().splitlines() for run in "ab")
    assert len(a) == 51 and a == b


def start_run(out, data, epochs=200):
    """A real training subprocess (LSGAN, 6 steps an epoch, so it saves every ~second)."""
    argv = [sys.executable, os.path.join(ROOT, "lsgan_mnist.py"), "--data", data, "--out", str(out),
            "--batch-size", "16", "--epochs", str(epochs)]
    if (out / "checkpoint.npz").exists():
        argv.append("--resume")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for(predicate, process, timeout=90):
    end = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None and time.monotonic() < end, process.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_step_writes_a_checkpoint_and_says_how_to_resume(sig, tmp_path, capsys):
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    process = start_run(out, data)
    wait_for(lambda: (out / "model_000006.h5").exists(), process)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    step = checkpoint_step(out)
    assert f"interrupted at step {step} of 1200; checkpoint at step {step}" in stdout
    assert "resume with: python lsgan_mnist.py" in stdout and stdout.rstrip().endswith("--resume")
    if sig == signal.SIGINT:
        argv = ["--data", data, "--out", str(out), "--batch-size", "16", "--max-steps", str(step + 2), "--resume"]
        status, stdout, _ = run_cli(lsgan_mnist.main, argv, capsys)
        assert status == 0 and f"at step {step} of {step + 2}" in stdout


def test_kill_9_at_random_moments_never_leaves_a_broken_file(tmp_path):
    """20 times: kill -9 a run at a random moment (it saves a grid, the generator and a
    checkpoint every ~second), then check every file; each run resumes the one before."""
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    rng = random.Random(0)
    for _ in range(20):
        process = start_run(out, data)
        wait_for(lambda: (out / "checkpoint.npz").exists() and any(n.startswith("model_") for n in os.listdir(out)),
                 process)
        time.sleep(rng.uniform(0.0, 1.5))
        process.kill()
        process.wait()
        for name in os.listdir(out):
            if name.endswith(".h5") and ".partial." not in name:
                keras.models.load_model(out / name, compile=False)
        assert checkpoint_step(out) > 0
    assert lsgan_mnist.main(["--data", data, "--out", str(out), "--batch-size", "16", "--epochs", "200",
                             "--max-steps", str(checkpoint_step(out) + 1), "--resume"]) == 0
    assert not [name for name in os.listdir(out) if ".partial." in name]  # the resumed run cleared them


def test_a_nan_stops_the_run_with_status_3_and_keeps_the_last_generator(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--out", str(out), "--batch-size", "16"]
    assert run_cli(lsgan_mnist.main, args + ["--data", tiny_data(tmp_path / "ok.npz", "lsgan_mnist"), "--epochs", "1"],
                   capsys)[0] == 0
    x, y = tiny_mnist()
    bad = tmp_path / "nan.npz"
    np.savez(bad, x_train=np.where(x > 0, np.nan, 0.0), y_train=y)  # NaN pixels
    status, stdout, _ = run_cli(lsgan_mnist.main, args + ["--data", str(bad), "--epochs", "3", "--resume"], capsys)
    assert status == 3 and "step 7: a loss is nan" in stdout and "last good checkpoint (step 6)" in stdout
    assert checkpoint_step(out) == 6 and not (out / "model_000012.h5").exists()
    keras.models.load_model(out / "model_000006.h5", compile=False)


@pytest.mark.parametrize("name, threshold", [("lsgan_mnist", "1e9"), ("wgan_mnist7", "1e-9")])
def test_a_collapse_restarts_from_the_last_good_checkpoint_then_stops(name, threshold, tmp_path, capsys):
    """A threshold every step meets: the guard sees a collapse after --collapse-window steps,
    restarts from the checkpoint with a new seed once, then stops with status 3."""
    script, (args, length) = SCRIPTS[name], RUNS[name]
    args = args + ["--data", tiny_data(tmp_path / "data.npz", name), "--out", str(tmp_path / "run"), length, "12",
                   "--collapse-window", "3", "--collapse-threshold", threshold]
    status, stdout, _ = run_cli(script.main, args + ["--restart-on-collapse", "1"], capsys)
    assert status == 3
    assert stdout.count("step 3: likely collapse") == 2 and "restarting from the checkpoint at step 0" in stdout
    assert "restart 1 of 1" in stdout and "last good checkpoint (step 0) is kept" in stdout
    status, stdout, _ = run_cli(script.main, args + ["--no-stop-on-collapse", "--overwrite"], capsys)
    assert status == 0 and "step 3: likely collapse" in stdout
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 13


def test_a_full_disk_is_one_line_and_loses_no_earlier_file(tmp_path, capsys, monkeypatch):
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    args = ["--data", data, "--out", str(out), "--batch-size", "16"]
    assert run_cli(lsgan_mnist.main, args + ["--epochs", "1"], capsys)[0] == 0
    before = snapshot(out)

    def disk_full(path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lsgan_mnist, "imsave", disk_full)
    status, _, err = run_cli(lsgan_mnist.main, args + ["--epochs", "2", "--resume"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "No space left on device" in err and "intact" in err
    after = snapshot(out)
    assert after.pop("run.json") and before.pop("run.json")  # rewritten whole, with the new --epochs
    assert after == before  # nothing else replaced, no partial file left


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_an_unwritable_out_is_one_line(tmp_path, capsys):
    argv = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", "/proc/self/keras-gans-run"]
    status, _, err = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1
