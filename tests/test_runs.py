"""Long runs in every script: resume as if never stopped, Ctrl-C and SIGTERM, kill -9 while
saving, NaN and collapse detection, a full or unwritable --out, determinism with --seed."""

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import gan_runner
import generate
import keras
import dcgan_cifar10
import dcgan_mnist
import cgan_mnist
import diffaugment_gan
import lsgan_mnist
import wgan_mnist7
from conftest import ROOT, run_cli, tiny_data, tiny_mnist

SCRIPTS = {m.__name__: m for m in (lsgan_mnist, wgan_mnist7, dcgan_mnist, dcgan_cifar10, cgan_mnist, diffaugment_gan)}
# script: (arguments of every run, how a run is cut short / lengthened)
RUNS = {
    "lsgan_mnist": (["--batch-size", "16"], "--max-steps"),
    "wgan_mnist7": (["--batch-size", "16", "--n-critic", "2"], "--max-steps"),
    "dcgan_mnist": (["--batch-size", "8", "--save-every", "100"], "--steps"),
    "dcgan_cifar10": (["--batch-size", "16"], "--max-steps"),
    "cgan_mnist": (["--batch-size", "16"], "--max-steps"),
    "diffaugment_gan": (["--batch-size", "8", "--image-size", "32"], "--max-steps"),  # the average resumed too
}


def snapshot(folder):
    """{file name: sha1 of its bytes} for every file in folder."""
    return {n: hashlib.sha1((folder / n).read_bytes()).hexdigest() for n in sorted(os.listdir(folder))}


def checkpoint_step(folder):
    with np.load(folder / "checkpoint.npz") as saved:
        return json.loads(str(saved["state"]))["step"]


@pytest.mark.parametrize("name, extra", [(name, []) for name in RUNS] + [("wgan_mnist7", ["--augment"])],
                         ids=list(RUNS) + ["wgan_mnist7-augment"])
