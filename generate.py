"""Plot samples from a generator saved by any script of this collection.

    python generate.py runs/lsgan_mnist/model_018740.h5              # 10x10 grid -> grid.png
    python generate.py MODEL.h5 --grid 5 --seed 1 --out five.png
    python generate.py MODEL.h5 --point 0.75                         # the latent vector of all 0.75s
    python generate.py MODEL.h5 --interpolate --steps 10 --rows 10   # walks through the latent space
    python generate.py --progress runs/lsgan_mnist                   # the run's grids as one GIF
    python generate.py MODEL.h5 --n 50000 --images samples/          # single PNGs, for FID tools that read folders
    python generate.py runs/cgan_mnist/model_046800.h5 --label 7     # a conditional GAN's sevens (no --label:
    python generate.py CGAN.h5 --interpolate --label 3 --to 8        # a row a class); a 3 turning into an 8

The latent size is read from the model. How to sample it (normal or uniform) and the
range of its output ([-1,1] or [0,1]) come from the run.json that training writes beside
the models; without one, the latent is normal and the range is read off the output layer.
"""

import argparse
import glob
import importlib
import json
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras

from gan_utils import Parser, positive, positive_float, save_atomically, save_grid

LATENT_DISTRIBUTIONS = ("normal", "uniform")
OUTPUT_RANGE = (-1.0, 1.0)  # tanh's, as most generators here end; run.json says otherwise


def register_custom_objects():
    """Import the training scripts beside this file, so that their custom classes (the WGAN's weight clipping)
    are registered and their saved models load with no extra arguments. A script is found by what it is, a file
    that hands itself to gan_runner.main, not from a list of names: a new script is found as the others are."""
    folder = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
        name = os.path.basename(path)[:-3]
        try:
            with open(path, encoding="utf-8") as f:
                script = "gan_runner.main(globals()" in f.read()
        except (OSError, UnicodeDecodeError):
            continue
        if script and name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                pass


