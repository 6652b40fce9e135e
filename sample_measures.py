"""Measures of a set of images that need no network: how far apart they lie (sample_spread) and how near each lies
to its nearest other (nearest_ratio). Each image is averaged over blocks to about `side` pixels a side first, so
that layouts and colours count, not a texture's fine grain. The collapse guard (gan_runner.py) compares the
generator's samples with real images by both; evaluate.py reports the second. NumPy only.
What the values were on collapsed and healthy runs: docs/long-runs.md, "The samples"."""

import numpy as np

SIDE = 8  # pixels a side, about, that an image is averaged down to
# Samples whose nearest_ratio is under this times real images' look like a few pictures and blends of them: the
# collapse guard's default (--collapse-nearest) and evaluate.py's warning (docs/long-runs.md: how it was chosen)
FEW_PICTURES_BELOW = 0.5


def averaged_down(images, side=SIDE):
    """The images (n, height, width, channels), each averaged over blocks to about `side` pixels a side, as rows."""
    n, h, w, c = images.shape
    f = max(1, h // side)
    x = images[:, : h // f * f, : w // f * f].reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4))
    return x.reshape(n, -1).astype("float64")


def distances(x):
    """Every pairwise Euclidean distance between the rows of x."""
    squares = (x * x).sum(axis=1)
    return np.sqrt(np.maximum(squares[:, None] + squares[None] - 2.0 * x @ x.T, 0.0))


def sample_spread(images, side=SIDE):
    """The mean distance between two of the images, averaged down: near 0 when they are one picture."""
    d = distances(averaged_down(images, side))
    return d[np.triu_indices(len(d), 1)].mean()


def nearest_ratio(images, side=SIDE):
    """The median distance from an image to its nearest other, over the mean distance between two, the images
    averaged down: how evenly they fill the room they take. Images that vary in many ways at once have their
    nearest neighbour nearly as far as any other (100 photos: about 0.6); a few pictures and blends between them
    lie along a few lines, each image beside another (100 blends of two pictures: about 0.01). The distances are
    those of nearest-neighbour estimates of intrinsic dimension (Levina and Bickel 2004; Pope et al., ICLR 2021,
    on GAN images). 0 for images all alike (a mean distance under 1e-6: rounding's)."""
    d = distances(averaged_down(images, side))
    mean = d[np.triu_indices(len(d), 1)].mean()
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)) / mean) if mean > 1e-6 else 0.0