def test_resume_continues_as_if_never_stopped(name, extra, tmp_path, capsys):
    """6 steps straight, against 3 steps, then --resume for 3 more: the same generator, the
    same history. Resuming the finished run says so and exits 0. With --augment, the augmentations'
    random state is in the checkpoint too, and each saved critic is the critic alone."""
    script, (args, length) = SCRIPTS[name], RUNS[name]
    args = args + extra + ["--data", tiny_data(tmp_path / "data.npz", name), "--seed", "1"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(script.main, args + ["--out", str(a), length, "6"], capsys)[0] == 0
    assert run_cli(script.main, args + ["--out", str(b), length, "3"], capsys)[0] == 0
    assert checkpoint_step(b) == 3
    status, out, _ = run_cli(script.main, args + ["--out", str(b), length, "6", "--resume"], capsys)
    assert status == 0 and "resuming the run" in out and "at step 3 of 6" in out
    assert "collapse" not in out  # a healthy run, at the default collapse rule
    straight, resumed = (keras.models.load_model(d / "model_000006.h5", compile=False) for d in (a, b))
    for u, v in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()
    status, out, _ = run_cli(script.main, args + ["--out", str(b), length, "6", "--resume"], capsys)
    assert status == 0 and "already finished (6 of 6 steps)" in out
    if extra:  # plain keras.models.load_model, the script's own custom objects: no DiffAugment in it
        critic = keras.models.load_model(a / "critic_000006.h5", compile=False, custom_objects=vars(script))
        assert critic.name == "critic" and not any("augment" in layer.name for layer in critic.layers)
        assert json.loads((a / "run.json").read_text())["augment"] == "color,translation,cutout"


def test_resume_refuses_other_settings_and_missing_checkpoints(tmp_path, capsys):
    args = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", str(tmp_path / "run")]
    assert run_cli(lsgan_mnist.main, args + ["--batch-size", "16", "--max-steps", "2"], capsys)[0] == 0
    status, _, err = run_cli(lsgan_mnist.main, args + ["--batch-size", "8", "--resume"], capsys)
    assert status == 2 and "made with --batch-size 16, not 8" in err and len(err.strip().splitlines()) == 1
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


@pytest.mark.keras_independent
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_step_writes_a_checkpoint_and_says_how_to_resume(sig, tmp_path, capsys):
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    process = start_run(out, data)
    wait_for(lambda: (out / "model_000006.h5").exists(), process)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    step = checkpoint_step(out)
    reached = out / f"model_{step:06d}.h5"  # the generator of the step reached, between two epochs' reports
    assert f"interrupted at step {step} of 1200; checkpoint at step {step} in {out / 'checkpoint.npz'}; " \
           f"the generator of step {step}: {reached}" in stdout
    assert "resume with: python lsgan_mnist.py" in stdout and stdout.rstrip().endswith("--resume")
    assert (out / f"generated_plot_{step:06d}.png").exists()
    assert generate.main([str(reached), "--out", str(tmp_path / "grid.png")]) == 0  # loadable by generate.py
    argv = ["--data", data, "--out", str(out), "--batch-size", "16", "--max-steps", str(step + 2), "--resume"]
    status, stdout, _ = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 0 and f"at step {step} of {step + 2}" in stdout and "missing" not in stdout
    final = out / f"model_{step + 2:06d}.h5"  # a finished run resumed writes its final files where they are gone
    final.unlink()
    (out / f"generated_plot_{step + 2:06d}.png").unlink()
    status, stdout, _ = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 0 and f"wrote the missing generator of step {step + 2}: {final}" in stdout
    assert final.exists() and (out / f"generated_plot_{step + 2:06d}.png").exists()


def test_minutes_save_the_generator_and_stop_the_run(tmp_path, capsys, monkeypatch):
    """--save-every-minutes saves the generator and grid of the step reached, once a step however many marks it
    passed; --max-minutes stops the run as a signal does (checkpoint and generator), status 0, and --resume goes on.
    The clock is the test's: the run starts at 0 s, its steps end at 7, 30, 31 and 45 s."""
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    argv = ["--data", data, "--out", str(out), "--batch-size", "16"]
    clock = iter([0.0, 7.0, 30.0, 31.0, 45.0])
    monkeypatch.setattr(gan_runner, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    status, stdout, _ = run_cli(lsgan_mnist.main, argv + ["--save-every-minutes", "0.1", "--max-minutes", "0.7"],
                                capsys)
    assert status == 0 and checkpoint_step(out) == 4, stdout
    for k in (1, 2, 4):  # marks 0.1 (at 7 s); 0.2 to 0.5 (at 30 s, one save); 0.6 and 0.7 (at 45 s)
        assert f"the generator of step {k}: {out / f'model_{k:06d}.h5'}" in stdout
        assert (out / f"model_{k:06d}.h5").exists() and (out / f"generated_plot_{k:06d}.png").exists()
    assert len(re.findall(r"minute \d+\.\d\d: the generator of step", stdout)) == 3  # (a progress bar may precede)
    assert "stopped after 0.7 minutes (--max-minutes) at step 4 of 120" in stdout
    monkeypatch.undo()
    status, stdout, _ = run_cli(lsgan_mnist.main, argv + ["--max-steps", "5", "--resume"], capsys)
    assert status == 0 and "at step 4 of 5" in stdout


def start_code(code, argv, stderr=subprocess.PIPE):
    """A training subprocess running `code` (which patches lsgan_mnist, then calls its main) with argv."""
    return subprocess.Popen([sys.executable, "-c", code] + argv, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))


def read_until(process, marker):
    """The first line of the process's output whose first word is marker; fails if it ends first."""
    for line in process.stdout:
        if line.split()[:1] == [marker]:
            return line
    raise AssertionError(f"the run ended (status {process.wait()}) before printing {marker}")


# A run whose every step takes 10 s (train_step slowed down), to send signals in the middle of one.
SLOW_STEPS = """
import sys, time
import lsgan_mnist
step = lsgan_mnist.train_step
def slow_step(*args, **kwargs):
    print("STEP", flush=True)
    time.sleep(10)
    return step(*args, **kwargs)
lsgan_mnist.train_step = slow_step
sys.exit(lsgan_mnist.main(sys.argv[1:]))
"""


@pytest.mark.keras_independent
def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """The first asks for a stop after the step; the second, in the same step, does not wait for it."""
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    process = start_code(SLOW_STEPS, ["--data", data, "--out", str(out), "--batch-size", "16"])
    read_until(process, "STEP")  # the first step has begun: 10 s to go
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - sent < 8  # well before the step's end, even on a busy machine
    assert process.returncode not in (0, 130) and "KeyboardInterrupt" in stderr
    assert "resume with" not in stdout and "STEP" not in stdout  # no second step, no stop after this one


# A training run whose writer of one kind of file (the checkpoint's np.savez, a generator's
# model.save, a grid's imsave) stops halfway through its Nth file: it writes the file, cuts it to
# half, says so on stdout and waits to be killed, as a run killed mid-write would have left it.
HALFWAY = """
import io, sys, time
import numpy as np, keras
import lsgan_mnist
kind, nth, calls = sys.argv[1], int(sys.argv[2]), []

def halfway(write, path_at):
    def writer(*args, **kwargs):
        write(*args, **kwargs)
        calls.append(args[path_at])
        if len(calls) == nth:
            path = str(args[path_at])
            data = open(path, "rb").read()
            open(path, "wb").write(data[: len(data) // 2])
            print("HALFWAY", path, flush=True)
            time.sleep(300)
    return writer

if kind == "checkpoint":
    np.savez = halfway(np.savez, 0)
elif kind == "generator":
    keras.Model.save = halfway(keras.Model.save, 1)
else:
    lsgan_mnist.imsave = halfway(lsgan_mnist.imsave, 0)
sys.exit(lsgan_mnist.main(sys.argv[3:]))
"""


def open_every_file(folder):
    """Read each file of a run folder whole, as its reader would: any broken one raises."""
    import matplotlib.image

    for name in os.listdir(folder):
        path = folder / name
        if ".partial." in name:
            continue
        if name.endswith(".h5"):
            keras.models.load_model(path, compile=False)
        elif name.endswith(".png"):
            assert matplotlib.image.imread(path).ndim == 3
        elif name in ("history.csv", "diversity.csv"):
            assert np.genfromtxt(path, delimiter=",", names=True).size >= 1
        elif name == "run.json":
            json.loads(path.read_text())
        elif name == "checkpoint.npz":
            with np.load(path) as saved:
                assert {saved[k].shape for k in saved.files} and json.loads(str(saved["state"]))["step"] >= 0
        else:
            raise AssertionError(f"unexpected file {name}")


@pytest.mark.keras_independent
@pytest.mark.parametrize("kind, nth", [("checkpoint", 2), ("generator", 2), ("grid", 2)])
def test_kill_9_in_the_middle_of_a_save_leaves_every_file_whole_and_the_run_resumes(kind, nth, tmp_path, capsys):
    """A finished epoch first (so every kind of file exists), then --resume with a writer that stops
    halfway through a file: kill -9 it there. Every file in --out still reads whole, the half
    file is a temporary one, and the next --resume clears it and goes on."""
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    args = ["--data", data, "--out", str(out), "--batch-size", "16"]  # 96 images: 6 steps an epoch
    assert run_cli(lsgan_mnist.main, args + ["--epochs", "1"], capsys)[0] == 0
    before = snapshot(out)
    process = start_code(HALFWAY, [kind, str(nth)] + args + ["--epochs", "4", "--resume"], stderr=subprocess.DEVNULL)
    half = read_until(process, "HALFWAY").split()[1]
    process.kill()
    process.wait()
    assert ".partial." in half and os.path.getsize(half) > 0  # the kill landed in the middle of a save
    open_every_file(out)
    assert all(snapshot(out)[name] == digest for name, digest in before.items() if name not in (
        "checkpoint.npz", "run.json", "diversity.csv"))  # the first epoch's files are as they were (these grow)
    status, stdout, _ = run_cli(lsgan_mnist.main, args + ["--epochs", "4", "--resume"], capsys)
    assert status == 0 and "resuming the run" in stdout
    assert not [name for name in os.listdir(out) if ".partial." in name]
    assert checkpoint_step(out) == 24
    open_every_file(out)


def test_a_truncated_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    out, data = tmp_path / "run", tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    args = ["--data", data, "--out", str(out), "--batch-size", "16"]
    assert run_cli(lsgan_mnist.main, args + ["--max-steps", "2"], capsys)[0] == 0
    whole = (out / "checkpoint.npz").read_bytes()
    (out / "checkpoint.npz").write_bytes(whole[: len(whole) // 2])
    status, _, err = run_cli(lsgan_mnist.main, args + ["--max-steps", "4", "--resume"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "not a readable checkpoint" in err


@pytest.mark.parametrize("name, bad_value", [("lsgan_mnist", np.nan), ("lsgan_mnist", np.inf), ("wgan_mnist7", np.nan),
                                             ("dcgan_mnist", np.nan), ("dcgan_cifar10", np.nan)])
def test_a_nan_or_inf_stops_the_run_with_status_3_and_keeps_the_last_generator(name, bad_value, tmp_path, capsys,
                                                                               monkeypatch):
    """A first run of one epoch (its generator and checkpoint are the last good ones), then, resumed,
    real batches with NaN or inf pixels: the run stops at the first broken step, status 3, nothing
    saved after. (The data file stays the same: --resume refuses other data.)"""
    script, (args, length) = SCRIPTS[name], RUNS[name]
    args = args + ["--out", str(tmp_path / "run")]
    good = tiny_data(tmp_path / "ok.npz", name)
    first = 2 if name == "dcgan_mnist" else 6 if name != "dcgan_cifar10" else 3  # steps of the first run
    assert run_cli(script.main, args + ["--data", good, length, str(first)], capsys)[0] == 0
    real_samples = script.generate_real_samples

    def broken_samples(*given):
        x, y = real_samples(*given)
        return np.where(x > x.min(), np.float32(bad_value), x), y  # the bright pixels broken

    monkeypatch.setattr(script, "generate_real_samples", broken_samples)
    status, stdout, _ = run_cli(script.main, args + ["--data", good, length, str(3 * first), "--resume"], capsys)
    assert status == 3 and f"step {first + 1}: a loss is " in stdout
    assert f"last good checkpoint (step {first})" in stdout and checkpoint_step(tmp_path / "run") == first
    assert sorted(n for n in os.listdir(tmp_path / "run") if n.startswith("model_")) == [f"model_{first:06d}.h5"]
    keras.models.load_model(tmp_path / "run" / f"model_{first:06d}.h5", compile=False)


# Logs of one step that the default rule calls collapsed, and logs just on the healthy side of it.
COLLAPSED = {"lsgan_mnist": (dict(d1=0.0009, d2=0.0001, g=3.0), dict(d1=0.0011, d2=0.0001, g=3.0)),
             "dcgan_cifar10": (dict(d1=0.0001, d2=0.0009, g=3.0), dict(d1=0.0001, d2=0.0011, g=3.0)),
             "dcgan_mnist": (dict(d_loss=0.0009, d_acc=1.0, a_loss=9.0, a_acc=0.0),
                             dict(d_loss=0.0011, d_acc=1.0, a_loss=9.0, a_acc=0.0)),
             "wgan_mnist7": (dict(c1=-300.0, c2=-200.5, g=1.0), dict(c1=-300.0, c2=-199.5, g=1.0)),
             "cgan_mnist": (dict(d1=0.33, d2=0.0009, g=3.0), dict(d1=0.0001, d2=0.0011, g=3.0))}  # d1: 0.9's floor


@pytest.mark.keras_independent
@pytest.mark.parametrize("name", list(COLLAPSED))
def test_the_default_collapse_rule_needs_200_collapsed_steps_in_a_row(name, capsys):
    """At the flags' defaults: 199 collapsed steps, one healthy, 199 more do not stop the run; the
    200th in a row does, and says at which step."""
    script = SCRIPTS[name]
    collapsed, healthy = COLLAPSED[name]
    guard, model = gan_runner.CollapseGuard(script), keras.Sequential()
    guard.set_model(model)
    guard.set_params({"steps": 1000})
    model.stop_training = False
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, logs in enumerate([collapsed] * 199 + [healthy] + [collapsed] * 199):
        guard.on_train_batch_end(batch, dict(logs, loss=sum(logs.values())))
    assert not model.stop_training and not guard.collapsed and "collapse" not in capsys.readouterr().out
    guard.on_train_batch_end(399, dict(collapsed, loss=sum(collapsed.values())))
    assert model.stop_training and guard.collapsed
    assert "step 400: likely collapse" in capsys.readouterr().out


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
    reached = tmp_path / "run" / "model_000003.h5"  # what the stopped run made, between two epochs' reports
    assert f"the generator of step 3 is {reached}" in stdout and reached.exists()
    status, stdout, _ = run_cli(script.main, args + ["--no-stop-on-collapse", "--overwrite"], capsys)
    assert status == 0 and "step 3: likely collapse" in stdout
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 13


class Drawing:
    """A stand-in generator: whatever latent points it is given, it draws `images`."""

    def __init__(self, images):
        self.images = images

    def predict_on_batch(self, z):
        return self.images[: len(z)]


class Blending:
    """A handmade generator of two pictures: each latent point draws a blend of them, by its first number
    (a sigmoid of it), as the photo folder's run on seed 2 drew two pictures and mixtures of them at 64x64."""

    def __init__(self, two):
        self.two = two

    def predict_on_batch(self, z):
        share = 1.0 / (1.0 + np.exp(-2.0 * z[:, :1, None, None]))
        return share * self.two[0] + (1.0 - share) * self.two[1]


def blocky_images(n, seed=1):
    """n 32x32 colour images of 4x4 random blocks: real images' layouts and colours, without their fine grain."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)


def one_texture(real, n):
    """One of the real images drawn over and over, a fine checkerboard laid over it in another phase each time:
    the photo folder's collapse at 64x64 (docs/long-runs.md), far apart pixel by pixel, alike to the eye."""
    phase = np.random.default_rng(2).integers(0, 2, n)[:, None, None, None]
    rows, cols = np.indices(real.shape[1:3])
    checker = ((rows + cols) % 2)[None, :, :, None]
    return real[:1] + np.where((checker + phase) % 2 == 1, 0.5, -0.5)


SEEN = {"one picture": "the samples look alike", "one texture": "the samples look alike",
        "two pictures blended": "the samples look like a few pictures and blends of them", "real images": None}


@pytest.mark.keras_independent
@pytest.mark.parametrize("drawn", list(SEEN))
def test_samples_that_look_alike_or_like_a_few_pictures_are_a_likely_collapse(drawn, tmp_path, capsys):
    """The rules on the samples of fixed latent points, each averaged down to 8x8, at 2 epoch ends in a row, counted
    from --collapse-window steps on: a spread under 0.05 of the real images' (one picture, or one texture in another
    phase each time: apart pixel by pixel), or a nearest-neighbour ratio under 0.5 of theirs (two pictures and blends
    between them, by the latent point, spread half as far as real images: the spread alone passes them). Either is a
    collapse at the second such epoch end, said in one line of what was seen; other real images never are. Each
    epoch end's numbers are in the epoch's logs and in diversity.csv."""
    real = blocky_images(300)
    stand_in = Blending(real[:2]) if drawn == "two pictures blended" else Drawing(
        {"one picture": real[:1].repeat(100, axis=0), "one texture": one_texture(real, 100),
         "real images": real[200:]}[drawn])
    z = np.random.default_rng(0).standard_normal((100, 8))
    samples = gan_runner.SampleSpread(stand_in, z, real[:200])
    guard, model = gan_runner.CollapseGuard(lsgan_mnist, 10, samples=samples, out_dir=tmp_path), keras.Sequential()
    guard.set_model(model)
    guard.set_params({"steps": 5, "total_steps": 100})
    model.stop_training = False
    guard.on_train_begin()
    seen = []
    for epoch in range(3):  # ends at steps 5 (before the window: not counted), 10 and 15
        guard.on_epoch_begin(epoch)
        logs = {}
        guard.on_epoch_end(epoch, logs)
        seen.append((model.stop_training, logs["diversity"], logs["nearest"]))
    out, fires = capsys.readouterr().out, SEEN[drawn] is not None
    assert [stopped for stopped, _, _ in seen] == [False, False, fires] and guard.collapsed == fires
    spreads, nearest = [row[1] for row in seen], [row[2] for row in seen]
    if drawn == "two pictures blended":
        assert all(0.2 < spread < 0.8 for spread in spreads) and all(value < 0.1 for value in nearest)
    elif fires:
        assert all(spread < 0.05 for spread in spreads)
    else:
        assert all(0.8 < spread < 1.2 for spread in spreads) and all(0.8 < value < 1.2 for value in nearest)
    if fires:
        assert f"step 15: likely collapse ({SEEN[drawn]}" in out and "try --augment" in out and out.count("\n") == 1
    else:
        assert "collapse" not in out
    rows = (tmp_path / "diversity.csv").read_text().splitlines()
    assert rows[0] == "step,diversity,nearest" and [row.split(",")[0] for row in rows[1:]] == ["5", "10", "15"]
    assert [float(row.split(",")[2]) for row in rows[1:]] == pytest.approx(nearest, abs=1e-4)
    assert "--augment" not in gan_runner.CollapseGuard(lsgan_mnist, augmented=True).advice  # it has it already


def test_the_samples_rule_stops_a_run_and_keeps_its_numbers_over_a_resume(tmp_path, capsys):
    """In a run: a spread every epoch end meets (--collapse-diversity 1e9) from step 1 on is a collapse at the
    second epoch's end; the checkpoint stays the one before the first epoch end that looked alike; 0 turns the rule
    off. A healthy run writes diversity.csv a row an epoch, and a resumed run keeps the rows before it (an older
    checkpoint's too, which have no nearest-neighbour ratio)."""
    args = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--batch-size", "16", "--seed", "1"]
    run = args + ["--out", str(tmp_path / "run"), "--epochs", "3", "--collapse-window", "1"]
    status, stdout, _ = run_cli(lsgan_mnist.main, run + ["--collapse-diversity", "1e9"], capsys)
    assert status == 3 and "step 12: likely collapse (the samples look alike" in stdout
    assert "last good checkpoint (step 0) is kept" in stdout
    status, stdout, _ = run_cli(lsgan_mnist.main, run + ["--collapse-diversity", "0", "--overwrite"], capsys)
    assert status == 0 and "collapse" not in stdout
    healthy = args + ["--out", str(tmp_path / "healthy")]
    assert run_cli(lsgan_mnist.main, healthy + ["--epochs", "2"], capsys)[0] == 0
    before = (tmp_path / "healthy" / "diversity.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in before] == ["step", "6", "12"]
    assert run_cli(lsgan_mnist.main, healthy + ["--epochs", "3", "--resume"], capsys)[0] == 0
    after = (tmp_path / "healthy" / "diversity.csv").read_text().splitlines()
    assert after[:3] == before and after[3].startswith("18,")
    # A checkpoint written before the nearest-neighbour rule: its rows are kept, their nearest cells left empty
    path = tmp_path / "healthy" / "checkpoint.npz"
    with np.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    state = json.loads(str(arrays["state"]))
    state["diversity"] = [row[:2] for row in state["diversity"]]
    np.savez(path, **dict(arrays, state=json.dumps(state)))
    assert run_cli(lsgan_mnist.main, healthy + ["--epochs", "4", "--resume"], capsys)[0] == 0
    older = (tmp_path / "healthy" / "diversity.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in older[:4]] == [row.split(",")[:2] for row in after]
    assert all(row.endswith(",") for row in older[1:4]) and older[4].startswith("24,") and older[4][-1].isdigit()


@pytest.mark.keras_independent
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
    assert json.loads((out / "run.json").read_text())["n_epochs"] == 2  # rewritten whole, with the new --epochs
    del after["run.json"], before["run.json"]
    assert after == before  # nothing else replaced, no partial file left


@pytest.mark.keras_independent
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_an_unwritable_out_is_one_line(tmp_path, capsys):
    argv = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", "/proc/self/keras-gans-run"]
    status, _, err = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1


# Flags --resume takes changed: they lengthen, watch or place a run. Every other flag of every script
# must be refused changed; a flag added later lands on the refused side unless put here.
ACCEPTED_CHANGED = {"epochs", "steps", "max_steps", "save_every", "out", "overwrite", "resume", "tensorboard",
                    "eval_every", "inception_weights", "stop_on_collapse", "collapse_window", "collapse_threshold",
                    "collapse_diversity", "collapse_nearest", "restart_on_collapse", "seed", "data_parallel",
                    "max_minutes", "save_every_minutes"}


@pytest.mark.keras_independent
@pytest.mark.parametrize("name", SCRIPTS)
def test_every_flag_is_on_one_side_of_resume(name):
    """Each flag either may change on --resume (ACCEPTED_CHANGED) or is in what the checkpoint records."""
    script = SCRIPTS[name]
    args = gan_runner.parse_args(script, [])
    recorded = gan_runner.resume_settings(args, np.zeros((10, 28, 28, 1), "float32"))
    assert set(gan_runner.RESUME_MAY_CHANGE) == ACCEPTED_CHANGED
    for flag in vars(args):
        assert (flag in ACCEPTED_CHANGED) != (flag in recorded), flag
    assert "data" in recorded


@pytest.mark.parametrize("name, changed", [
    ("wgan_mnist7", ["--digit", "3"]), ("wgan_mnist7", ["--clip", "0.02"]), ("lsgan_mnist", ["OTHER DATA"]),
    ("dcgan_cifar10", ["--upsampling"]), ("dcgan_cifar10", ["--label-smoothing"]), ("lsgan_mnist", ["--augment"]),
])
def test_resume_refuses_a_flag_or_data_that_changes_the_run(name, changed, tmp_path, capsys):
    script = SCRIPTS[name]
    data = tiny_data(tmp_path / "data.npz", name)
    if changed == ["OTHER DATA"]:  # the same file name, other images in it
        other = tmp_path / "other"
        other.mkdir()
        x, y = tiny_mnist(seed=1)
        y[:] = 7
        np.savez(other / "data.npz", x_train=x, y_train=y)
        changed = []
    args = RUNS[name][0] + ["--out", str(tmp_path / "run"), "--seed", "1"]
    if name == "wgan_mnist7":  # sevens and threes both, for --digit 3
        x, y = tiny_mnist()
        y[::2] = 3
        y[1::2] = 7
        np.savez(data, x_train=x, y_train=y)
    assert run_cli(script.main, args + ["--data", data, "--max-steps", "1"], capsys)[0] == 0
    resume_data = str(tmp_path / "other" / "data.npz") if not changed else data
    status, _, err = run_cli(script.main, args + ["--data", resume_data, "--max-steps", "2", "--resume"] + changed,
                             capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert ("the data (--data)" if not changed else f"made with {changed[0]}") in err
    if changed[:1] == ["--digit"]:  # then the run's own flags and data, only longer: accepted (once: the
        # resume of every script with its own flags is tested above)
        status, out, err = run_cli(script.main, args + ["--data", data, "--max-steps", "2", "--resume"], capsys)
        assert status == 0 and "resuming the run" in out, err
