"""The small helpers every part of keras-gans shares, in the one module that imports nothing of this project
(and not Keras): the training scripts' copies (save_atomically, the grid), the command lines' parser and number
types, the cache folder, GPU memory sharing. gan_runner.py, generate.py, evaluate.py and image_folder.py import
them from here, so the modules stack in one direction (docs/layout-and-tests.md, "The modules"):

    gan_utils  <-  image_folder  <-  evaluate  <-  gan_runner  <-  the training scripts
               <-  generate      <-  evaluate
                   augmentation  <-  gan_runner

(image_folder and generate are imported by evaluate; gan_runner imports evaluate and image_folder only when a run
needs them; augmentation, DiffAugment for --augment, imports Keras alone). A script pasted alone into a notebook
keeps copies of the helpers its tutorial calls (tools/check_copies.py checks them), so it needs none of these modules.
"""

import argparse
import os

import numpy as np
from matplotlib.image import imsave

OUTPUT_RANGE = (-1.0, 1.0)  # tanh's: the grids' default
GREY_REVERSED = True  # grids draw grey images black on white, as the tutorials drew MNIST: the default


# ---- Command lines: one-line errors, numbers checked ------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {text}")
    return value



# ---- Files, the cache, the GPU's memory -------------------------------------------------------
def share_gpu_memory():
    """GPU memory taken as needed, not mapped whole, so that several runs (or evaluate.py's PyTorch)
    share a GPU: TensorFlow's memory growth, JAX without preallocation. Read when the framework first
    touches the GPU, which importing Keras does not do; a variable the user set wins."""
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def cache_dir():
    """This project's cache folder (decoded image folders, evaluate.py's statistics and digit classifier):
    $KERAS_GANS_CACHE, else ~/.cache/keras-gans."""
    return os.environ.get("KERAS_GANS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "keras-gans")


def save_atomically(path, write):
    """Call write(tmp), then rename tmp to path: a run stopped mid-save never leaves half a file."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{os.getpid()}.partial.{name}")  # keeps the extension
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)



# ---- The grid the tutorials draw (the scripts keep copies) -----------------------------------
def save_grid(images, path, value_range=OUTPUT_RANGE, columns=None, reverse_grey=None):
    """grid_pixels() of the images as a PNG, written whole; returns the picture."""
    pixels = grid_pixels(images, value_range, columns=columns, reverse_grey=reverse_grey)
    save_atomically(path, lambda tmp: imsave(tmp, pixels, cmap="gray", vmin=0.0, vmax=1.0, format="png"))
    return pixels


def grid_pixels(images, value_range=OUTPUT_RANGE, scale=2, columns=None, reverse_grey=None):
    """Images in a grid (square, unless `columns` is given) as one picture in [0,1], each pixel shown
    scale x scale; grey drawn black on white (reversed) as the tutorials drew MNIST, unless reverse_grey
    (default: GREY_REVERSED) is False, as for a folder of one's own grey photos."""
    cols = columns or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // cols)
    h, w, c = images.shape[1:]
    lo, hi = value_range
    images = np.clip((np.asarray(images, "float32") - lo) / (hi - lo), 0.0, 1.0)
    if c == 1 and (GREY_REVERSED if reverse_grey is None else reverse_grey):
        images = 1.0 - images
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), dtype="float32")
    for k, image in enumerate(images):
        row, col = divmod(k, cols)
        grid[1 + row * (h + 1) : (row + 1) * (h + 1), 1 + col * (w + 1) : (col + 1) * (w + 1)] = image
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid[..., 0] if c == 1 else grid
