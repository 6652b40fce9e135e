"""Measures of a few pictures, on a run's saved generators: how the collapse guard's third rule was chosen
(docs/long-runs.md, "A few pictures and blends of them").

    python benchmarks/guard_measures.py dcgan_cifar10.py runs/photos64 -- --data photos/ --image-size 64

For each model_*.h5 in the run's folder: the collapse guard's 100 fixed latent points drawn, and the same 100
real images it compares them with (the script's data, read with the flags after --, as the run read it); then
each measure of the samples over the same of the real images, all on images averaged down to 8x8: the spread
and the nearest-neighbour ratio (the guard's, sample_measures.py), the participation ratio of their principal
components, the Levina-Bickel intrinsic dimension (k = 5), coverage (Naeem et al. 2020, k = 5, as a share of the
real images) and NDB over 10 k-means bins of 2,000 real images (Richardson and Weiss 2018, the share of bins whose
proportion differs, p < 0.05). One line a generator; its grid is generated_plot_<step>.png beside it, where the
run drew one.
"""

import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gan_runner  # noqa: E402 (the project's modules, from the folder above)
import generate  # noqa: E402
from sample_measures import averaged_down, distances, nearest_ratio, sample_spread  # noqa: E402


def participation(x):
    """(sum of the principal components' variances)^2 / (sum of their squares): how many directions x varies in."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
    return s.sum() ** 2 / max((s * s).sum(), 1e-30)


def intrinsic_dimension(x, k=5):
    """Levina and Bickel's estimate from each point's k nearest neighbours, the inverses averaged (MacKay and
    Ghahramani's correction)."""
    d = distances(x)
    np.fill_diagonal(d, np.inf)
    t = np.maximum(np.sort(d, axis=1)[:, :k], 1e-12)
    return 1.0 / max(np.log(t[:, -1:] / t[:, :-1]).sum(axis=1).mean() / (k - 1), 1e-12)


def coverage(real, fake, k=5):
    """The share of real points with a generated one inside the ball to their k-th nearest real neighbour."""
    d = distances(real)
    np.fill_diagonal(d, np.inf)
    radius = np.sort(d, axis=1)[:, k - 1]
    both = distances(np.concatenate([real, fake]))[: len(real), len(real):]
    return float((both.min(axis=1) < radius).mean())


def ndb(pool, fake, bins=10, rounds=30):
    """The share of k-means bins of the real pool whose proportion of generated points differs significantly."""
    centres = pool[np.random.default_rng(0).choice(len(pool), bins, replace=False)]
    for _ in range(rounds):
        nearest = ((pool[:, None] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        centres = np.stack([pool[nearest == b].mean(axis=0) if (nearest == b).any() else centres[b]
                            for b in range(bins)])
    share = lambda x: np.bincount(((x[:, None] - centres[None]) ** 2).sum(axis=2).argmin(axis=1),  # noqa: E731
                                  minlength=bins) / len(x)
    p_real, p_fake = share(pool), share(fake)
    both = (p_real * len(pool) + p_fake * len(fake)) / (len(pool) + len(fake))
    error = np.sqrt(np.maximum(both * (1 - both) * (1 / len(pool) + 1 / len(fake)), 1e-12))
    return float((np.abs(p_real - p_fake) / error > 1.96).mean())


def measures(fake, real, pool):
    """Each measure of the generated images over the real images' (coverage and NDB as they are)."""
    f, r = averaged_down(fake), averaged_down(real)
    return {"spread": sample_spread(fake) / sample_spread(real), "nearest": nearest_ratio(fake) / nearest_ratio(real),
            "participation": participation(f) / participation(r),
            "dimension": intrinsic_dimension(f) / intrinsic_dimension(r),
            "coverage": coverage(r, f), "ndb": ndb(averaged_down(pool), f)}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    script_file, run = argv[0], argv[1]
    flags = argv[3:] if argv[2:3] == ["--"] else argv[2:]
    module = __import__(os.path.splitext(os.path.basename(script_file))[0])
    script = gan_runner.Script(vars(module))
    args = gan_runner.parse_args(script, flags + ["--out", os.path.join(run, "unused")])
    images = gan_runner.images_of(gan_runner.read_data(script, args))
    pick = np.random.default_rng(0).choice(len(images), min(100, len(images)), replace=False)  # the guard's
    real = np.asarray(images[np.sort(pick)], "float32")
    pool = np.asarray(images[np.sort(np.random.default_rng(1).permutation(len(images))[:2000])], "float32")
    z = gan_runner.fixed_latent_points(script, args)
    steps = lambda path: int(re.search(r"model_(\d+)", os.path.basename(path)).group(1))  # noqa: E731
    for path in sorted(glob.glob(os.path.join(run, "model_*.h5")), key=steps):
        fake = np.asarray(generate.load_generator(path).predict(z, verbose=0), "float32")
        values = measures(fake, real, pool)
        print(f"{os.path.basename(path)}  " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
