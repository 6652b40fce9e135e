"""DCGAN on CIFAR-10 small colour photographs, on Keras 3 (flags, outputs, measured runs: docs/dcgan_cifar10.md).

The classic Keras tutorial's models and hyperparameters, with the training repaired for
Keras 3: the discriminator really trains, and the composite model updates the generator only,
with the discriminator's dropout in training mode in both updates. What sets this variant
apart: 32x32 colour images, strided convolutions without BatchNorm, binary cross-entropy, a
long run (200 epochs) with the discriminator's accuracy reported every 10 epochs, and the
tutorial's suggested extensions as flags.

    python dcgan_cifar10.py                        # 200 epochs on CIFAR-10 (downloaded by Keras)
    python dcgan_cifar10.py --data cifar10.npz     # a local copy, as keras.datasets returns it

Read it as the tutorial, down to the banner "Running from the command line". In a notebook, paste
it whole into one cell (it trains with the defaults), or run its cells (# %%), then:

    d_model = define_discriminator()
    g_model = define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, d_model)
    train(g_model, d_model, gan_model, load_real_samples(), LATENT_DIM)
"""

# %% Imports and the published hyperparameters (the defaults)
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras
from keras import layers
from matplotlib.figure import Figure
from matplotlib.image import imsave

LATENT_DIM = 100
N_EPOCHS = 200
N_BATCH = 128
SAVE_EVERY = 10  # epochs between accuracy reports, grids and saved generators
N_EVAL = 150  # real and generated images for the accuracy report
LEARNING_RATE = 0.0002
BETA_1 = 0.5
IMAGE_SHAPE = (32, 32, 3)
OUTPUT_RANGE = (-1.0, 1.0)  # the generator's tanh; the data is scaled to match
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # binary cross-entropy targets
SMOOTH_LABEL, SMOOTH_NOISE = 0.9, 0.05  # label_smoothing: real targets 0.9 +- up to 0.05
LOSSES = ("d1", "d2", "g")  # a step's losses: discriminator on real, then generated images; generator


# %% The models
def define_discriminator(in_shape=IMAGE_SHAPE, batchnorm=False):
    """Strided 3x3 convolutions down to 4x4, dropout, and a sigmoid probability (float32: the loss reads it).
    batchnorm=True adds BatchNorm after each convolution but the first (an extension)."""
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters, strides in ((64, 1), (128, 2), (128, 2), (256, 2)):
        model.add(layers.Conv2D(filters, 3, strides=strides, padding="same"))
        if batchnorm and filters != 64:
            model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.4))
    model.add(layers.Dense(1, activation="sigmoid", dtype="float32"))
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def define_generator(latent_dim, batchnorm=False, upsampling=False):
    """Not compiled: it is only ever trained through the composite model. 4x4 -> 8x8 -> 16x16 -> 32x32 by
    transposed convolutions, or (upsampling=True, an extension) by UpSampling2D and a convolution;
    batchnorm=True adds BatchNorm (an extension). The last layer is float32 (a loss reads it)."""
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Dense(256 * 4 * 4))
    model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Reshape((4, 4, 256)))
    for _ in range(3):
        if upsampling:
            model.add(layers.UpSampling2D())
            model.add(layers.Conv2D(128, 3, padding="same"))
        else:
            model.add(layers.Conv2DTranspose(128, 4, strides=2, padding="same"))
        if batchnorm:
            model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Conv2D(3, 3, padding="same", activation="tanh", dtype="float32"))
    return model


# Copied from lsgan_mnist.Composite
class Composite(keras.Model):
    """Generator then discriminator, as one model that updates only `trained`: the generator (the
    tutorial's composite model) or the discriminator (its update on generated images).
    The Keras 2 tutorials froze the discriminator with `trainable = False` before compiling the
    composite model. Keras 3 reads that flag at every step: it freezes the discriminator everywhere
    (its own updates do nothing) and puts its BatchNorm in inference mode. Here every layer stays
    trainable and in training mode; the model only leaves the other model's weights out of what its
    optimizer updates, which Keras' trainers read from these four properties."""

    def __init__(self, inputs, outputs, trained, name=None):
        super().__init__(inputs=inputs, outputs=outputs, name=name)
        self.trained_name = trained.name

    @property
    def trainable_weights(self):
        return self.get_layer(self.trained_name).trainable_weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_weights(self):
        return self._not_trained(self.weights)

    @property
    def non_trainable_variables(self):
        return self._not_trained(self.variables)

    def _not_trained(self, pool):
        trained = {id(v) for v in self.trainable_weights}
        return [v for v in pool if id(v) not in trained]


