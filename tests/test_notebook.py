"""The notebook user: lsgan_mnist.py run in a real Jupyter kernel (ipykernel, driven by nbclient),
as its cells (# %%) and then the tutorial's own lines, as a reader of the tutorial does in Colab.

The script's last cell is its command line, which a notebook runs with the defaults, as when
the whole script is pasted into one cell: it must train without an argparse error or a
SystemExit (the kernel's sys.argv is not ours, and a cell has no __file__).
"""

import os

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import ROOT, tiny_mnist

# No network here, so the test's first cell stands in for Keras' MNIST download (64 tiny images:
# the default batch of 64 makes an epoch one step, and the default 20 epochs 20 steps).
STAND_IN = """\
import keras, numpy as np
_tiny = np.load("tiny.npz")
keras.datasets.mnist.load_data = lambda: ((_tiny["x_train"], _tiny["y_train"]), (_tiny["x_train"][:8], _tiny["y_train"][:8]))
"""

# The tutorial's closing lines, as its reader types them, with a short run on the tiny data.
DRIVER = """\
d_model = define_discriminator()
g_model = define_generator(LATENT_DIM)
gan_model = define_gan(g_model, d_model)
dataset = load_real_samples("tiny.npz")
history = train(g_model, d_model, gan_model, dataset, LATENT_DIM, n_epochs=2, n_batch=16)
print(len(history["g"]), "steps")
"""


def script_cells(name):
    """The script split at its cell markers, as Jupyter (with jupytext), VS Code and PyCharm do."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        lines = f.readlines()
    starts = [0] + [k for k, line in enumerate(lines) if line.startswith("# %%")] + [len(lines)]
    return ["".join(lines[a:b]) for a, b in zip(starts, starts[1:]) if "".join(lines[a:b]).strip()]


def test_the_script_runs_as_notebook_cells_then_the_tutorial_lines_train(tmp_path):
    x, y = tiny_mnist(64)
    np.savez(tmp_path / "tiny.npz", x_train=x, y_train=y)
    cells = [STAND_IN] + script_cells("lsgan_mnist.py") + [DRIVER]
    assert len(cells) >= 7  # imports, models, data, reports, training, command line (at least)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except Exception as err:  # nbclient's CellExecutionError carries the cell's traceback
        pytest.fail(f"a cell failed:\n{err}")
    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    for bad in ("Traceback", "SystemExit", "unrecognized arguments", "lsgan_mnist.py: error"):
        assert bad not in text, text[-3000:]
    # The command-line cell trained with every default: 20 epochs of one step, into runs/lsgan_mnist.
    run = tmp_path / "runs" / "lsgan_mnist"
    assert "outputs in runs/lsgan_mnist" in text
    assert {"generated_plot_000020.png", "model_000020.h5", "checkpoint.npz", "history.csv"} <= set(os.listdir(run))
    assert len((run / "history.csv").read_text().splitlines()) == 21
    # The tutorial's lines: 2 epochs of 4 steps, the grid and the generator in the notebook's folder.
    assert "8 steps" in text
    assert (tmp_path / "generated_plot_000008.png").is_file() and (tmp_path / "model_000008.h5").is_file()
