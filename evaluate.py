"""Score saved generators objectively, and name the best one.

    python evaluate.py runs/lsgan_mnist/model_*.h5 --dataset mnist
    python evaluate.py "runs/wgan_mnist7/model_*.h5" --dataset mnist7 --data mnist.npz --no-inception
    python evaluate.py runs/dcgan_cifar10/model_*.h5 --dataset cifar10 --inception-weights notop.h5
    python evaluate.py runs/photos/model_*.h5 --data photos/           # against your own images

For every generator: FID and KID on the pool features of Keras' InceptionV3 (ImageNet weights). They rank
this project's generators against each other; they are not the FID papers report, which uses the TTUR
Inception graph and differs from other Inception networks' FIDs: compare these numbers only with FIDs
computed here. --fid torch-fidelity scores with that graph instead, as torch-fidelity ports it
(pip install torch-fidelity; columns fid_ttur, kid_ttur). For MNIST, also a digit classifier's
verdict: how many digits it draws (coverage), how far its digit histogram is from uniform (KL), how sure
the classifier is (top probability), and a second FID in the classifier's own feature space that needs
no download. For --dataset mnist7, the share of samples that are sevens.
A first row scores real held-out images (the test set) the same way: the best a generator can hope for.

Results go to the screen, to scores.csv and scores.png in --out (default: the first model's folder).
Reference statistics, InceptionV3 features of real data and the trained digit classifier are cached
in --cache, so scoring 20 checkpoints costs 20 generator passes.
"""

import argparse
import csv
import glob
import hashlib
import json
import os
import re
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras
from keras import layers
from scipy import linalg

import gan_utils
import generate
from gan_utils import save_atomically
from sample_measures import FEW_PICTURES_BELOW, nearest_ratio

# On a GPU, TensorFlow and JAX take nearly all its memory at start-up; --fid torch-fidelity runs PyTorch
# beside them, so they take only what they use (the user's own setting wins), as the training scripts do.
gan_utils.share_gpu_memory()

N_SAMPLES = 10000          # generated images per generator, and real images for the reference, as published
FEATURE_BATCH = 100        # images per forward pass: memory stays bounded at any --n
KID_SUBSETS = 100          # KID: mean of the unbiased MMD estimate over this many subsets...
KID_SUBSET_SIZE = 1000     # ...of this many images each (as torch-fidelity and clean-fid do)
COVERAGE_SHARE = 0.02      # a digit counts as covered when it holds at least 2% of samples
CLASSIFIER_EPOCHS = 5
MIN_CLASSIFIER_ACCURACY = 0.99
INCEPTION_SIZE = 299
FIDS = {  # --fid: the network behind FID and KID -> (score names, as the lines name them)
    "keras": (("fid", "kid"), "Keras InceptionV3"),
    "torch-fidelity": (("fid_ttur", "kid_ttur"), "TTUR Inception, torch-fidelity"),
}
SCORE_NAMES = ("fid", "kid", "fid_ttur", "kid_ttur", "cfid", "swd")  # the main scores, in the order lines show them
TORCH_FIDELITY_INSTALL = "pip install torch-fidelity"  # brings PyTorch and torchvision
TORCH_FIDELITY_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # the file torch-fidelity downloads
KERAS_INCEPTION_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the file Keras downloads
DATASETS = {"mnist": (28, 28, 1), "mnist7": (28, 28, 1), "cifar10": (32, 32, 3)}  # and "folder": --data FOLDER
# --metric swd: the sliced Wasserstein distance on Laplacian-pyramid patches, as ProGAN's metrics/sliced_wasserstein.py
# (Karras et al. 2018, tkarras/progressive_growing_of_gans) computes it: its constants.
SWD_PATCH = 7               # 7x7 neighbourhoods...
SWD_PATCHES_PER_IMAGE = 128  # ...128 of them from each image, at every level of its pyramid
SWD_REPEATS, SWD_DIRECTIONS = 4, 128  # random projections: 4 sets of 128 directions
SWD_SMALLEST = 16           # pyramid levels down to 16x16 (a 28x28 image: one level, the image itself)
METRICS = ("default", "swd")  # --metric: Inception's FID and KID (MNIST: and the classifier's), or SWD only
SWD_EVAL_IMAGES = 2000     # a training script's --eval-metric swd: generated and training images per score
NEAREST_IMAGES = 100       # "nearest": from as many images on each side as the collapse guard draws


# ---------------------------------------------------------------------------------------
# Data: real images as uint8 (n, h, w, c); scaled to [0,1] one batch at a time
# ---------------------------------------------------------------------------------------
def load_dataset(name, path=None, shape=None, cache=None):
    """{"x_train", "y_train", "x_test", "y_test"} of an MNIST or CIFAR-10 .npz (or a Keras
    download), or ("folder") of a folder's images prepared at shape as for training (image_folder.py,
    its cache); images (n, h, w, c) uint8, labels (n,) or None. ValueError if unusable."""
    if name == "folder":
        import image_folder

        with np.load(image_folder.prepare(path, shape, cache=cache)) as data:
            return dict(x_train=data["x_train"], y_train=None, x_test=None, y_test=None)
    if path is None:
        source = keras.datasets.cifar10 if name == "cifar10" else keras.datasets.mnist
        (x_train, y_train), (x_test, y_test) = source.load_data()
        arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    else:
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no such data file")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in data.files}
        except Exception as err:  # zipfile/OSError/pickle errors all mean: not a readable .npz
            raise ValueError(f"{path}: not a readable .npz file ({err})") from None
        if "x_train" not in arrays:
            raise ValueError(f"{path}: no x_train array")
    shape = DATASETS[name]
    out = {}
    for split in ("train", "test"):
        x, y = arrays.get("x_" + split), arrays.get("y_" + split)
        if x is not None and x.ndim == 3 and shape[-1] == 1:
            x = x[..., np.newaxis]
        if x is not None and x.shape[1:] != shape:
            raise ValueError(f"{path}: x_{split} has images of shape {x.shape[1:]}, but {name} images are {shape}")
        if y is not None:
            y = np.asarray(y).reshape(-1)
            if len(y) != len(x):
                raise ValueError(f"{path}: y_{split} has {len(y)} labels for {len(x)} images")
        out["x_" + split], out["y_" + split] = x, y
    if name.startswith("mnist") and out["y_train"] is None:
        raise ValueError(f"{path}: no y_train labels, which the digit classifier needs")
    return out