def define_gan(generator, discriminator):
    """The composite model: latent point -> image -> probability, updating the generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    return model


# Copied from lsgan_mnist.define_discriminator_on_fakes
def define_discriminator_on_fakes(generator, discriminator):
    """Latent point -> image -> score, updating the discriminator only (its loss, its optimizer): its
    update on generated images in one compiled call. The generator runs on batch statistics (its
    moving statistics follow), as in its own update: the discriminator judges what it is trained to make."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=discriminator, name="discriminator_on_fakes")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer)
    return model


# %% The data
def load_real_samples(path=None):
    """CIFAR-10's training images in [-1,1] (tanh's range), shape (n, 32, 32, 3): downloaded by
    Keras, or from an .npz laid out as keras.datasets.cifar10 returns it."""
    if path is None:
        (x_train, _), (_, _) = keras.datasets.cifar10.load_data()
    else:
        with np.load(path) as data:
            x_train = data["x_train"]
    x = np.asarray(x_train, dtype="float32")
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE}, "
                         "as keras.datasets.cifar10 returns them")
    return (x - 127.5) / 127.5


def generate_real_samples(dataset, n_samples, label_smoothing=False):
    """A random batch of real images with target REAL_LABEL, or with label_smoothing (one-sided,
    an extension) SMOOTH_LABEL plus a little uniform noise."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    if label_smoothing:
        y = SMOOTH_LABEL + np.random.uniform(-SMOOTH_NOISE, SMOOTH_NOISE, (n_samples, 1))
    else:
        y = np.full((n_samples, 1), REAL_LABEL)
    return dataset[ix], y.astype("float32")


# Copied from lsgan_mnist.generate_latent_points
def generate_latent_points(latent_dim, n_samples):
    """Standard normal latent points, as in the tutorial."""
    return np.random.randn(n_samples, latent_dim).astype("float32")


# Copied from lsgan_mnist.generate_fake_samples
def generate_fake_samples(generator, latent_dim, n_samples):
    """Generated images with target FAKE_LABEL, for the reports: one compiled call in inference
    mode, as a saved generator samples (predict() would add a data pipeline and a progress bar)."""
    x_input = generate_latent_points(latent_dim, n_samples)
    images = np.asarray(generator.predict_on_batch(x_input))
    return images, np.full((n_samples, 1), FAKE_LABEL, dtype="float32")


# %% The reports: accuracy, a grid and the generator every SAVE_EVERY epochs (file helpers: below)
def summarize_performance(step, g_model, d_model, dataset, latent_dim, n_samples=N_EVAL, out_dir="."):
    """The discriminator's accuracy on real and generated images, a 7x7 grid of generated images
    and the generator, named by step."""
    X_real, y_real = generate_real_samples(dataset, n_samples)
    _, acc_real = per_batch(d_model).test_on_batch(X_real, y_real)
    X_fake, y_fake = generate_fake_samples(g_model, latent_dim, n_samples)
    _, acc_fake = per_batch(d_model).test_on_batch(X_fake, y_fake)
    print(f">Accuracy real: {acc_real * 100:.0f}%, fake: {acc_fake * 100:.0f}%")
    save_grid(X_fake[:49], os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)))
    save_model(g_model, os.path.join(out_dir, "model_%06d.h5" % (step + 1)))


# Copied from lsgan_mnist.plot_history
def plot_history(d1_hist, d2_hist, g_hist, out_dir="."):
    """A line plot of the three losses, and history.csv with one row per step."""
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    ax.plot(d1_hist, label="dloss1 (real)")
    ax.plot(d2_hist, label="dloss2 (fake)")
    ax.plot(g_hist, label="gloss")
    ax.set_xlabel("step")
    ax.legend()
    save_atomically(os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: fig.savefig(tmp, format="png"))
    rows = np.column_stack([np.arange(1, len(g_hist) + 1), d1_hist, d2_hist, g_hist])
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: np.savetxt(
        tmp, rows, fmt=["%d", "%.6g", "%.6g", "%.6g"], delimiter=",", header="step,d1,d2,g", comments=""))


# %% Training (per_batch, for Keras before 3.15: below)
def train_discriminator(d_model, d_fake_model, dataset, latent_dim, half_batch, label_smoothing=False):
    """The discriminator's two updates: on real images, then on generated ones."""
    X_real, y_real = generate_real_samples(dataset, half_batch, label_smoothing)
    d_loss1, _ = per_batch(d_model).train_on_batch(X_real, y_real)  # and its accuracy (unused here)
    y_fake = np.full((half_batch, 1), FAKE_LABEL, dtype="float32")
    d_loss2 = per_batch(d_fake_model).train_on_batch(generate_latent_points(latent_dim, half_batch), y_fake)
    return d_loss1, d_loss2


