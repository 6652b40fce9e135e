"""A short seeded run of each script gives what it gave before the run machinery moved out of the
scripts into gan_runner.py: the same history.csv, the same generator weights, the same files and
run.json. The values in replay_recorded.json were recorded from the code at 4b02083 (each script
whole, before the move; cgan_mnist.py and diffaugment_gan.py, which came later, from their first code) with

    python tests/test_replay.py --record [SCRIPT ...]

once for each environment they hold (CPU model and flags, Keras, TensorFlow, NumPy, backend, and
TensorFlow's thread counts: pytest -n gives each worker its share of the cores, and a seeded run's
rounding depends on how many threads split its sums). In a recorded environment the comparison is
exact, to the last bit of every weight. Elsewhere other kernels round differently (AVX2 against
AVX-512, another TensorFlow), and a GAN's losses drift apart from there within a few steps: Adam's first
updates are the sign of each gradient times the learning rate, so a gradient near 0 that rounds to the
other sign moves its weight by a whole step. Measured between the recordings (AVX2 and AVX-512 BF16 Zen
CPUs, an AVX-512 FP16 Xeon; 1 and 2 threads; tests/test_replay.py's RUNS): the Zens apart by at most 9e-6 at
step 1, 2e-4 at step 2, 3e-3 by step 4; the Xeon's LSGAN apart from every Zen recording by 7.4e-5 at step 1
(its d2 and g come after the discriminator's first update), 3.4e-3 at step 2, 2.9e-2 at step 4, which
failed this test there at the earlier tolerances (1e-4, 1e-3) in every run. The first step's losses are
compared to 1e-3 and the second's to 1e-2, which a change in what a run draws or computes (an extra random
draw, another learning rate, another batch) misses by far more, and the run's files and run.json exactly.
"""

import hashlib
import io
import json
import os
import platform
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import run_cli, tiny_data  # noqa: E402

RECORDED = os.path.join(HERE, "replay_recorded.json")
# script: its flags for a run that crosses an epoch's end (a report, a checkpoint) and stops mid-epoch
RUNS = {
    "lsgan_mnist": ["--batch-size", "16", "--max-steps", "8"],  # 6 steps an epoch
    "wgan_mnist7": ["--batch-size", "16", "--n-critic", "2", "--max-steps", "8"],
    "dcgan_mnist": ["--batch-size", "8", "--steps", "6", "--save-every", "4"],
    "dcgan_cifar10": ["--batch-size", "16", "--max-steps", "5", "--save-every", "1"],  # 3 steps an epoch
    # recorded from its first code, on the Xeon only, with the tutorial's updates (its defaults then)
    "cgan_mnist": ["--batch-size", "16", "--max-steps", "8", "--no-label-smoothing", "--no-mismatched-labels"],
    # 6 steps an epoch; recorded from its code at a096f8f on the Zen 4 (AVX-512) only
    "diffaugment_gan": ["--image-size", "32", "--batch-size", "8", "--max-steps", "8", "--save-every", "1"],
}
TOLERANCES = (1e-3, 1e-2)  # the first two steps' losses, elsewhere than a recorded environment


def environment():
    """What the exactness of a seeded run depends on, besides the code."""
    import keras
    import tensorflow as tf

    cpu = ""
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
        flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
        cpu = model + " " + " ".join(sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))))
    threads = "/".join(os.environ.get(name, "default") for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"))
    environment = dict(cpu=cpu or platform.processor(), keras=keras.__version__, tensorflow=tf.__version__,
                       numpy=np.__version__, backend=keras.backend.backend(), threads=threads)
    for name in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS"):  # other kernels on the same CPU
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def replay(name, folder, capsys):
    """Run the script's short seeded run in folder; what it gave, as recorded."""
    import importlib

    import keras

    script = importlib.import_module(name)
    out = folder / "run"
    argv = RUNS[name] + ["--data", tiny_data(folder / "data.npz", name), "--out", str(out), "--seed", "1"]
    status, stdout, err = run_cli(script.main, argv, capsys)
    assert status == 0, err
    models = sorted(n for n in os.listdir(out) if n.startswith("model_"))
    weights = keras.models.load_model(out / models[-1], compile=False).get_weights()
    info = json.loads((out / "run.json").read_text())
    for key in ("keras_version", "backend", "devices"):  # the software's, not the run's
        info.pop(key, None)
    return dict(
        history=(out / "history.csv").read_text(),
        weights_sha1=hashlib.sha1(b"".join(np.ascontiguousarray(w, "float32").tobytes() for w in weights)).hexdigest(),
        files=sorted(os.listdir(out)),
        run_json=info,
        last_line=stdout.strip().splitlines()[-1].replace(str(out), "OUT"),
    )


def numbers(history):
    return np.array([[float(v) for v in row.split(",")] for row in history.splitlines()[1:]])


ADDED_SINCE = "diversity.csv"  # the collapse guard's spread at each epoch's end, written since the recordings


def recordings():
    if not os.path.isfile(RECORDED):
        return []
    with open(RECORDED, encoding="utf-8") as f:
        return json.load(f)["recordings"]


@pytest.mark.parametrize("name", list(RUNS))
def test_a_seeded_run_gives_what_it_gave_before_the_machinery_moved(name, tmp_path, capsys):
    recorded = [r for r in recordings() if name in r["runs"]]  # a later script: where it was recorded
    assert recorded, f"{name}: no recording; make one with python tests/test_replay.py --record {name}"
    here = next((r for r in recorded if r["environment"] == environment()), None)
    expected, now = (here or recorded[0])["runs"][name], replay(name, tmp_path, capsys)
    assert now["files"] == sorted(set(expected["files"]) | {ADDED_SINCE})
    assert now["last_line"] == expected["last_line"]
    for key, value in expected["run_json"].items():  # every field stays (later work may add fields)
        assert now["run_json"].get(key) == value, key
    assert now["history"].splitlines()[0] == expected["history"].splitlines()[0]
    assert len(now["history"].splitlines()) == len(expected["history"].splitlines())
    if here is not None:
        assert now["history"] == expected["history"]
        assert now["weights_sha1"] == expected["weights_sha1"]
    else:
        for step, rtol in enumerate(TOLERANCES):
            np.testing.assert_allclose(numbers(now["history"])[step], numbers(expected["history"])[step], rtol=rtol)


def record(names=tuple(RUNS)):
    """Add this environment's recording of the scripts `names` to replay_recorded.json, from this checkout's code
    (the code before the change it guards; a new script's first code), keeping its recordings of the others."""
    import pathlib
    import tempfile

    class Capture:  # run_cli's capsys, for a run outside pytest
        def readouterr(self):
            out, sys.stdout = sys.stdout.getvalue(), io.StringIO()
            return type("Captured", (), dict(out=out, err=""))

    runs = next((r["runs"] for r in recordings() if r["environment"] == environment()), {})
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            sys.stdout, real = io.StringIO(), sys.stdout
            try:
                runs[name] = replay(name, pathlib.Path(folder), Capture())
            finally:
                sys.stdout = real
        print(name, runs[name]["weights_sha1"])
    others = [r for r in recordings() if r["environment"] != environment()]
    with open(RECORDED, "w", encoding="utf-8") as f:
        json.dump(dict(recordings=others + [dict(environment=environment(), runs=runs)]), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"] or not set(sys.argv[2:]) <= set(RUNS):
        sys.exit(f"usage: python tests/test_replay.py --record [SCRIPT ...]  (of {', '.join(RUNS)}; default: all)")
    sys.path.insert(0, os.path.dirname(HERE))
    record(sys.argv[2:] or tuple(RUNS))