def reference_images(x, y, n, digit=None, labels=False):
    """Up to n real images (of one digit if asked), the same ones on every call; labels=True: and their labels."""
    if digit is not None:
        x, y = x[y == digit], y[y == digit]
    if len(x) == 0:
        raise ValueError(f"no real images of digit {digit} in the data")
    if len(x) > n:
        pick = np.sort(np.random.default_rng(0).permutation(len(x))[:n])
        x, y = x[pick], None if y is None else y[pick]
    return (x, y) if labels else x


def check_image_shape(generator, shape, name="the generator", what="the data's"):
    """ValueError unless the generator makes images of this shape."""
    out_shape = tuple(generator.outputs[0].shape[1:])
    if out_shape != tuple(shape):
        raise ValueError(f"{name}: makes images of shape {out_shape}, but {what} images are {tuple(shape)}")


def to_unit(images):
    return np.asarray(images, dtype="float32") / 255.0


def batches_of_real(x):
    for i in range(0, len(x), FEATURE_BATCH):
        yield to_unit(x[i : i + FEATURE_BATCH])


def batches_of_generated(generator, n, value_range, distribution, seed=0, labels=None):
    """n samples of a generator, FEATURE_BATCH at a time, scaled to [0,1] from value_range; a conditional
    generator's of the classes in `labels` (asked_labels)."""
    rng = np.random.default_rng(seed)
    latent_dim = generator.inputs[0].shape[-1]
    lo, hi = value_range
    for i in range(0, n, FEATURE_BATCH):
        z = generate.latent_points(latent_dim, min(FEATURE_BATCH, n - i), distribution, rng)
        images = np.asarray(generator.predict_on_batch(z if labels is None else [z, labels[i : i + len(z)]]),
                            dtype="float32")
        yield np.clip((images - lo) / (hi - lo), 0.0, 1.0)


def asked_labels(generator, n):
    """The classes a conditional generator (generate.classes_of) is asked for in n samples: each in turn, as many
    of each as n allows; None for a generator of no classes."""
    n_classes = generate.classes_of(generator)
    return None if n_classes is None else np.arange(n) % n_classes


# ---------------------------------------------------------------------------------------
# Feature networks: take images in [0,1] of the dataset's shape
# ---------------------------------------------------------------------------------------
def define_inception(in_shape, weights="imagenet"):
    """InceptionV3 pool features (2048): resize to 299x299, grey to three channels, scale to
    [-1,1] as the network was trained. weights: "imagenet" (Keras downloads them), a file, or None."""
    images = keras.Input(in_shape)
    x = layers.Resizing(INCEPTION_SIZE, INCEPTION_SIZE, interpolation="bilinear")(images)
    if in_shape[-1] == 1:
        x = layers.Concatenate()([x, x, x])
    x = layers.Rescaling(2.0, offset=-1.0)(x)
    base = keras.applications.InceptionV3(
        include_top=False, weights=weights, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
    )
    return keras.Model(images, base(x), name="inception_features")


def import_torch_fidelity():
    """Import torch-fidelity (the optional install) without crashing the process. TensorFlow 2.20+ loads
    its LLVM into the global symbol table, and triton (PyTorch's GPU compiler, which importing torchvision
    loads when it is installed) then segfaults as it loads (tensorflow/tensorflow#124205; measured: TF 2.21,
    triton 3.8). torch-fidelity does not use triton, so when TensorFlow came first, triton is marked
    missing while torch-fidelity imports: PyTorch then runs without it in this process."""
    block = "tensorflow" in sys.modules and "triton" not in sys.modules
    if block:
        sys.modules["triton"] = None  # `import triton` raises ImportError, which PyTorch handles
    try:
        import torch_fidelity
    finally:
        if block and sys.modules.get("triton", 0) is None:
            del sys.modules["triton"]
    return torch_fidelity


class TorchFidelityInception:
    """torch-fidelity's port of the TTUR Inception graph (inception-2015-12-05, the network behind
    published FIDs) as a feature network here: predict_on_batch takes images in [0,1] (n, h, w, c) and
    returns its 2,048 pool features. torch-fidelity resizes to 299x299 as TensorFlow 1 did, from 8-bit
    RGB images, as published FIDs were computed from saved PNGs: the images are rounded to 8 bits (the
    real ones are 8-bit already, so they go in unchanged) and grey is copied to three channels.
    weights: torch-fidelity's weights file, or None (it downloads them once, to PyTorch's hub cache)."""

    def __init__(self, weights=None):
        torch_fidelity = import_torch_fidelity()
        import torch

        self.torch = torch
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.network = torch_fidelity.FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=weights
        ).to(self.device)

    def predict_on_batch(self, images):
        x = np.rint(np.asarray(images) * 255.0).astype("uint8")
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        x = self.torch.from_numpy(x).permute(0, 3, 1, 2).to(self.device)  # NCHW, as PyTorch lays images out
        with self.torch.no_grad():
            (features,) = self.network(x)
        return features.cpu().numpy()