# Copied from lsgan_mnist.train_generator
def train_generator(gan_model, latent_dim, n_batch):
    """The generator's update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return per_batch(gan_model).train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch, label_smoothing=False):
    """One step of train(): the discriminator's two updates, then the generator's."""
    d_loss1, d_loss2 = train_discriminator(d_model, d_fake_model, dataset, latent_dim, n_batch // 2, label_smoothing)
    g_loss = train_generator(gan_model, latent_dim, n_batch)
    return float(d_loss1), float(d_loss2), float(g_loss)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH, save_every=SAVE_EVERY,
          label_smoothing=False, callbacks=None, history=None, max_steps=None, out_dir=".", verbose="auto"):
    """The tutorial's loop: train_step() over n_epochs, summarize_performance() every save_every
    epochs and at the end, plot_history() at the end; returns every step's losses. Like fit(), it
    runs Keras callbacks, whose logs hold the step's losses ("loss": their sum); one that sets
    gan_model.stop_training stops the run before any report. history: the losses of steps done."""
    bat_per_epo = dataset.shape[0] // n_batch
    if bat_per_epo < 1 or n_batch < 2:
        raise ValueError(f"need at least one batch: {dataset.shape[0]} images, batch size {n_batch}")
    n_steps = min(bat_per_epo * n_epochs, max_steps or bat_per_epo * n_epochs)
    d_fake_model = define_discriminator_on_fakes(g_model, d_model)
    history = {name: [] for name in LOSSES} if history is None else history
    os.makedirs(out_dir, exist_ok=True)
    callbacks = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=gan_model,
                                             verbose=verbose, epochs=n_epochs, steps=bat_per_epo, total_steps=n_steps)
    gan_model.stop_training = False
    callbacks.on_train_begin()
    try:
        step = len(history["g"])
        while step < n_steps and not gan_model.stop_training:
            epoch, first = step // bat_per_epo, step
            callbacks.on_epoch_begin(epoch)
            for batch in range(step % bat_per_epo, min(bat_per_epo, n_steps - epoch * bat_per_epo)):
                callbacks.on_train_batch_begin(batch)
                losses = train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch, label_smoothing)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=sum(losses)))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training and ((epoch + 1) % save_every == 0 or step == n_steps):
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, g_model, d_model, dataset, latent_dim, out_dir=out_dir)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=sum(means.values())))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(history["d1"], history["d2"], history["g"], out_dir=out_dir)
    return history


# %% ---- Running from the command line: the same in every script ----------------------------
# Files written whole, flags, checkpoints and --resume, Ctrl-C, collapse detection and
# --tensorboard, the last three as Keras callbacks (--eval-every's is in evaluate.py, which it
# needs). Down to the next rule, this script's own; after it, the same in all four scripts:
# tools/check_copies.py checks that, and the copies marked "Copied from lsgan_mnist.NAME" above.
import argparse
import hashlib
import json
import shlex
import signal
import sys
import threading

SCRIPT, ABOUT = "dcgan_cifar10.py", "DCGAN on CIFAR-10 small colour photographs, on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "dcgan_cifar10"), "CIFAR-10", ("x_train",)
LATENT_DISTRIBUTION = "normal"  # run.json tells generate.py
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 2000, "InceptionV3 KID (FID needs over 2,048 images)"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "both discriminator losses below {}"


# Copied from lsgan_mnist.looks_collapsed
def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly: the generator learns no more."""
    return logs["d1"] < threshold and logs["d2"] < threshold


def define_run(args):
    """The data, the models (with the extensions the flags ask for), and train()'s arguments."""
    dataset = read_data(args, lambda: load_real_samples(args.data))
    d_model = define_discriminator(batchnorm=args.batchnorm in ("discriminator", "both"))
    g_model = define_generator(args.latent_dim, batchnorm=args.batchnorm in ("generator", "both"),
                               upsampling=args.upsampling)
    gan_model = define_gan(g_model, d_model)
    return dataset, (g_model, d_model, gan_model), dict(n_epochs=args.epochs, n_batch=args.batch_size,
                                                        save_every=args.save_every, max_steps=args.max_steps,
                                                        label_smoothing=args.label_smoothing)


def define_scorer(args):
    """--eval-every: evaluate.py's InceptionV3 KID on 2,000 images (unbiased at that size; an FID would need more
    than its 2,048 features). Keras downloads the weights unless given a file."""
    import evaluate

    return evaluate.Scorer("cifar10", args.data, n=EVAL_SAMPLES, inception_weights=args.inception_weights)


