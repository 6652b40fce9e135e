"""Shared fixtures: tiny data made here, so the suite needs no download and no shared/ folder."""

import importlib.util
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
THREAD_LIMITS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
XLA_THREAD_LIMIT = "--xla_cpu_multi_thread_eigen=false"
if os.environ.get("PYTEST_XDIST_WORKER"):  # several workers (pytest -n): each keeps to its share of the cores,
    # in this process and in the ones it starts, so that their thread pools do not fight over them
    threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for name in THREAD_LIMITS:
        os.environ.setdefault(name, threads)
    if threads == "1" and XLA_THREAD_LIMIT not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + XLA_THREAD_LIMIT).strip()


def tiny_mnist(n=96, seed=0):
    """Digit-like uint8 images: a bright bar whose position and angle vary, on black."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), dtype="uint8")
    for k in range(n):
        r = rng.integers(6, 22)
        x[k, r - 2 : r + 2, 4:24] = 255
        x[k, 4:24, rng.integers(6, 22)] = 200
    return x, rng.integers(0, 10, n).astype("uint8")


def tiny_data(path, script):
    """An .npz of tiny data the script accepts: colour images for the CIFAR-10 DCGAN, else
    tiny_mnist() labelled 7 (so the WGAN finds its sevens)."""
    if script in ("dcgan_cifar10", "diffaugment_gan"):  # colour, 32x32 (diffaugment_gan: with --image-size 32)
        x = np.random.default_rng(0).integers(0, 256, (48, 32, 32, 3)).astype("uint8")
        y = np.zeros((48, 1), "uint8")
    else:
        x, y = tiny_mnist()
        y[:] = 7
    np.savez(path, x_train=x, y_train=y)
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def evaluation_cache(tmp_path_factory):
    """evaluate.py's cache (digit classifier, reference features) in a temporary folder."""
    os.environ["KERAS_GANS_CACHE"] = str(tmp_path_factory.mktemp("keras_gans_cache"))
    return os.environ["KERAS_GANS_CACHE"]


@pytest.fixture
def mnist_npz(tmp_path):
    x, y = tiny_mnist()
    path = tmp_path / "tiny_mnist.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
    return str(path)


@pytest.fixture(scope="session")
def lsgan_run(tmp_path_factory):
    """A real two-epoch LSGAN run on tiny data (96 images, batch 16: 6 steps an epoch)."""
    import lsgan_mnist

    tmp = tmp_path_factory.mktemp("lsgan")
    x, y = tiny_mnist()
    data = tmp / "tiny.npz"
    np.savez(data, x_train=x, y_train=y)
    out = tmp / "run"
    argv = ["--data", str(data), "--out", str(out), "--epochs", "2", "--batch-size", "16", "--seed", "3"]
    assert lsgan_mnist.main(argv) == 0
    return out


def stand_in_inception(features):
    """A replacement for evaluate.define_inception: a small network with `features` outputs (no
    weights to load), for the plumbing of InceptionV3's scores and the FID/KID rule at small sizes."""
    import keras

    return lambda in_shape, weights: keras.Sequential(
        [keras.Input(in_shape), keras.layers.Conv2D(features, 3), keras.layers.GlobalAveragePooling2D()])


# Packages requirements-dev.txt does not install (PyTorch is several GB), and how to get them.
OPTIONAL = {"torch": "pip install torch", "torch_fidelity": "pip install torch-fidelity"}


def needs(package):
    """Skip the calling test where an optional package is missing, saying which and how to install it (pytest
    prints the reason in its summary: pytest.ini's -rfEs). Under KERAS_GANS_CI=1 (.ci/run, which installs every
    optional package) a missing one fails the test instead: CI never skips what it is there to run."""
    if importlib.util.find_spec(package) is not None:
        return
    reason = f"{package} is not installed ({OPTIONAL[package]}; requirements-dev.txt leaves it out)"
    if os.environ.get("KERAS_GANS_CI"):
        pytest.fail(f"{reason}, and KERAS_GANS_CI is set: CI installs it")
    pytest.skip(reason)


def backend_env(backend, **extra):
    """The environment for a fresh Python process under a Keras backend: on the CPU, importing this
    checkout, TensorFlow's C++ start-up chatter off; extra names set or replace more."""
    return dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                **extra)


def run_cli(main, argv, capsys):
    """main(argv) -> (exit status, stdout, stderr), whether it returns or argparse exits."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err