def define_classifier(seed=0):
    """A small MNIST CNN; its 128-unit "features" layer is the space of the classifier FID. Every
    random part has a seed of its own: building and training it reseed nothing of the caller's."""
    init = [keras.initializers.GlorotUniform(seed=seed + k) for k in range(4)]
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu", kernel_initializer=init[0]),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", kernel_initializer=init[1]),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3, seed=seed + 4),
            layers.Dense(128, activation="relu", name="features", kernel_initializer=init[2]),
            layers.Dropout(0.3, seed=seed + 5),
            layers.Dense(10, activation="softmax", name="digit", kernel_initializer=init[3]),
        ],
        name="digit_classifier",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_classifier(x_train, y_train, x_test, y_test, epochs=CLASSIFIER_EPOCHS, seed=0):
    """(classifier, test accuracy). Without a test split, the last tenth of train is held out."""
    if x_test is None or y_test is None:
        n_held = max(1, len(x_train) // 10)
        x_train, x_test = x_train[:-n_held], x_train[-n_held:]
        y_train, y_test = y_train[:-n_held], y_train[-n_held:]
    model = define_classifier(seed)
    rng = np.random.default_rng(seed)  # its own: the caller's NumPy, Python and backend states stay as they were
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        model.fit(to_unit(x_train[order]), y_train[order], batch_size=128, epochs=1, shuffle=False, verbose=0)
    _, accuracy = model.evaluate(to_unit(x_test), y_test, batch_size=1000, verbose=0)
    return model, float(accuracy)


def feature_outputs(model):
    """The classifier as a model that returns (features, digit probabilities)."""
    return keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])


def run_features(network, batches):
    """Concatenated outputs of network over the batches (a list when it has several outputs)."""
    parts = None
    for batch in batches:
        out = network.predict_on_batch(batch)
        out = [np.asarray(o, "float64") for o in (out if isinstance(out, (list, tuple)) else [out])]
        parts = [[o] for o in out] if parts is None else [p + [o] for p, o in zip(parts, out)]
    return [np.concatenate(p) for p in parts]


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------
def statistics(features):
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)). A singular product gets eps on the
    diagonals, and the tiny imaginary part sqrtm leaves is dropped, as pytorch-fid does."""
    diff = mu1 - mu2
    with warnings.catch_warnings(record=True) as singular:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if singular or not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def kernel_distance(f1, f2, n_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """KID: the unbiased MMD^2 with kernel (x.y/d + 1)^3, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(f1), len(f2))
    d = f1.shape[1]
    estimates = []
    for _ in range(n_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        estimates.append(within - 2.0 * kxy.mean())
    return float(np.mean(estimates))


def torch_fidelity_scores(f1, f2, fid=True):
    """FID (when fid) and KID as torch-fidelity computes them from the same features (its formulas,
    float32 features as its extractor gives them, its KID subsets and seed): fid_ttur, kid_ttur."""
    import_torch_fidelity()
    import torch
    from torch_fidelity import KEY_METRIC_FID, KEY_METRIC_KID_MEAN
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    f1, f2 = (torch.from_numpy(np.asarray(f, dtype="float32")) for f in (f1, f2))
    scores = {}
    if fid:
        stats = [fid_features_to_statistics(f) for f in (f1, f2)]
        scores["fid_ttur"] = fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]
    kid = kid_features_to_metric(f1, f2, kid_subset_size=min(KID_SUBSET_SIZE, len(f1), len(f2)),
                                 kid_subsets=KID_SUBSETS, verbose=False)
    scores["kid_ttur"] = kid[KEY_METRIC_KID_MEAN]
    return scores


def class_scores(probabilities, features, asked, reference, reference_labels):
    """A conditional generator's: the share of its samples the digit classifier reads as the digit asked for
    ("agreement"), over all and per class, and each class's classifier FID against real images of that digit
    (where there are as many of each as features: fewer give a singular covariance)."""
    said = probabilities.argmax(axis=1)
    scores = {"agreement": float((said == asked).mean())}
    scores.update({f"agreement_{k}": float((said[asked == k] == k).mean()) for k in np.unique(asked)})
    for k in np.unique(asked):
        mine, real = features[asked == k], reference[reference_labels == k]
        if min(len(mine), len(real)) >= features.shape[1]:
            scores[f"cfid_{k}"] = frechet_distance(*statistics(mine), *statistics(real))
    return scores


def digit_scores(probabilities, digit=None):
    """What the classifier says of a set of images: the share of each digit, coverage (digits
    with at least COVERAGE_SHARE), KL from uniform, mean top probability, and one digit's share."""
    shares = np.bincount(probabilities.argmax(axis=1), minlength=10) / len(probabilities)
    nonzero = shares[shares > 0]
    scores = {
        "coverage": int((shares >= COVERAGE_SHARE).sum()),
        "kl": float((nonzero * np.log(nonzero * 10)).sum()),
        "top_p": float(probabilities.max(axis=1).mean()),
    }
    if digit is not None:
        scores[f"share_{digit}"] = float(shares[digit])
    scores.update({f"digit_{k}": float(s) for k, s in enumerate(shares)})
    return scores


# ---------------------------------------------------------------------------------------
# Cache: files named by what they were computed from, written to a temporary name first
# ---------------------------------------------------------------------------------------
def fingerprint(*parts):
    h = hashlib.sha1()
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else str(part).encode())
    return h.hexdigest()[:12]