def parse_args(argv=None):
    p = Parser(prog=SCRIPT, description=ABOUT, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--batch-size", type=positive, default=N_BATCH, help="images per step (half real, half fake)")
    p.add_argument("--save-every", type=positive, default=SAVE_EVERY,
                   help="epochs between accuracy reports, grids and saved generators")
    p.add_argument("--max-steps", type=positive, default=None,
                   help="stop after this many steps (final outputs still written)")
    p.add_argument("--inception-weights", default="imagenet",
                   help="--eval-every: InceptionV3 no-top weights file; default: Keras downloads them")
    p.add_argument("--batchnorm", choices=("none", "discriminator", "generator", "both"), default="none",
                   help="extension: BatchNorm in the discriminator and/or the generator")
    p.add_argument("--label-smoothing", action="store_true", help="extension: one-sided, real targets 0.9 +- 0.05")
    p.add_argument("--upsampling", action="store_true",
                   help="extension: UpSampling2D + Conv2D in place of Conv2DTranspose")
    add_run_flags(p)
    args = p.parse_args(argv)
    if args.batch_size < 2:
        p.error("argument --batch-size: must be at least 2 (half real, half generated)")
    return args


# ---- From here on, the same in every script: copied from lsgan_mnist.py, checked whole ----------
def per_batch(model):
    """The model, its running means reset first where train_on_batch and test_on_batch return the
    mean of every call since compile, not this batch's: Keras before 3.15 (keras-team/keras#22596)."""
    if KERAS < (3, 15):
        model.reset_metrics()
    return model


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


def save_grid(images, path, value_range=OUTPUT_RANGE, columns=None):
    """grid_pixels() of the images as a PNG, written whole; returns the picture."""
    pixels = grid_pixels(images, value_range, columns=columns)
    save_atomically(path, lambda tmp: imsave(tmp, pixels, cmap="gray", vmin=0.0, vmax=1.0, format="png"))
    return pixels


def grid_pixels(images, value_range=OUTPUT_RANGE, scale=2, columns=None):
    """Images in a grid (square, unless `columns` is given) as one picture in [0,1], each pixel
    shown scale x scale; grey is drawn black on white (reversed grayscale), as in the tutorials."""
    cols = columns or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // cols)
    h, w, c = images.shape[1:]
    lo, hi = value_range
    images = np.clip((np.asarray(images, "float32") - lo) / (hi - lo), 0.0, 1.0)
    if c == 1:
        images = 1.0 - images
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), dtype="float32")
    for k, image in enumerate(images):
        row, col = divmod(k, cols)
        grid[1 + row * (h + 1) : (row + 1) * (h + 1), 1 + col * (w + 1) : (col + 1) * (w + 1)] = image
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid[..., 0] if c == 1 else grid


def save_model(model, path):
    """model.save() through a temporary name, without the notice Keras gives on every save in
    the tutorials' .h5 format (it calls it legacy)."""
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        save_atomically(path, model.save)
    finally:
        absl_log.setLevel(level)


CHECKPOINT = "checkpoint.npz"
KERAS = tuple(int(part) for part in keras.__version__.split(".")[:2])  # (major, minor)
KERAS_NEEDED = (3, 8)  # the oldest Keras the tests pass on (README: "Which Keras")
NO_GPU = '; no GPU visible, so this is slow: README, "On a GPU"'
PRECISIONS = {"off": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}  # Keras' dtype policies


def main(argv=None):
    """Train from the command line. Exit status: 0 done, 1 writing failed, 2 bad input, 3 stopped
    by a NaN or a collapse, 130 interrupted (it prints the command that resumes the run)."""
    if argv is None and "__file__" not in globals():
        argv = []  # a notebook: sys.argv is the kernel's command line
    args = parse_args(argv)
    if KERAS < KERAS_NEEDED:  # before anything trains: untested, and the losses recorded could be wrong
        need = "%d.%d" % KERAS_NEEDED
        return fail(f"needs Keras {need} or newer, not {keras.__version__}: pip install --upgrade 'keras>={need}'", 2)
    policy, undo = keras.config.dtype_policy(), []
    try:
        try:
            check_out_dir(args.out, args.overwrite, args.resume)
            devices = prepare_backend(args, undo)  # before anything touches the backend
            scorer = define_scorer(args) if args.eval_every else None  # before the seed: it may train a classifier
        except (ValueError, ImportError) as err:  # ImportError: --eval-every without evaluate.py beside it
            return fail(err, 2)
        if args.seed is not None:  # the same losses, run after run, on one machine and backend
            keras.utils.set_random_seed(args.seed)
        keras.config.set_dtype_policy(PRECISIONS[args.mixed_precision])  # for the models built from here on
        on_gpu = any(device.startswith(("gpu", "tpu", "mps")) for device in devices)
        print(f"{SCRIPT}: training on {', '.join(devices)} ({keras.backend.backend()}, dtype policy "
              f"{keras.config.dtype_policy().name})" + ("" if on_gpu else NO_GPU))
        return train_from_flags(args, argv, scorer, devices)
    finally:  # as it was: a notebook's next models are its own business
        keras.config.set_dtype_policy(policy)
        for step in reversed(undo):
            step()


