"""The notebook user, in a real Jupyter kernel (ipykernel, driven by nbclient), and the user who copies
one script by itself: each script is standalone for its tutorial.

One kernel, as a reader of the tutorial uses Colab: first lsgan_mnist.py pasted whole into one cell
with nothing beside it (no gan_runner.py): it trains with the defaults, as the tutorial's listing
does, and says in one line that the flags need gan_runner.py. Then, in a folder where gan_runner.py
can be imported (a notebook opened in the repository), the script run as its cells (# %%), whose last
cell trains with the defaults through gan_runner, then the tutorial's own lines and main([...]).
Neither may raise SystemExit or read the kernel's sys.argv as flags (a cell has no __file__).
"""

import os
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import ROOT, tiny_mnist

# No network here, so the first cell stands in for Keras' MNIST download (64 tiny images: the
# default batch of 64 makes an epoch one step, and the default 20 epochs 20 steps).
STAND_IN = """\
import keras, numpy as np, os
_tiny = np.load(os.path.abspath("tiny.npz"))
keras.datasets.mnist.load_data = lambda: ((_tiny["x_train"], _tiny["y_train"]), (_tiny["x_train"][:8], _tiny["y_train"][:8]))
"""

# The notebook opened in the repository: gan_runner.py importable, a folder of its own for the runs.
IN_THE_REPOSITORY = f"""\
import os, sys
sys.path.insert(0, {ROOT!r})
os.makedirs("repo", exist_ok=True)
os.chdir("repo")
"""

# The tutorial's closing lines, as its reader types them, with a short run on the tiny data; then the
# command line's main with flags as a list.
DRIVER = """\
d_model = define_discriminator()
g_model = define_generator(LATENT_DIM)
gan_model = define_gan(g_model, d_model)
dataset = load_real_samples("../tiny.npz")
history = train(g_model, d_model, gan_model, dataset, LATENT_DIM, n_epochs=2, n_batch=16)
print(len(history["g"]), "steps")
print("main:", main(["--data", "../tiny.npz", "--epochs", "1", "--batch-size", "16", "--out", "runs/nb"]))
"""