def file_fingerprint(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Scorer:
    """Scores generators of one dataset. Built once (reference statistics from the cache or
    computed and cached), then called on each generator: scorer(generator) -> {metric: value}.

    inception: use InceptionV3 (FID, KID); fid: which one, "keras" (Keras' InceptionV3: fid, kid) or
    "torch-fidelity" (the TTUR graph: fid_ttur, kid_ttur); inception_weights: "imagenet" (the chosen
    network's own, downloaded once), a file, or None (Keras' only, random: plumbing only). MNIST
    datasets always get the digit classifier's metrics and its FID ("cfid").
    InceptionV3's FID needs at least as many images as its features (2,048): a covariance from
    fewer is singular and the distance biased high. With fewer, only KID is reported (unbiased at
    any size); with fewer than N_SAMPLES, the FID is not comparable with published ones, and the
    log says so.
    """

    def __init__(self, dataset, data=None, n=N_SAMPLES, inception=True, inception_weights="imagenet",
                 cache_dir=None, digit=None, log=print, fid="keras", shape=None, metric="default"):
        if dataset not in DATASETS and dataset != "folder":
            raise ValueError(f"unknown dataset {dataset!r}: choose from {', '.join(DATASETS)}, or give a folder")
        if metric not in METRICS:
            raise ValueError(f"unknown --metric {metric!r}: choose from {', '.join(METRICS)}")
        if metric == "swd":  # from the images alone: no network
            inception = False
        elif not dataset.startswith("mnist") and not inception:
            raise ValueError(f"{'a folder' if dataset == 'folder' else dataset} has no digit classifier: its scores "
                             "need InceptionV3")
        if fid not in FIDS:
            raise ValueError(f"unknown --fid {fid!r}: choose from {', '.join(FIDS)}")
        self.dataset, self.n, self.shape, self.log = dataset, n, tuple(shape or DATASETS[dataset]), log
        self.digit = 7 if dataset == "mnist7" and digit is None else digit
        self.cache_dir = cache_dir or gan_utils.cache_dir()
        os.makedirs(self.cache_dir, exist_ok=True)
        arrays = load_dataset(dataset, data, self.shape, self.cache_dir)
        x_ref, self.y_ref = reference_images(arrays["x_train"], arrays["y_train"], n, self.digit, labels=True)
        x_floor = None
        if arrays["x_test"] is not None and (self.digit is None or arrays["y_test"] is not None):
            x_floor = reference_images(arrays["x_test"], arrays["y_test"], n, self.digit)
        self.networks, self.swd_reference = {}, None  # kind -> (network, key); SWD's descriptors of x_ref
        if metric == "swd":
            return self.score_by_swd(x_ref, x_floor)
        self.nearest_reference = nearest_ratio(np.asarray(x_ref[:NEAREST_IMAGES], "float32"))
        if dataset.startswith("mnist"):
            classifier = self.load_classifier(arrays)
            self.networks["classifier"] = (feature_outputs(classifier), file_fingerprint(self.classifier_path))
        kind = "inception" if fid == "keras" else "ttur"  # the FID network, by --fid
        if inception:
            self.networks[kind] = self.load_inception(fid, inception_weights)
        self.reference = {kind: self.cached_features(kind, "train", x_ref) for kind in self.networks}
        self.floor_images = x_floor
        self.metric = "cfid"
        if inception:  # chosen from the images really scored: n generated against the reference's real ones
            (fid_name, kid_name), _ = FIDS[fid]
            features, scored = self.reference[kind][0].shape[1], min(n, len(x_ref))
            self.metric = fid_name if self.fid_possible(scored, features) else kid_name
            if self.metric == kid_name:
                self.log(f"InceptionV3 FID needs at least {features} images on each side (its features): with {n} "
                         f"generated against {len(x_ref)} real, KID is the score (unbiased at any size)")
            elif scored < N_SAMPLES:
                self.log(f"FID from {scored} images is biased high: compare it only with FIDs of as many images")

    # -- building what the scores need, once --------------------------------------------
    def score_by_swd(self, x_ref, x_floor=None):
        """--metric swd: SWD against the real images x_ref (uint8), and no network."""
        self.networks, self.reference, self.floor_images, self.metric = {}, {}, x_floor, "swd"
        self.swd_reference = swd_descriptors(x_ref)
        self.nearest_reference = nearest_ratio(np.asarray(x_ref[:NEAREST_IMAGES], "float32"))

    def load_inception(self, fid, weights):
        """The --fid network with its weights, and the key its cached features are filed under."""
        keras_one = fid == "keras"
        if weights is None and not keras_one:
            raise ValueError("--inception-weights random: only with --fid keras (torch-fidelity's network loads a file)")
        if weights not in (None, "imagenet") and not os.path.isfile(weights):
            raise ValueError(f"--inception-weights {weights}: no such file")
        if not keras_one:
            try:
                import_torch_fidelity()
            except ImportError as err:
                raise ValueError(f"--fid torch-fidelity needs torch-fidelity and PyTorch ({err}): "
                                 f"{TORCH_FIDELITY_INSTALL}") from None
        try:
            if keras_one:
                network = define_inception(self.shape, weights)
            else:
                network = TorchFidelityInception(None if weights == "imagenet" else weights)
        except Exception as err:
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            where = "could not download them" if weights == "imagenet" else f"{weights} does not fit"
            name, file, other = (("InceptionV3", KERAS_INCEPTION_WEIGHTS, "--no-inception") if keras_one
                                 else ("torch-fidelity's Inception", TORCH_FIDELITY_WEIGHTS, "--fid keras"))
            raise ValueError(f"{name} weights: {where} ({reason}); give --inception-weights PATH ({file}) "
                             f"or {other}") from None
        key = "random" if weights is None else "imagenet" if weights == "imagenet" else file_fingerprint(weights)
        return network, key

    def load_classifier(self, arrays):
        key = fingerprint(arrays["x_train"], arrays["y_train"])
        self.classifier_path = os.path.join(self.cache_dir, f"mnist-classifier-{key}.keras")
        info_path = self.classifier_path.replace(".keras", ".json")
        if os.path.isfile(self.classifier_path) and os.path.isfile(info_path):
            with open(info_path, encoding="utf-8") as f:
                self.classifier_accuracy = json.load(f)["test_accuracy"]
            model = keras.models.load_model(self.classifier_path)
            self.log(f"digit classifier: cached ({self.classifier_path}), test accuracy {self.classifier_accuracy:.2%}")
        else:
            self.log(f"digit classifier: training on {len(arrays['x_train'])} images (once; cached in {self.cache_dir})")
            model, self.classifier_accuracy = train_classifier(
                arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
            )
            save_atomically(self.classifier_path, model.save)
            text = json.dumps({"test_accuracy": self.classifier_accuracy}) + "\n"
            save_atomically(info_path, lambda tmp: write_text(tmp, text))
            self.log(f"digit classifier: test accuracy {self.classifier_accuracy:.2%}")
        if self.classifier_accuracy < MIN_CLASSIFIER_ACCURACY:
            self.log(f"warning: the digit classifier's test accuracy is below {MIN_CLASSIFIER_ACCURACY:.0%}; "
                     "its digit shares are rough")
        return model

    def cached_features(self, kind, split, images):
        """Features (and for the classifier, probabilities) of real images: from the cache,
        keyed by dataset, split, count, the images themselves and the network's weights."""
        network, key = self.networks[kind]
        name = f"{self.dataset}-{split}-{kind}-{len(images)}-{fingerprint(images)}-{key}.npz"
        path = os.path.join(self.cache_dir, name)
        if os.path.isfile(path):
            with np.load(path) as cached:
                self.log(f"{kind} features of {len(images)} real {split} images: cached")
                return [cached[k] for k in sorted(cached.files)]
        self.log(f"{kind} features of {len(images)} real {split} images: computing (once; cached in {self.cache_dir})")
        outputs = run_features(network, batches_of_real(images))
        save_atomically(path, lambda tmp: np.savez(tmp, **{f"out{i}": o for i, o in enumerate(outputs)}))
        return outputs

    # -- scoring -------------------------------------------------------------------------
    @staticmethod
    def fid_possible(n, features):
        return n >= features

    def score_outputs(self, outputs, asked=None):
        """Scores of a set of images from its network outputs {kind: [features, (probs)]}: "n", the
        images scored, then the metrics; with `asked`, a conditional generator's classes, the class scores."""
        scores = {"n": min(len(out[0]) for out in outputs.values())}
        for kind, (features, *probs) in outputs.items():
            ref = self.reference[kind][0]
            if kind == "classifier":
                scores["cfid"] = frechet_distance(*statistics(features), *statistics(ref))
                scores.update(digit_scores(probs[0], self.digit))
                if asked is not None:
                    scores.update(class_scores(probs[0], features, asked, ref, self.y_ref))
                continue
            fid = self.fid_possible(min(len(features), len(ref)), features.shape[1])
            if kind == "inception":
                if fid:
                    scores["fid"] = frechet_distance(*statistics(features), *statistics(ref))
                scores["kid"] = kernel_distance(features, ref)
            else:  # ttur
                scores.update(torch_fidelity_scores(features, ref, fid))
        return scores

    def __call__(self, generator, value_range=(-1.0, 1.0), distribution="normal", seed=0):
        check_image_shape(generator, self.shape, what=f"{self.dataset}'s")
        asked = asked_labels(generator, self.n)  # a conditional generator's: every class, as many of each
        if self.swd_reference is not None:
            images = np.concatenate(list(batches_of_generated(generator, self.n, value_range, distribution, seed,
                                                              asked)))
            return self.score_images(np.round(images * 255.0))
        kept = []  # the first images, for "nearest"; every network sees the same ones (one seed)

        def keeping(batches):
            for batch in batches:
                if sum(map(len, kept)) < NEAREST_IMAGES:
                    kept.append(batch)
                yield batch

        outputs = {
            kind: run_features(network, keeping(batches_of_generated(generator, self.n, value_range, distribution,
                                                                     seed, asked)))
            for kind, (network, _) in self.networks.items()
        }
        return dict(self.score_outputs(outputs, asked), nearest=self.nearest_of(np.concatenate(kept)))

    def nearest_of(self, images):
        """The images' nearest-neighbour ratio over the real reference images' (sample_measures.nearest_ratio), from
        the first NEAREST_IMAGES of each: near 1, they fill their room as real images do; under FEW_PICTURES_BELOW,
        the collapse guard's line, they look like a few pictures and blends of them."""
        value = nearest_ratio(np.asarray(images[:NEAREST_IMAGES], "float32"))
        return value / self.nearest_reference if self.nearest_reference > 0 else 1.0

    def score_images(self, images):
        """The scores of a set of images (n, h, w, c) in [0, 255] (uint8, or floats): a folder's, say."""
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"images of shape {tuple(images.shape[1:])}, but {self.dataset}'s are {self.shape}")
        if self.swd_reference is not None:
            scores = swd_scores(self.swd_reference, swd_descriptors(images), self.shape[0])  # same patch places
            n = min(len(images), len(self.swd_reference[0]) // SWD_PATCHES_PER_IMAGE)
            return dict(n=n, **scores, nearest=self.nearest_of(images))
        scores = self.score_outputs({kind: run_features(network, batches_of_real(np.asarray(images, np.float32)))
                                     for kind, (network, _) in self.networks.items()})
        return dict(scores, nearest=self.nearest_of(images))

    def score_floor(self):
        """The same scores for real held-out (test) images, or None without a test split."""
        if self.floor_images is None:
            return None
        if self.swd_reference is not None:
            return self.score_images(self.floor_images)
        scores = self.score_outputs({kind: self.cached_features(kind, "test", self.floor_images)
                                     for kind in self.networks})
        return dict(scores, nearest=self.nearest_of(self.floor_images))

    def summary(self, scores):
        """A short line of the main scores."""
        parts = [f"{k} {scores[k]:.4g}" for k in SCORE_NAMES if k in scores]
        if "agreement" in scores:  # a conditional generator's
            parts.append(f"agreement with the asked digit {scores['agreement']:.1%}")
        elif f"share_{self.digit}" in scores:
            parts.append(f"share of {self.digit}s {scores[f'share_{self.digit}']:.1%}")
        elif "coverage" in scores:
            parts.append(f"coverage {scores['coverage']}/10")
        if scores.get("nearest", 1.0) < FEW_PICTURES_BELOW:
            parts.append(f"nearest {scores['nearest']:.2f}: under {FEW_PICTURES_BELOW:g}, likely a few pictures and "
                         "blends of them (look at its grid)")
        return ", ".join(parts)

    def callback(self, g_model, out_dir, every, unit, rows, save_model, value_range, distribution):
        """The training scripts' --eval-every: a Keras callback (ScoreGenerator) scoring g_model."""
        return ScoreGenerator(self, g_model, out_dir, every, unit, rows, save_model, value_range, distribution)


class ImagesScorer(Scorer):
    """A Scorer of SWD against given real images, not a named data set's: a training script's --eval-every
    --eval-metric swd, against the images it trains on (uint8, a sample of n), with no network."""

    def __init__(self, images, n=None, log=print):
        n = n or SWD_EVAL_IMAGES
        self.dataset, self.n, self.shape, self.log, self.digit = "the training", n, tuple(images.shape[1:]), log, None
        self.score_by_swd(reference_images(images, None, n))


def training_images_scorer(dataset, value_range, n=None):
    """ImagesScorer of a script's training images (in value_range, as it trains on them): a sample of n (default
    SWD_EVAL_IMAGES), as uint8."""
    lo, hi = value_range
    n = n or SWD_EVAL_IMAGES
    x = reference_images(dataset, None, n)
    return ImagesScorer(np.round(np.clip((x - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype("uint8"), n)


class ScoreGenerator(keras.callbacks.Callback):
    """--eval-every N in a training script: every N epochs (unit "epochs", the steps of one) or
    steps, and at the end of the run, save the generator (save_model), score it, and keep
    eval_history.csv in out_dir; when the run ends, name the best. rows: the scores so far (a
    resumed run's too), kept in the script's checkpoint. Nothing is scored once a callback has
    stopped the run: its generator may be broken (a NaN, a collapse)."""

    def __init__(self, scorer, g_model, out_dir, every, unit, rows, save_model, value_range, distribution):
        super().__init__()
        self.scorer, self.g_model, self.out_dir, self.every, self.unit = scorer, g_model, out_dir, every, unit
        self.rows, self.save_model, self.value_range, self.distribution = rows, save_model, value_range, distribution

    def on_train_begin(self, logs=None):
        self.step, self.every_steps = None, self.every * (self.params["steps"] if self.unit == "epochs" else 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.epoch * self.params["steps"] + batch + 1
        if self.step % self.every_steps == 0 and batch + 1 < self.params["steps"]:
            self.score()  # mid-epoch; at an epoch's end, on_epoch_end scores after the progress bar's line

    def on_epoch_end(self, epoch, logs=None):
        if self.step % self.every_steps == 0:
            self.score()

    def on_train_end(self, logs=None):
        if self.step is not None:
            self.score()  # the last step, unless it was scored
        if self.rows:
            metric = self.scorer.metric
            best = min(self.rows, key=lambda row: row[metric])
            print(f"best generator by {metric}: {best['model']} ({metric} {best[metric]:.4g})")

    def score(self):
        if self.model.stop_training or (self.rows and self.rows[-1]["step"] == self.step):
            return
        name = "model_%06d.h5" % self.step
        self.save_model(self.g_model, os.path.join(self.out_dir, name))
        scores = self.scorer(self.g_model, self.value_range, self.distribution)
        self.rows.append(dict(step=self.step, model=name, **scores))
        print(f">step {self.step}: {self.scorer.summary(scores)}")
        write_scores_csv(self.rows, os.path.join(self.out_dir, "eval_history.csv"))


# ---------------------------------------------------------------------------------------
# --metric swd: sliced Wasserstein distance on Laplacian-pyramid patches (no network, no download)
# ---------------------------------------------------------------------------------------
GAUSSIAN_5X5 = np.float32([[1, 4, 6, 4, 1], [4, 16, 24, 16, 4], [6, 24, 36, 24, 6], [4, 16, 24, 16, 4],
                           [1, 4, 6, 4, 1]]) / 256.0  # OpenCV's pyrDown kernel, as the reference uses


def swd_resolutions(side):
    """The pyramid's levels: the image's side, halved down to SWD_SMALLEST."""
    resolutions = []
    while side >= SWD_SMALLEST:
        resolutions.append(side)
        side //= 2
    return resolutions or [side]


def laplacian_pyramid(images, levels):
    """(n, c, h, w) float32 -> `levels` arrays: band-pass differences, then the last low-pass image
    (the reference's generate_laplacian_pyramid: cv2.pyrDown and pyrUp with mirrored edges)."""
    from scipy import ndimage

    kernel = GAUSSIAN_5X5[np.newaxis, np.newaxis]
    pyramid = [np.float32(images)]
    for _ in range(1, levels):
        low = ndimage.convolve(pyramid[-1], kernel, mode="mirror")[:, :, ::2, ::2]
        up = np.zeros(pyramid[-1].shape[:2] + (2 * low.shape[2], 2 * low.shape[3]), np.float32)
        up[:, :, ::2, ::2] = low
        up = ndimage.convolve(up, kernel * 4.0, mode="mirror")
        pyramid[-1] = pyramid[-1] - up[:, :, : pyramid[-1].shape[2], : pyramid[-1].shape[3]]
        pyramid.append(low)
    return pyramid


def swd_descriptors(images, seed=0):
    """One array per pyramid level: SWD_PATCHES_PER_IMAGE random 7x7 patches of each image (n, h, w, c),
    every channel, flattened, each set normalised by its own mean and deviation per channel (as the reference)."""
    rng = np.random.default_rng(seed)
    x = np.transpose(np.asarray(images, np.float32), (0, 3, 1, 2))  # the reference's (n, c, h, w)
    out = []
    for level in laplacian_pyramid(x, len(swd_resolutions(x.shape[2]))):
        n, c, h, w = level.shape
        half, per = SWD_PATCH // 2, SWD_PATCHES_PER_IMAGE
        count = n * per
        patch, chan, dy, dx = np.ogrid[0:count, 0:c, -half : half + 1, -half : half + 1]
        cx = dx + rng.integers(half, w - half, size=(count, 1, 1, 1))
        cy = dy + rng.integers(half, h - half, size=(count, 1, 1, 1))
        desc = level[patch // per, chan, cy, cx]  # (patches, c, 7, 7)
        desc -= desc.mean(axis=(0, 2, 3), keepdims=True)
        desc /= desc.std(axis=(0, 2, 3), keepdims=True) + 1e-12
        out.append(desc.reshape(count, -1))
    return out


def sliced_wasserstein(a, b, seed=0):
    """The mean over SWD_REPEATS x SWD_DIRECTIONS random unit directions of the 1-D Wasserstein distance
    between the two sets' projections (sorted, compared point by point): the reference's sliced_wasserstein."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))  # the reference compares equal sets; a larger one is cut to the other's size
    a, b = a[:n], b[:n]
    results = []
    for _ in range(SWD_REPEATS):
        dirs = rng.standard_normal((a.shape[1], SWD_DIRECTIONS)).astype(np.float32)
        dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
        results.append(np.mean(np.abs(np.sort(a @ dirs, axis=0) - np.sort(b @ dirs, axis=0))))
    return float(np.mean(results))


def swd_scores(real, fake, side):
    """{"swd_<side>": ..., one per level, "swd": their mean}, x 1e3 as ProGAN reports them, of two sets of
    descriptors (swd_descriptors) of images of that side."""
    levels = [1e3 * sliced_wasserstein(r, f, seed=k) for k, (r, f) in enumerate(zip(real, fake))]
    scores = {f"swd_{res}": value for res, value in zip(swd_resolutions(side), levels)}
    return dict(scores, swd=float(np.mean(levels)))


# ---------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------
def step_of(path):
    """The training step in a file name such as model_001874.h5, else None."""
    match = re.search(r"(\d+)$", os.path.splitext(os.path.basename(path))[0])
    return int(match.group(1)) if match else None


def columns_of(rows):
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return keys


def write_scores_csv(rows, path):
    keys = columns_of(rows)

    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)

    save_atomically(path, write)


def table(rows, metrics):
    """The rows as aligned text: model, step, n (the images each score is from), one column per metric."""
    cells = [["model", "step", "n"] + metrics]
    for row in rows:
        values = [row.get(m) for m in ["n"] + metrics]
        cells.append([row["model"], "" if row.get("step") is None else str(row["step"])] +
                     ["" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in values])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)


def plot_scores(rows, metrics, floor, path):
    """One panel per metric against the training step; the real-data floor dashed."""
    from matplotlib.figure import Figure

    scored = [r for r in rows if r.get("step") is not None]
    steps = [r["step"] for r in scored] if scored else list(range(1, len(rows) + 1))
    scored = scored or rows
    fig = Figure(figsize=(4 * len(metrics), 3.5), layout="constrained")
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), k + 1)
        ax.plot(steps, [r[metric] for r in scored], marker="o")
        if floor is not None and metric in floor:
            ax.axhline(floor[metric], linestyle="--", color="grey", label="real test set")
            ax.legend()
        ax.set_title(metric)
        ax.set_xlabel("step")
    save_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------
def expand(patterns):
    """Model paths from arguments, expanding globs the shell left alone (quoted, or Windows)."""
    paths = []
    for pattern in patterns:
        if not os.path.exists(pattern) and glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise ValueError(f"{pattern}: matches no file")
            paths += matches
        else:
            paths.append(pattern)
    return sorted(dict.fromkeys(paths), key=lambda p: (os.path.dirname(p), step_of(p) or 0, p))


def parse_args(argv=None):
    class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        pass  # the epilog as written: its install line unbroken

    p = gan_utils.Parser(description=__doc__.split("\n\n")[0], formatter_class=Formatter, epilog=(
        "Two FIDs (--fid). keras: Keras' InceptionV3; it ranks this project's generators, offline once its\n"
        "weights are downloaded, and is not comparable with the FIDs papers report. torch-fidelity: the TTUR\n"
        "Inception graph published FIDs use (as papers: --n 50000), an optional install:\n"
        f"    {TORCH_FIDELITY_INSTALL}"))
    p.add_argument("models", nargs="+", help="generator .h5 files saved by the training scripts (globs work), or "
                   "folders of images to score as they are")
    p.add_argument("--metric", choices=METRICS, default="default",
                   help="default: InceptionV3's FID and KID (MNIST: and the digit classifier's); swd: the sliced "
                        "Wasserstein distance on Laplacian-pyramid patches (ProGAN's; x 1e3, per level and mean), from "
                        "the images alone: no network, no download, any size, grey or colour")
    p.add_argument("--image-size", type=gan_utils.positive, default=None,
                   help="the side folders are scored at, when no generator is scored (default: the first generator's)")
    p.add_argument("--grey", action="store_true", help="with --image-size: score grey images (default: colour)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                   help="the real data the generators learnt (not with --data FOLDER)")
    p.add_argument("--data", default=None, help="local .npz laid out as Keras returns the dataset (default: download), "
                   "or a folder of your own images, prepared as for training (then no --dataset)")
    p.add_argument("--n", type=gan_utils.positive, default=N_SAMPLES, help="generated (and real reference) images per score")
    p.add_argument("--seed", type=int, default=0, help="seed for the latent points: every generator gets the same ones")
    p.add_argument("--out", default=None, help="folder for scores.csv and scores.png (default: the first model's folder)")
    p.add_argument("--fid", choices=list(FIDS), default="keras",
                   help="the network behind FID and KID: keras, Keras' InceptionV3 (columns fid, kid; not comparable "
                        "with papers' FIDs); torch-fidelity, the TTUR Inception graph of published FIDs, as "
                        "torch-fidelity ports it (columns fid_ttur, kid_ttur; optional install, below)")
    p.add_argument("--inception-weights", default="imagenet",
                   help=f"the --fid network's weights file: keras: {KERAS_INCEPTION_WEIGHTS}, or 'random' (untrained, "
                        f"to check the plumbing only); torch-fidelity: {TORCH_FIDELITY_WEIGHTS}. 'imagenet': downloaded once")
    p.add_argument("--no-inception", action="store_true",
                   help="skip InceptionV3, and so FID and KID (MNIST: classifier scores only)")
    p.add_argument("--cache", default=None, help="folder for reference statistics, the digit classifier and decoded "
                   "image folders (default: $KERAS_GANS_CACHE, else ~/.cache/keras-gans)")
    p.add_argument("--overwrite", action="store_true", help="replace scores.csv and scores.png in --out")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.no_inception and args.fid != "keras":
            raise ValueError(f"--no-inception skips InceptionV3, which --fid {args.fid} needs: give one of them")
        folder = args.data is not None and os.path.isdir(args.data)
        if folder == (args.dataset is not None):
            raise ValueError("give --dataset NAME, or --data FOLDER (your own images), not both" if folder else
                             "give --dataset NAME (mnist, mnist7, cifar10), or --data FOLDER of your own images")
        paths = expand(args.models)
        out = args.out or os.path.dirname(os.path.abspath(paths[0]))
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"--out {out}: exists and is not a folder")
        if not args.overwrite and any(os.path.exists(os.path.join(out, f)) for f in ("scores.csv", "scores.png")):
            raise ValueError(f"--out {out}: already holds scores.csv; pass --overwrite or choose another folder")
        models, shape = [], None if folder else DATASETS[args.dataset]
        if folder and args.image_size:
            shape = (args.image_size, args.image_size, 1 if args.grey else 3)
        for path in paths:  # every file checked before the long part starts
            if os.path.isdir(path):  # a folder of images, scored as it is (prepared at the shape below)
                models.append((path, None))
                continue
            model = generate.load_generator(path)
            if shape is None:  # a folder's images are prepared at the first model's size
                shape = tuple(model.outputs[0].shape[1:])
            check_image_shape(model, shape, path, "the first model's" if folder else f"{args.dataset}'s")
            keras2 = generate.keras2_version(path)
            if keras2:
                print(f"{path}: a Keras {keras2} file, translated")
            models.append((path, model))
        if shape is None:
            raise ValueError("only folders to score: give --image-size N (and --grey for grey images)")
        folders = {path: load_dataset("folder", path, shape, args.cache)["x_train"] for path, m in models if m is None}
        scorer = Scorer("folder" if folder else args.dataset, args.data, args.n, inception=not args.no_inception,
                        inception_weights=None if args.inception_weights == "random" else args.inception_weights,
                        cache_dir=args.cache, fid=args.fid, shape=shape, metric=args.metric)
    except ValueError as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)  # as the training scripts make theirs, once the input is known good
    rows = []
    floor = scorer.score_floor()
    if floor is not None:
        rows.append(dict(model="(real test images)", step=None, **floor))
    for path, model in models:
        if model is None:
            scores = scorer.score_images(folders[path])
        else:
            distribution, value_range = generate.sampling_info(path, model)
            scores = scorer(model, value_range, distribution, seed=args.seed)
        rows.append(dict(model=path, step=step_of(path), **scores))
        print(f"{path}: {scorer.summary(scores)}", flush=True)
        per_class = [k for k in scores if k.startswith("agreement_")]  # a conditional generator's, class by class
        if per_class:
            print("  agreement per asked digit: " + ", ".join(f"{k.split('_')[1]} {scores[k]:.0%}" for k in per_class))
    levels = tuple(k for k in columns_of(rows) if k.startswith("swd_"))
    metrics = [m for m in SCORE_NAMES + levels + ("coverage", "kl", "top_p", f"share_{scorer.digit}", "agreement",
                                                  "nearest") if m in columns_of(rows)]
    if scorer.digit is not None:  # one digit wanted: coverage and KL from uniform say nothing
        metrics = [m for m in metrics if m not in ("coverage", "kl")]
    print()
    print(table(rows, metrics))
    write_scores_csv(rows, os.path.join(out, "scores.csv"))
    generated = [r for r in rows if r["model"] in dict(models)]
    plot_scores(generated, metrics, floor, os.path.join(out, "scores.png"))
    best = min(generated, key=lambda r: r[scorer.metric])
    name = ({"cfid": "classifier FID", "swd": "SWD (sliced Wasserstein, x 1e3)"}.get(scorer.metric)
            or f"{scorer.metric.split('_')[0].upper()} ({FIDS[args.fid][1]})")
    print(f"\nbest by {name}: {best['model']} ({scorer.metric} {best[scorer.metric]:.4g})")
    print(f"wrote {os.path.join(out, 'scores.csv')} and scores.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