def prepare_backend(args, undo):
    """What a GPU run needs, set before any model is built (README: "On a GPU"). GPU memory taken as
    needed, not mapped whole, so that several runs share a GPU: TensorFlow's memory growth, JAX
    without preallocation (read when the framework first touches the GPU, which importing Keras does
    not do; a variable the user set wins). Under another backend, TensorFlow (--tensorboard's writer)
    sees no GPU. --seed: the backend's deterministic kernels. --data-parallel: keras.distribution's
    DataParallel over every local device (JAX only). Returns the devices the run trains on; what
    main() must undo when it returns goes into `undo`. ValueError: a flag the backend cannot honour."""
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    backend = keras.backend.backend()
    if args.data_parallel and backend != "jax":
        raise ValueError(f"--data-parallel: Keras splits batches over devices under JAX only (keras.distribution), "
                         f"not {backend}: run with KERAS_BACKEND=jax")
    if backend != "tensorflow" and args.tensorboard:
        import tensorflow as tf

        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # it started before this run, in this process
            print("TensorFlow was started before this run: it keeps the GPUs it has (and their memory)")
    if args.seed is not None:
        undo += deterministic_kernels(backend)
    devices = local_devices()
    if not args.data_parallel:
        return devices[:1]  # one device, the framework's default
    for size in (args.batch_size, args.batch_size // 2):  # the generator's updates; the discriminator's
        if size % len(devices):
            raise ValueError(f"--data-parallel: a batch of {size} (--batch-size {args.batch_size}) does not split "
                             f"over {len(devices)} devices: give a --batch-size whose half divides by {len(devices)}")
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    undo.append(lambda: keras.distribution.set_distribution(previous))
    return devices


def local_devices():
    """The devices the backend computes on, as Keras names them ("gpu:0"): its accelerators, else the CPU."""
    if keras.backend.backend() != "torch":  # keras.distribution.list_devices(): JAX and TensorFlow
        return keras.distribution.list_devices()
    import torch

    if torch.cuda.is_available():
        return [f"gpu:{k}" for k in range(torch.cuda.device_count())]
    return ["mps:0"] if torch.backends.mps.is_available() else ["cpu:0"]


def deterministic_kernels(backend):
    """--seed: the backend's deterministic kernels (README: what --seed guarantees); returns the
    undos. TensorFlow's op determinism and JAX's XLA flag stay for the process: neither can be
    switched off once on."""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        return []
    if backend == "jax":
        flag = "--xla_gpu_deterministic_ops=true"  # read when JAX starts its backends
        if flag not in os.environ.get("XLA_FLAGS", ""):
            try:  # JAX has no public way to ask whether it started
                from jax._src import xla_bridge

                started = xla_bridge.backends_are_initialized()
            except (ImportError, AttributeError):
                started = False
            if started:
                print(f"--seed: JAX started before this run, too late for XLA_FLAGS={flag}: on a GPU, runs may differ")
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
        return []
    import torch

    if torch.cuda.is_initialized() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        print("--seed: CUDA started before this run, too late for CUBLAS_WORKSPACE_CONFIG: on a GPU, runs may differ")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's deterministic workspace
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False

    def restore():
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]

    return [restore]


def train_from_flags(args, argv, scorer, devices):
    """main(), once the flags are read: the data, the models, the callbacks, the run, its last words."""
    try:
        dataset, models, train_args = define_run(args)
    except ValueError as err:
        return fail(err, 2)
    settings = resume_settings(args, dataset)
    guard = CollapseGuard(args.collapse_window, args.collapse_threshold, args.stop_on_collapse)
    checkpoint = Checkpoint(args.out, models, settings, guard)
    signals = StopOnSignal()
    # The progress bar first, to end its line before others print; the checkpoint last, to hold what they record.
    callbacks = [StepProgbar(), keras.callbacks.TerminateOnNaN(), guard, signals]
    if scorer is not None:
        callbacks.append(scorer.callback(models[0], args.out, args.eval_every, EVAL_UNIT, checkpoint.scores,
                                         save_model, OUTPUT_RANGE, LATENT_DISTRIBUTION))
    if args.tensorboard:
        callbacks.append(TensorBoard(args.tensorboard, models[0], args.latent_dim))
    verbose = 1 if sys.stdout.isatty() or "ipykernel" in sys.modules else 2  # to a log file: a line an epoch
    try:
        if args.resume:
            checkpoint.restore()
        os.makedirs(args.out, exist_ok=True)
        write_run_info(args.out, args.latent_dim, mixed_precision=args.mixed_precision, devices=devices,
                       **train_args)
        for restart in range(args.restart_on_collapse + 1):
            if restart:
                checkpoint.restore()
                seed = int(np.random.randint(2**31 - 1000)) + restart
                keras.utils.set_random_seed(seed)
                print(f"restarting from the checkpoint at step {checkpoint.saved_step} with seed {seed} "
                      f"(restart {restart} of {args.restart_on_collapse})")
            train(*models, dataset, args.latent_dim, callbacks=callbacks + [checkpoint], history=checkpoint.history,
                  out_dir=args.out, verbose=verbose, **train_args)
            if not guard.collapsed:
                break
    except ValueError as err:  # a checkpoint that does not fit
        return fail(err, 2)
    except OSError as err:  # disk full, folder gone or read-only: every file is whole (atomic saves)
        return fail(f"writing to {args.out} failed ({err.strerror or err}); the files written before are intact", 1)
    history, last = checkpoint.history, checkpoint.saved_step
    step, total = len(history[LOSSES[0]]), checkpoint.params["total_steps"]
    if signals.received and step < total:
        print(f"interrupted at step {step} of {total}; checkpoint at step {last} in {checkpoint.path}")
        words = [a for a in (sys.argv[1:] if argv is None else argv) if a not in ("--resume", "--overwrite")]
        print(f"resume with: python {SCRIPT} {shlex.join(words + ['--resume'])}")
        return 130
    broken = [f"{history[name][-1]} ({name})" for name in LOSSES if step and not np.isfinite(history[name][-1])]
    if broken:
        print(f"step {step}: a loss is {broken[0]}: stopping. The last good checkpoint (step {last}) and the "
              "generators saved up to it are kept.")
        return 3
    if guard.collapsed:
        print(f"stopping; the last good checkpoint (step {last}) is kept "
              "(--no-stop-on-collapse carries on, --restart-on-collapse K restarts)")
        return 3
    print(f"outputs in {args.out}")
    return 0