def script_cells(name):
    """The script split at its cell markers, as Jupyter (with jupytext), VS Code and PyCharm do."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        lines = f.readlines()
    starts = [0] + [k for k, line in enumerate(lines) if line.startswith("# %%")] + [len(lines)]
    return ["".join(lines[a:b]) for a, b in zip(starts, starts[1:]) if "".join(lines[a:b]).strip()]


def stream_text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


def test_pasted_alone_then_as_cells_in_the_repository_in_one_kernel(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the kernel finds no gan_runner.py until the notebook says
    x, y = tiny_mnist(64)
    np.savez(tmp_path / "tiny.npz", x_train=x, y_train=y)
    with open(os.path.join(ROOT, "lsgan_mnist.py"), encoding="utf-8") as f:
        whole = f.read()
    cells = script_cells("lsgan_mnist.py")
    assert len(cells) >= 7  # imports, models, data, reports, training, command line (at least)
    sources = [STAND_IN, whole, IN_THE_REPOSITORY] + cells + [DRIVER]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except Exception as err:  # nbclient's CellExecutionError carries the cell's traceback
        pytest.fail(f"a cell failed:\n{err}")
    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    alone, command_line, driver = stream_text(nb.cells[1]), stream_text(nb.cells[2 + len(cells)]), stream_text(nb.cells[-1])
    text = "".join(stream_text(cell) for cell in nb.cells)
    for bad in ("Traceback", "SystemExit", "unrecognized arguments", "lsgan_mnist.py: error"):
        assert bad not in text, text[-3000:]
    # Pasted alone: one line says so, then the run of every default (20 epochs of one step here),
    # with its progress bar, grids, generators and loss plot.
    notice = [line for line in alone.splitlines() if "gan_runner.py" in line]
    assert notice == ["lsgan_mnist.py: alone (no gan_runner.py beside it, which the flags need): every default, "
                      "into runs/lsgan_mnist"]
    assert "Epoch 20/20" in alone and "1/1" in alone  # Keras' progress bar
    run = tmp_path / "runs" / "lsgan_mnist"
    assert {"generated_plot_000020.png", "model_000020.h5", "plot_line_plot_loss.png", "history.csv"} <= set(os.listdir(run))
    assert "checkpoint.npz" not in os.listdir(run)  # no run machinery
    # As cells in the repository: the command-line cell trained with every default through gan_runner.
    repo = tmp_path / "repo"
    assert "outputs in runs/lsgan_mnist" in command_line and "training on cpu:0" in command_line
    assert {"generated_plot_000020.png", "model_000020.h5", "checkpoint.npz", "run.json"} <= set(
        os.listdir(repo / "runs" / "lsgan_mnist"))
    assert len((repo / "runs" / "lsgan_mnist" / "history.csv").read_text().splitlines()) == 21
    # The tutorial's lines: 2 epochs of 4 steps, the grid and the generator in the notebook's folder; main([...]).
    assert "8 steps" in driver and "main: 0" in driver
    assert (repo / "generated_plot_000008.png").is_file() and (repo / "model_000008.h5").is_file()
    assert (repo / "runs" / "nb" / "checkpoint.npz").is_file()


# A script copied by itself into an empty folder and run there: Python puts that folder first on its
# path, as `python lsgan_mnist.py` does (runpy, so that the stand-in for the download comes first).
COPIED_ALONE = STAND_IN + "import runpy\nrunpy.run_path('lsgan_mnist.py', run_name='__main__')\n"


def test_a_script_copied_alone_trains_with_the_defaults(tmp_path):
    """(Flags without gan_runner.py, one line and exit status 2: the test below, for every script.)"""
    import shutil

    x, y = tiny_mnist(64)
    np.savez(tmp_path / "tiny.npz", x_train=x, y_train=y)
    shutil.copy(os.path.join(ROOT, "lsgan_mnist.py"), tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run([sys.executable, "-c", COPIED_ALONE], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "every default, into runs/lsgan_mnist" in result.stdout
    files = set(os.listdir(tmp_path / "runs" / "lsgan_mnist"))
    assert {"generated_plot_000020.png", "model_000020.h5", "plot_line_plot_loss.png", "history.csv"} <= files


@pytest.mark.parametrize("name", ["lsgan_mnist", "wgan_mnist7", "dcgan_mnist", "dcgan_cifar10", "cgan_mnist",
                                  "diffaugment_gan"])
def test_alone_each_script_trains_its_tutorial_models_with_the_defaults_into_a_new_folder(name, tmp_path, monkeypatch,
                                                                                          capsys):
    """main() without gan_runner: the tutorial's models and train() with every default, into OUT_DIR, or
    OUT_DIR-2 when OUT_DIR exists (nothing written over); flags refused in one line, exit status 2."""
    import importlib

    script = importlib.import_module(name)
    calls = []
    monkeypatch.setattr(script, "gan_runner", None)
    monkeypatch.setattr(script, "load_real_samples", lambda *args: "the data from Keras")
    monkeypatch.setattr(script, "train", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.chdir(tmp_path)
    os.makedirs(script.OUT_DIR)  # an earlier run's folder
    assert script.main([]) == 0
    [(args, kwargs)] = calls
    g_model, d_model, gan_model, data, latent_dim = args
    assert (g_model.name, gan_model.name, data, latent_dim) == ("generator", "gan", "the data from Keras",
                                                                script.LATENT_DIM)
    assert d_model.name == ("critic" if name == "wgan_mnist7" else "discriminator")
    assert kwargs == {"out_dir": script.OUT_DIR + "-2"}
    assert f"every default, into {script.OUT_DIR}-2" in capsys.readouterr().out
    assert script.main(["--help"]) == 2
    assert capsys.readouterr().err == f"{name}.py: error: the flags need gan_runner.py beside this script\n"