def load_generator(path):
    """The model at path, or ValueError if it is missing, unreadable or not a generator. A file that
    Keras 2 saved (keras2_version() says which) is translated for Keras 3 (read_keras2). A model holding a
    class Keras does not know is loaded again once the training scripts have registered theirs."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such model file")
    try:
        if keras2_version(path):
            model = read_keras2(path)
        else:
            try:
                model = keras.models.load_model(path, compile=False)
            except Exception:  # "Could not locate class ...", a script's own class: registered once it is imported
                register_custom_objects()
                model = keras.models.load_model(path, compile=False)
    except Exception as err:  # h5py, JSON and Keras errors all mean: not a saved Keras model
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: not a Keras model this project saved ({reason[:200]})") from None
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    inputs = len(model.inputs) == 1 or classes_of(model) is not None  # a latent vector, and a conditional GAN's label
    if not inputs or len(in_shape) != 2 or len(out_shape) != 4 or out_shape[-1] not in (1, 3):
        raise ValueError(
            f"{path}: not a generator (it maps {in_shape[1:]} to {out_shape[1:]}; a generator maps a "
            "latent vector to images): give a model_*.h5 that a training script saved"
        )
    return model


def classes_of(model):
    """How many classes a conditional generator draws, (latent vector, label) -> image with the label through an
    Embedding (cgan_mnist.py's); None for any other model."""
    if len(model.inputs) != 2 or tuple(model.inputs[1].shape[1:]) != (1,):
        return None
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    return embeddings[0].input_dim if len(embeddings) == 1 else None


def class_names(path, n):
    """The class names of a conditional generator of n classes: run.json's (a folder's subfolders), else indices."""
    names = run_info(path).get("classes")
    return [str(name) for name in names] if names and len(names) == n else [str(k) for k in range(n)]


def class_index(text, names, path):
    """--label's class: a name the model's run gave it, or its index. ValueError (one line) for any other."""
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < len(names):
        return int(text)
    raise ValueError(f"--label {text}: {path} draws the classes {', '.join(names)} (a name, or an index from 0)")


def class_walks(model, z, start, end, steps):
    """Images of the latent points z (one row each), from class `start` to class `end` in `steps`: the label's
    embedding mixed, (1 - t) of start's with t of end's, put in start's row of the model's Embedding for each t
    (and put back after)."""
    embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
    table = keras.ops.convert_to_numpy(embedding.embeddings)
    images = []
    try:
        for t in np.linspace(0.0, 1.0, steps):
            mixed = table.copy()
            mixed[start] = (1.0 - t) * table[start] + t * table[end]
            embedding.embeddings.assign(mixed)
            images.append(np.asarray(model.predict_on_batch([z, np.full(len(z), start)]), dtype="float32"))
    finally:
        embedding.embeddings.assign(table)
    return np.stack(images, axis=1).reshape(-1, *images[0].shape[1:])  # row r: z[r] at each t


def keras2_version(path):
    """The version of Keras 2 that saved the .h5 file at path (tf_keras 2.x, or standalone Keras
    2.x as the tutorials had in 2019-2020), or None: a Keras 3 file, or no HDF5 file at all."""
    import h5py  # Keras' own dependency, for its .h5 files

    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version")
    except OSError:
        return None
    version = version.decode() if isinstance(version, bytes) else version
    return version if isinstance(version, str) and version.startswith("2.") else None


def read_keras2(path):
    """A Sequential generator saved by Keras 2, built by Keras 3 from its translated config, then
    given the file's weights. The file is only read. Keras 3 cannot read such files itself:
    keras-team/keras#19441 (Conv2DTranspose's `groups`), and older layouts (standalone Keras 2.2-2.4:
    no InputLayer but `batch_input_shape` on the first layer, a bare list of layers, `alpha`)."""
    import h5py

    with h5py.File(path, "r") as f:
        config = f.attrs["model_config"]
    config = json.loads(config.decode() if isinstance(config, bytes) else config)
    if config["class_name"] != "Sequential":
        raise ValueError(f"a Keras 2 {config['class_name']} model: only Sequential generators are read")
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    layers = [keras2_layer(layer) for layer in layers]
    first = layers[0]["config"]
    if layers[0]["class_name"] != "InputLayer" and "batch_input_shape" in first:
        layers.insert(0, {"class_name": "InputLayer",  # a latent vector: float32 whatever the layers compute in
                          "config": {"batch_shape": first["batch_input_shape"], "dtype": "float32"}})
    for layer in layers[1:]:
        layer["config"].pop("batch_input_shape", None)
    model = keras.Sequential.from_config({"name": "generator", "layers": layers})
    model.load_weights(path)
    return model


def keras2_layer(layer):
    """One layer's Keras 2 config, with what Keras 3 does not accept translated."""
    name, config = layer["class_name"], dict(layer["config"])
    if isinstance(config.get("dtype"), dict):  # a mixed-precision policy object: its name
        config["dtype"] = config["dtype"]["config"]["name"]
    if name == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    if name.endswith("Transpose") and config.get("groups") == 1:
        del config["groups"]
    if name == "LeakyReLU" and "alpha" in config:
        config["negative_slope"] = config.pop("alpha")
    return {"class_name": name, "config": config}


def run_info(path):
    """run.json beside the model at path, or {} (a Keras 2 file, a model copied elsewhere)."""
    run_json = os.path.join(os.path.dirname(os.path.abspath(path)), "run.json")
    try:
        with open(run_json, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def sampling_info(path, model):
    """(latent distribution, output range) from run.json beside the model, else from the model."""
    info = run_info(path)
    distribution = info.get("latent_distribution", "normal")
    value_range = info.get("output_range") or output_range_of(model)
    return distribution, tuple(value_range)


def output_range_of(model):
    """[0,1] after a final sigmoid, else [-1,1] (tanh, as most GANs here end)."""
    for layer in reversed(model.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None and getattr(activation, "__name__", "") != "linear":
            return (0.0, 1.0) if activation.__name__ == "sigmoid" else OUTPUT_RANGE
    return OUTPUT_RANGE


def latent_points(latent_dim, n, distribution, rng):
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, size=(n, latent_dim)).astype("float32")
    return rng.standard_normal((n, latent_dim)).astype("float32")


def interpolate(a, b, steps, distribution):
    """`steps` points from a to b, both included. Linear for a uniform latent (its cube is convex).
    For a normal latent, spherical (slerp): the direction turns at an even pace along the great
    circle while the length goes linearly from |a| to |b|, so the points keep the norm the
    generator was trained on (about sqrt(latent size)); a straight line would sag towards the
    origin, where it never saw a point."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if distribution == "uniform":
        return ((1 - t) * a + t * b).astype("float32")
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    u, v = a / norm_a, b / norm_b
    omega = np.arccos(np.clip(np.dot(u, v), -1.0, 1.0))
    if omega < 1e-6:  # (nearly) the same direction: no circle to follow
        direction = (1 - t) * u + t * v
    else:
        direction = (np.sin((1 - t) * omega) * u + np.sin(t * omega) * v) / np.sin(omega)
    return (direction * ((1 - t) * norm_a + t * norm_b)).astype("float32")


def latent_walks(latent_dim, rows, steps, distribution, rng):
    """rows walks of `steps` points each, between random pairs of latent points, one after another."""
    ends = latent_points(latent_dim, 2 * rows, distribution, rng)
    return np.concatenate([interpolate(ends[2 * r], ends[2 * r + 1], steps, distribution) for r in range(rows)])


def save_images(images, folder, value_range):
    """Each image as an 8-bit PNG (grey or RGB, as the data is: not reversed) in folder, made if need be,
    named 000001.png on, each written whole."""
    from PIL import Image  # Pillow: matplotlib's own dependency

    lo, hi = value_range
    pixels = np.rint(np.clip((images - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype("uint8")
    os.makedirs(folder, exist_ok=True)
    for k, image in enumerate(pixels):
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        save_atomically(os.path.join(folder, f"{k + 1:06d}.png"), lambda tmp: picture.save(tmp, format="PNG"))


def progress_frames(run_dir):
    """[(step, path)] of a run's generated_plot_NNNNNN.png, in step order; ValueError if none."""
    if not os.path.isdir(run_dir):
        raise ValueError(f"--progress {run_dir}: no such folder")
    grids = []
    for path in glob.glob(os.path.join(run_dir, "generated_plot_*.png")):
        match = re.fullmatch(r"generated_plot_(\d+)\.png", os.path.basename(path))
        if match:
            grids.append((int(match.group(1)), path))
    if not grids:
        raise ValueError(f"--progress {run_dir}: no generated_plot_*.png grids in it")
    return sorted(grids)


def save_progress_gif(frames, path, fps):
    """The grids as one animated GIF, each frame labelled with its step, written whole."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow: matplotlib's own dependency

    try:
        font = ImageFont.load_default(size=16)  # Pillow 10.1 and later
    except TypeError:
        font = ImageFont.load_default()
    images = []
    for step, grid_path in frames:
        with Image.open(grid_path) as grid:
            grid = grid.convert("RGB")
        frame = Image.new("RGB", (grid.width, grid.height + 20), "white")
        frame.paste(grid, (0, 20))
        ImageDraw.Draw(frame).text((4, 1), f"step {step}", fill="black", font=font)
        images.append(frame)
    save_atomically(path, lambda tmp: images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0))
    return images


def parse_args(argv=None):
    p = Parser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("model", nargs="?", help="a generator .h5 saved by a training script")
    p.add_argument("--grid", type=positive, default=10, help="plot an N x N grid of samples")
    p.add_argument("--out", default=None,
                   help="file to write (default: grid.png, point.png, walk.png or progress.gif, by what is drawn)")
    p.add_argument("--seed", type=int, default=None, help="seed for the latent points")
    p.add_argument("--point", type=float, default=None, help="render only the latent vector whose every entry is V")
    p.add_argument("--interpolate", action="store_true",
                   help="--rows walks of --steps images, each between two random latent points: spherical "
                        "(slerp) for a normal latent, keeping the points at the norm the generator knows; linear "
                        "for a uniform one")
    p.add_argument("--steps", type=positive, default=10, help="--interpolate: images per walk, both ends included")
    p.add_argument("--rows", type=positive, default=10, help="--interpolate: walks, one a row")
    p.add_argument("--progress", metavar="RUN_DIR", default=None,
                   help="instead of a model: the run's generated_plot_*.png as one animated GIF, in step order")
    p.add_argument("--fps", type=positive_float, default=4, help="--progress: frames per second")
    p.add_argument("--latent", choices=LATENT_DISTRIBUTIONS, default=None,
                   help="latent distribution (default: from run.json beside the model, else normal)")
    p.add_argument("--save-as", metavar="NEW", default=None,
                   help="instead of drawing: write the model to NEW (.h5 or .keras) as Keras 3 saves it, so that "
                        "keras.models.load_model opens it (for a Keras 2 file); never over an existing file")
    p.add_argument("--images", metavar="DIR", default=None,
                   help="instead of a grid: --n single PNGs at the model's resolution into DIR, a new or empty folder "
                        "(grey as the data is, not reversed): for augmentation, or for pytorch-fid, clean-fid and "
                        "torch-fidelity, which read folders")
    p.add_argument("--n", type=positive, default=None, help="--images: how many images (default 100)")
    p.add_argument("--label", default=None, metavar="CLASS",
                   help="a conditional GAN's (cgan_mnist.py's): draw this class only, by name (a folder's subfolder) "
                        "or index; without it, a grid has a row per class and --images cycles through them")
    p.add_argument("--to", default=None, metavar="CLASS",
                   help="--interpolate --label A --to B: each row one latent point, turning from class A into B")
    p.add_argument("--show", action="store_true", help="also open the picture in a window")
    args = p.parse_args(argv)
    if (args.model is None) == (args.progress is None):
        p.error("give a model .h5, or --progress RUN_DIR")
    if args.interpolate and args.steps < 2:
        p.error("argument --steps: a walk needs at least 2 images, its two ends")
    if args.interpolate and args.point is not None:
        p.error("--interpolate and --point: choose one")
    if args.save_as is not None and not args.save_as.endswith((".h5", ".keras")):
        p.error(f"argument --save-as: {args.save_as}: name a .h5 or .keras file")
    if args.save_as is not None and args.progress is not None:
        p.error("--save-as and --progress: --save-as takes a model")
    if args.to is not None and (args.label is None or not args.interpolate):
        p.error("argument --to: with --interpolate and --label (from that class to this one)")
    if args.images is not None and (args.progress or args.save_as or args.interpolate or args.point is not None):
        p.error("--images writes single images of a model's samples: not with --progress, --save-as, --interpolate "
                "or --point")
    if args.n is not None and args.images is None:  # a grid's size is --grid's: never ignored
        p.error(f"argument --n: with --images DIR (single images); a grid is --grid N, N x N images")
    args.n = args.n or 100
    return args


def main(argv=None):
    args = parse_args(argv)
    default = "progress.gif" if args.progress else "walk.png" if args.interpolate else "grid.png"
    out = args.out or ("point.png" if args.point is not None else default)
    try:
        if os.path.isdir(out) or not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise ValueError(f"--out {out}: not a file in an existing folder")
        if args.save_as and os.path.exists(args.save_as):
            raise ValueError(f"--save-as {args.save_as}: exists; name a new file (nothing is written over)")
        if args.save_as and not os.path.isdir(os.path.dirname(os.path.abspath(args.save_as))):
            raise ValueError(f"--save-as {args.save_as}: no such folder")
        if args.images and os.path.exists(args.images) and not (os.path.isdir(args.images) and not
                                                                 os.listdir(args.images)):
            raise ValueError(f"--images {args.images}: exists and is not an empty folder; name a new one (nothing "
                             "is written over)")
        if args.progress:
            frames = progress_frames(args.progress)
        else:
            model = load_generator(args.model)
            distribution, value_range = sampling_info(args.model, model)
            n_classes = classes_of(model)
            if n_classes is None and args.label is not None:
                raise ValueError(f"--label: {args.model} is not a conditional generator (it draws no classes; "
                                 "cgan_mnist.py's do)")
            if n_classes is not None:
                names = class_names(args.model, n_classes)
                label, end = (None if text is None else class_index(text, names, args.model)
                              for text in (args.label, args.to))
    except ValueError as err:
        print(f"generate.py: error: {err}", file=sys.stderr)
        return 2
    keras2 = args.model and keras2_version(args.model)
    if keras2:
        print(f"{args.model}: a Keras {keras2} file, translated")
    if args.save_as:
        save_atomically(args.save_as, model.save)
        print(f"wrote {args.save_as} (Keras {keras.__version__})")
        return 0
    if args.progress:
        save_progress_gif(frames, out, args.fps)
        print(f"wrote {out} ({len(frames)} frames, steps {frames[0][0]} to {frames[-1][0]})")
        return 0
    latent_dim = model.inputs[0].shape[-1]
    rng = np.random.default_rng(args.seed)

    def inputs(z, rows=1):
        """The model's inputs for latent points z: a conditional GAN's label too, --label's, else each of `rows`
        equal parts of z a class in turn (a row per class)."""
        if n_classes is None:
            return z
        if label is not None:
            return [z, np.full(len(z), label)]
        return [z, np.repeat(np.arange(rows) % n_classes, len(z) // rows)]

    if args.images:
        z = latent_points(latent_dim, args.n, args.latent or distribution, rng)
        batch = inputs(z, args.n)  # a conditional GAN's: one image a class in turn, unless --label
        images = np.asarray(model.predict(batch, batch_size=100, verbose=0), dtype="float32")
        save_images(images, args.images, value_range)
        print(f"wrote {len(images)} images of {images.shape[1:]} to {args.images}")
        return 0
    columns, rows = None, 1
    if args.point is not None:
        rows = n_classes if n_classes and label is None else 1  # a conditional GAN's point in every class, a row
        z, columns = np.full((rows, latent_dim), args.point, dtype="float32"), rows
    elif args.interpolate and args.to is not None:
        z, columns = latent_points(latent_dim, args.rows, args.latent or distribution, rng), args.steps
    elif args.interpolate:
        z, columns = latent_walks(latent_dim, args.rows, args.steps, args.latent or distribution, rng), args.steps
        rows = args.rows  # a conditional GAN's: row r in class r (mod the classes), unless --label
    elif n_classes is not None and label is None:  # a row per class
        z, columns, rows = latent_points(latent_dim, n_classes * args.grid, args.latent or distribution, rng), \
            args.grid, n_classes
    else:
        z = latent_points(latent_dim, args.grid * args.grid, args.latent or distribution, rng)
    if args.interpolate and args.to is not None:
        images = class_walks(model, z, label, end, args.steps)
    else:  # whatever policy the model was saved in
        images = np.asarray(model.predict(inputs(z, rows), verbose=0), dtype="float32")
    pixels = save_grid(images, out, value_range, columns=columns,
                       reverse_grey=run_info(args.model).get("grey_reversed", True))  # as the run's own grids
    print(f"wrote {out} ({len(images)} image{'s' * (len(images) > 1)} of {images.shape[1:]}, latent {latent_dim})")
    if args.show:
        import matplotlib.pyplot as plt

        plt.imshow(pixels, cmap="gray", vmin=0.0, vmax=1.0)
        plt.axis("off")
        plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