# Flags that only lengthen, watch or place a run: --resume takes them changed. Every other flag
# (a flag added later too) changes the run, so the checkpoint records it and refuses a change.
RESUME_MAY_CHANGE = ("epochs", "steps", "max_steps", "save_every", "out", "overwrite", "resume", "tensorboard",
                     "eval_every", "inception_weights", "stop_on_collapse", "collapse_window", "collapse_threshold",
                     "restart_on_collapse", "seed", "data_parallel")


def resume_settings(args, dataset):
    """What --resume must find unchanged: every flag but RESUME_MAY_CHANGE's, and the data itself
    (a fingerprint of the training images, not the --data path)."""
    settings = {key: value for key, value in vars(args).items() if key not in RESUME_MAY_CHANGE}
    step = max(1, len(dataset) // 4096)  # about 4,096 images: quick, and any other data set differs in them
    sample = np.ascontiguousarray(dataset[::step], dtype="float32")
    settings["data"] = f"{len(dataset)} images, sha1 {hashlib.sha1(sample.tobytes()).hexdigest()[:16]}"
    return settings


def fail(message, status):
    print(f"{SCRIPT}: error: {message}", file=sys.stderr)
    return status


def read_data(args, load):
    """load(), or a ValueError of one line: --data missing, not an .npz with DATA_KEYS, or less
    than a batch; or, without --data, Keras' download failing (no network)."""
    if args.data is not None and not os.path.isfile(args.data):
        raise ValueError(f"{args.data}: no such data file")
    try:
        if args.data is not None:
            with np.load(args.data, allow_pickle=False) as data:
                missing = [key for key in DATA_KEYS if key not in data.files]
            if missing:
                raise ValueError(f"{args.data}: no {missing[0]} array (it has: {', '.join(data.files)})")
        dataset = load()
    except ValueError:
        raise
    except Exception as err:  # zipfile, OSError, pickle: not a readable .npz; Keras' download raises Exception
        if args.data is not None:
            raise ValueError(f"{args.data}: not a readable .npz file ({err})") from None
        raise ValueError(f"could not download {DATASET} through Keras ({err}); give a local copy with --data PATH")
    if len(dataset) < args.batch_size:
        raise ValueError(f"{args.data}: {len(dataset)} images, fewer than one batch of {args.batch_size}")
    return dataset


def check_out_dir(out_dir, overwrite=False, resume=False):
    """Refuse a folder that cannot be written to, or that holds a run (unless told to overwrite or
    resume it), before anything is written."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out {out_dir}: exists and is not a folder")
    if resume and not os.path.isfile(os.path.join(out_dir, CHECKPOINT)):
        raise ValueError(f"--out {out_dir}: no {CHECKPOINT} to resume from")
    existing = os.path.abspath(out_dir)
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    probe = os.path.join(existing, f".{os.getpid()}.write-test")
    try:
        open(probe, "w").close()
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"--out {out_dir}: cannot write in {existing} ({err.strerror or err})") from None
    outputs = ("run.json", "history.csv", "plot_line_plot_loss.png", "eval_history.csv", CHECKPOINT)
    names = os.listdir(out_dir) if os.path.isdir(out_dir) and not (overwrite or resume) else []
    if any(n in outputs or n.startswith(("model_", "critic_", "generated_plot_")) for n in names):
        raise ValueError(f"--out {out_dir}: already holds a run; choose another folder, pass --resume to "
                         "continue it or --overwrite to replace it")


def write_run_info(out_dir, latent_dim, **settings):
    """run.json: how to sample the generators saved in out_dir (generate.py reads it)."""
    info = dict(script=SCRIPT, latent_dim=latent_dim, latent_distribution=LATENT_DISTRIBUTION,
                output_range=list(OUTPUT_RANGE), keras_version=keras.__version__, backend=keras.backend.backend())
    text = json.dumps(dict(info, **settings), indent=2) + "\n"
    save_atomically(os.path.join(out_dir, "run.json"), lambda tmp: open(tmp, "w", encoding="utf-8").write(text))


class Checkpoint(keras.callbacks.Callback):
    """checkpoint.npz: every variable of both models (BatchNorm statistics, dropout seeds) and of
    both optimizers, the losses so far, the --eval-every scores and NumPy's random state. Written
    at the start and at each epoch's end, also when a callback stops the run, but only while the
    run looks healthy (no NaN, no collapse suspected): it is always the last good one."""

    def __init__(self, out_dir, models, settings, guard):
        super().__init__()
        self.path, self.models, self.settings, self.guard = os.path.join(out_dir, CHECKPOINT), models, settings, guard
        self.history, self.scores, self.saved_step = {name: [] for name in LOSSES}, [], None

    def variables(self):
        g_model, d_model, gan_model = self.models
        for model in (d_model, gan_model):
            if not model.optimizer.built:  # it has not stepped yet
                model.optimizer.build(model.trainable_variables)
        return g_model.variables + d_model.variables + d_model.optimizer.variables + gan_model.optimizer.variables

    def save(self):
        values = [keras.ops.convert_to_numpy(v) for v in self.variables()]
        rng = np.random.get_state()  # (name, keys, position, has_gauss, gauss)
        state = dict(step=len(self.history[LOSSES[0]]), history=self.history, scores=self.scores,
                     settings=self.settings, numpy_rng=[rng[0], int(rng[2]), int(rng[3]), float(rng[4])])
        save_atomically(self.path, lambda tmp: np.savez(tmp, *values, state=json.dumps(state), rng_keys=rng[1]))
        self.saved_step = state["step"]

    def restore(self):
        """Back to the checkpoint, in place (--resume, or a restart after a collapse). ValueError if
        it is unreadable, or was made with other settings or models."""
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                values = [saved[f"arr_{k}"] for k in range(len(saved.files) - 2)]
                state, rng_keys = json.loads(str(saved["state"])), saved["rng_keys"]
        except Exception as err:  # zipfile, OSError, JSON, a missing array: not a checkpoint
            raise ValueError(f"{self.path}: not a readable checkpoint ({err})") from None
        for key, value in self.settings.items():
            saved = state["settings"].get(key, value)  # a key an older checkpoint lacks: not checked
            if saved != value:
                flag = "the data (--data)" if key == "data" else f"--{key.replace('_', '-')} {saved}"
                raise ValueError(f"{self.path}: made with {flag}, not {value}: resume with the flags and data the "
                                 "run was started with")
        variables = self.variables()
        if [v.shape for v in values] != [tuple(v.shape) for v in variables]:
            raise ValueError(f"{self.path}: does not fit these models: resume with the flags the run was started with")
        for variable, value in zip(variables, values):
            variable.assign(value)
        np.random.set_state((state["numpy_rng"][0], rng_keys, *state["numpy_rng"][1:]))
        self.history.update(state["history"])
        self.scores[:], self.saved_step = state["scores"], state["step"]
        folder = os.path.dirname(self.path) or "."
        for name in os.listdir(folder):  # temporary files of a run killed while saving
            if name.startswith(".") and ".partial." in name:
                os.remove(os.path.join(folder, name))

    def on_train_begin(self, logs=None):
        step, total, folder = len(self.history[LOSSES[0]]), self.params["total_steps"], os.path.dirname(self.path)
        if self.saved_step is None:
            self.save()
        elif step >= total:
            print(f"the run in {folder} is already finished ({step} of {total} steps)")
        else:
            print(f"resuming the run in {folder} at step {step} of {total}")

    def on_epoch_end(self, epoch, logs=None):
        if np.isfinite(logs["loss"]) and self.guard.streak == 0:
            self.save()


class StepProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting the steps this run makes in each epoch: a resumed epoch, the last
    partial one and a --max-steps run show their own step count and time per step (Keras' bar counts
    every epoch whole, from batch 0)."""

    def set_params(self, params):
        super().set_params(params)  # Keras' keeps only what its bar needs
        self.steps, self.total_steps = params["steps"], params["total_steps"]

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.epoch, self.first = epoch, None

    def on_train_batch_begin(self, batch, logs=None):
        if self.first is None:  # the epoch's first step here: 0, or where a resumed run goes on
            self.first = batch
            self.target = self.progbar.target = min(self.steps, self.total_steps - self.epoch * self.steps) - batch

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch - self.first, logs)


class StopOnSignal(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) or SIGTERM stops the run after the current step, with its checkpoint; a
    second Ctrl-C stops it at once. Only in the main thread, where Python takes signals."""

    def on_train_begin(self, logs=None):
        self.received, self.previous = None, {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self.request)

    def request(self, signum, frame):
        if self.received == signal.SIGINT == signum:
            self.on_train_end()
            raise KeyboardInterrupt
        self.received = signum

    def on_train_batch_end(self, batch, logs=None):
        if self.received:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


class CollapseGuard(keras.callbacks.Callback):
    """A likely collapse: `window` steps in a row that look collapsed (looks_collapsed). It is
    reported; with `stop` the run stops there, and main may restart it from the checkpoint."""

    def __init__(self, window=COLLAPSE_WINDOW, threshold=COLLAPSE_THRESHOLD, stop=True):
        super().__init__()
        self.window, self.threshold, self.stop = window, threshold, stop

    def on_train_begin(self, logs=None):
        self.streak, self.collapsed = 0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.streak = self.streak + 1 if looks_collapsed(logs, self.threshold) else 0
        if self.streak == self.window:
            step, rule = self.epoch * self.params["steps"] + batch + 1, COLLAPSE_RULE.format(f"{self.threshold:g}")
            print(f"step {step}: likely collapse ({rule} for {self.window} steps in a row)")
            if self.stop:
                self.collapsed = self.model.stop_training = True


class TensorBoard(keras.callbacks.TensorBoard):
    """--tensorboard DIR: Keras' TensorBoard callback with every step's losses, counted from the
    run's start also after --resume, and after each epoch the generator's samples of 100 fixed
    latent points as one grid, so that one watches the same samples improve."""

    def __init__(self, log_dir, g_model, latent_dim):
        super().__init__(log_dir, update_freq="batch", write_graph=False)
        self.g_model, rng = g_model, np.random.get_state()
        np.random.seed(0)  # fixed points, drawn as training draws its own, leaving its random state alone
        self.z = generate_latent_points(latent_dim, 100)
        np.random.set_state(rng)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        super().on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch = self.epoch * self.params["steps"] + batch  # Keras counts from 0 in each call
        super().on_train_batch_begin(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if not self.model.stop_training:
            pixels = grid_pixels(np.asarray(self.g_model.predict_on_batch(self.z)))
            image = pixels.reshape((1, *pixels.shape[:2], -1))  # batch, height, width, channels
            with self._train_writer.as_default():
                self.summary.image("generated", image, step=self._global_train_batch)


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


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_run_flags(p):
    """The flags every script has, after its own."""
    p.add_argument("--latent-dim", type=positive, default=LATENT_DIM, help="size of the latent space")
    p.add_argument("--data", default=None,
                   help=f"local .npz with {' and '.join(DATA_KEYS)}; default: download {DATASET} through Keras")
    p.add_argument("--out", default=OUT_DIR, help="folder for grids, generators, history and loss plot")
    p.add_argument("--seed", type=int, default=None, help="seed Python, NumPy and the backend")
    p.add_argument("--mixed-precision", choices=PRECISIONS, default="off",
                   help="compute in bfloat16 or float16, keeping the weights (and the layers a loss reads) in float32; "
                        "float16 scales the losses")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that already holds a run")
    p.add_argument("--data-parallel", action="store_true",
                   help="split each batch over every local GPU (keras.distribution.DataParallel; KERAS_BACKEND=jax)")
    p.add_argument("--eval-every", type=positive, default=None, metavar="N",
                   help=f"every N {EVAL_UNIT}, save the generator and score it with evaluate.py's {EVAL_METRIC} "
                        "(eval_history.csv; the best is named at the end); off unless given")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write every step's losses and, each epoch, a grid of samples for TensorBoard to DIR")
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --out from its {CHECKPOINT} (give the flags it was started with)")
    p.add_argument("--stop-on-collapse", action=argparse.BooleanOptionalAction, default=True,
                   help="stop (or restart, see --restart-on-collapse) on a likely collapse; a NaN loss always stops")
    p.add_argument("--collapse-window", type=positive, default=COLLAPSE_WINDOW,
                   help="steps in a row that must look collapsed")
    p.add_argument("--collapse-threshold", type=positive_float, default=COLLAPSE_THRESHOLD,
                   help="a likely collapse: " + COLLAPSE_RULE.format("this"))
    p.add_argument("--restart-on-collapse", type=non_negative, default=0, metavar="K",
                   help="on a likely collapse, restore the last good checkpoint and go on with a new seed, "
                        "at most K times")


if __name__ == "__main__":
    status = main()
    if "__file__" in globals():  # a notebook cell has no __file__, and sys.exit() there raises SystemExit
        sys.exit(status)
