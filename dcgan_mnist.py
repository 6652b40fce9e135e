"""DCGAN on MNIST (RMSprop, dropout, upsampling), on Keras 3 (flags, outputs, measured runs: docs/dcgan_mnist.md).

The older Keras DCGAN tutorial's models and hyperparameters, with the training repaired for
Keras 3: the discriminator really trains, the composite ("adversarial") model updates the
generator only, and dropout and BatchNorm run in training mode in every update. What sets this
variant apart: images in [0,1] and a sigmoid generator, uniform latent points, dropout everywhere,
upsampling before transposed convolutions, RMSprop with gradient clipping and learning-rate
decay, one discriminator update on real and fake images together, and a run counted in steps.

    python dcgan_mnist.py                      # 10,000 steps on MNIST (downloaded by Keras)
    python dcgan_mnist.py --data mnist.npz     # a local copy, as keras.datasets returns it

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
N_STEPS = 10_000
N_BATCH = 256
SAVE_EVERY = 500
D_LEARNING_RATE, D_DECAY = 0.0008, 6e-8  # RMSprop, gradient clipvalue 1.0
A_LEARNING_RATE, A_DECAY = 0.0004, 3e-8
CLIP_VALUE = 1.0
IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGE = (0.0, 1.0)  # the generator's sigmoid; the data is scaled to match
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # binary cross-entropy targets
LOSSES = ("d_loss", "d_acc", "a_loss", "a_acc")  # a step's: the discriminator's and the adversarial model's


# %% The models
def decayed_rmsprop(learning_rate, decay):
    """RMSprop as the Keras 2 tutorial built it. Keras 3 optimizers have no `decay` argument; the
    old behaviour, lr / (1 + decay * iterations), is InverseTimeDecay with decay_steps=1."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    return keras.optimizers.RMSprop(learning_rate=schedule, clipvalue=CLIP_VALUE)


def define_discriminator(in_shape=IMAGE_SHAPE):
    """Four 5x5 convolutions, each followed by dropout, and a sigmoid probability (float32: the loss reads it)."""
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters, strides in ((64, 2), (128, 2), (256, 2), (512, 1)):
        model.add(layers.Conv2D(filters, 5, strides=strides, padding="same"))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Dropout(0.4))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation="sigmoid", dtype="float32"))
    model.compile(loss="binary_crossentropy", optimizer=decayed_rmsprop(D_LEARNING_RATE, D_DECAY), metrics=["accuracy"])
    return model


def define_generator(latent_dim):
    """Not compiled: it is only ever trained through the composite model. Its output is a sigmoid, so
    images are in [0,1] like the data, computed in float32 (also under mixed precision: a loss reads it)."""
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Dense(256 * 7 * 7))
    model.add(layers.BatchNormalization(momentum=0.9))
    model.add(layers.Activation("relu"))
    model.add(layers.Reshape((7, 7, 256)))
    model.add(layers.Dropout(0.4))
    for filters, upsample in ((128, True), (64, True), (32, False)):
        if upsample:
            model.add(layers.UpSampling2D())
        model.add(layers.Conv2DTranspose(filters, 5, padding="same"))
        model.add(layers.BatchNormalization(momentum=0.9))
        model.add(layers.Activation("relu"))
    model.add(layers.Conv2DTranspose(1, 5, padding="same"))
    model.add(layers.Activation("sigmoid", dtype="float32"))
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
    """The composite ("adversarial") model: latent point -> image -> probability, updating the
    generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    model.compile(loss="binary_crossentropy", optimizer=decayed_rmsprop(A_LEARNING_RATE, A_DECAY), metrics=["accuracy"])
    return model


def define_discriminator_on_fakes(generator, discriminator):
    """(real images, latent points) -> probabilities of the real images and the generated ones,
    in one batch as the tutorial did, updating the discriminator only, with its own loss and
    optimizer: its update in one compiled call. The generator runs as in its own update (batch
    statistics, dropout; its moving statistics follow): the discriminator judges what the
    generator is trained to make."""
    real = keras.Input(shape=discriminator.input_shape[1:])
    z = keras.Input(shape=generator.input_shape[1:])
    both = layers.Concatenate(axis=0)([real, generator(z)])
    model = Composite([real, z], discriminator(both), trained=discriminator, name="discriminator_on_fakes")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer, metrics=["accuracy"])
    return model


# %% The data
def load_real_samples(path=None):
    """MNIST's training images in [0,1] (the sigmoid's range), shape (n, 28, 28, 1): downloaded
    by Keras, or from an .npz laid out as keras.datasets.mnist returns it."""
    if path is None:
        (x_train, _), (_, _) = keras.datasets.mnist.load_data()
    else:
        with np.load(path) as data:
            x_train = data["x_train"]
    x = np.asarray(x_train, dtype="float32")
    if x.ndim == 3:
        x = x[..., np.newaxis]  # the channel axis the convolutions expect
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE} "
                         "(or (28, 28)), as keras.datasets.mnist returns them")
    return x / 255.0


# Copied from lsgan_mnist.generate_real_samples
def generate_real_samples(dataset, n_samples):
    """A random batch of real images with target REAL_LABEL."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    return dataset[ix], np.full((n_samples, 1), REAL_LABEL, dtype="float32")


def generate_latent_points(latent_dim, n_samples):
    """Latent points drawn uniformly from [-1,1], as in the tutorial."""
    return np.random.uniform(-1.0, 1.0, size=(n_samples, latent_dim)).astype("float32")


# Copied from lsgan_mnist.generate_fake_samples
def generate_fake_samples(generator, latent_dim, n_samples):
    """Generated images with target FAKE_LABEL, for the reports: one compiled call in inference
    mode, as a saved generator samples (predict() would add a data pipeline and a progress bar)."""
    x_input = generate_latent_points(latent_dim, n_samples)
    images = np.asarray(generator.predict_on_batch(x_input))
    return images, np.full((n_samples, 1), FAKE_LABEL, dtype="float32")


# %% The reports: a grid and the generator every save_every steps, the losses (file helpers: below)
# Copied from lsgan_mnist.summarize_performance
def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir="."):
    """A 10x10 grid of generated digits and the generator, both named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)))
    save_model(g_model, os.path.join(out_dir, "model_%06d.h5" % (step + 1)))


def plot_history(d_loss, d_acc, a_loss, a_acc, out_dir="."):
    """Line plots of the losses and accuracies, and history.csv with one row per step."""
    fig = Figure(figsize=(10, 8))
    ax_loss, ax_acc = fig.subplots(2, 1, sharex=True)
    ax_loss.plot(d_loss, label="D loss")
    ax_loss.plot(a_loss, label="adversarial loss")
    ax_acc.plot(d_acc, label="D accuracy")
    ax_acc.plot(a_acc, label="adversarial accuracy")
    ax_acc.set_xlabel("step")
    ax_loss.legend()
    ax_acc.legend()
    save_atomically(os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: fig.savefig(tmp, format="png"))
    rows = np.column_stack([np.arange(1, len(d_loss) + 1), d_loss, d_acc, a_loss, a_acc])
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: np.savetxt(
        tmp, rows, fmt=["%d"] + ["%.6g"] * 4, delimiter=",", header="step," + ",".join(LOSSES), comments=""))


# %% Training (per_batch, for Keras before 3.15: below)
def train_discriminator(d_fake_model, dataset, latent_dim, n_batch):
    """One discriminator update on n_batch real and n_batch generated images in one batch."""
    X_real, y_real = generate_real_samples(dataset, n_batch)
    y = np.concatenate([y_real, np.full((n_batch, 1), FAKE_LABEL, dtype="float32")])
    return per_batch(d_fake_model).train_on_batch([X_real, generate_latent_points(latent_dim, n_batch)], y)


# Copied from lsgan_mnist.train_generator
def train_generator(gan_model, latent_dim, n_batch):
    """The generator's update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return per_batch(gan_model).train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(d_fake_model, gan_model, dataset, latent_dim, n_batch):
    """One step of train(): the discriminator's update, then the generator's. Returns the
    discriminator's loss and accuracy, then the adversarial model's."""
    d_loss, d_acc = train_discriminator(d_fake_model, dataset, latent_dim, n_batch)
    a_loss, a_acc = train_generator(gan_model, latent_dim, n_batch)
    return float(d_loss), float(d_acc), float(a_loss), float(a_acc)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_steps=N_STEPS, n_batch=N_BATCH, save_every=SAVE_EVERY,
          callbacks=None, history=None, out_dir=".", verbose="auto"):
    """The tutorial's loop, counted in steps: train_step() n_steps times, summarize_performance()
    every save_every steps and at the end, plot_history() at the end; returns every step's losses.
    Like fit(), it runs Keras callbacks, to which an epoch is save_every steps (CSVLogger,
    TensorBoard, TerminateOnNaN, yours): their logs hold the step's losses and accuracies ("loss":
    the two losses' sum); one that sets gan_model.stop_training stops the run before that epoch's
    report. history: the losses of steps already done, to go on after them (fit's initial_epoch)."""
    if dataset.shape[0] < n_batch or n_batch < 1:
        raise ValueError(f"need at least one batch: {dataset.shape[0]} images, batch size {n_batch}")
    d_fake_model = define_discriminator_on_fakes(g_model, d_model)
    history = {name: [] for name in LOSSES} if history is None else history
    os.makedirs(out_dir, exist_ok=True)
    callbacks = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=gan_model,
                                             verbose=verbose, epochs=-(-n_steps // save_every), steps=save_every,
                                             total_steps=n_steps)
    gan_model.stop_training = False
    callbacks.on_train_begin()
    try:
        step = len(history["d_loss"])
        while step < n_steps and not gan_model.stop_training:
            epoch, first = step // save_every, step
            callbacks.on_epoch_begin(epoch)
            for batch in range(step % save_every, min(save_every, n_steps - epoch * save_every)):
                callbacks.on_train_batch_begin(batch)
                losses = train_step(d_fake_model, gan_model, dataset, latent_dim, n_batch)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=losses[0] + losses[2]))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training:
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, g_model, latent_dim, out_dir=out_dir)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=means["d_loss"] + means["a_loss"]))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(*(history[name] for name in LOSSES), out_dir=out_dir)
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

SCRIPT, ABOUT = "dcgan_mnist.py", "DCGAN on MNIST (RMSprop, dropout, upsampling), on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "dcgan_mnist"), "MNIST", ("x_train",)
LATENT_DISTRIBUTION = "uniform"  # run.json tells generate.py
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "steps", 10000, "digit-classifier FID"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "the discriminator's loss below {}"


def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly: the generator learns no more."""
    return logs["d_loss"] < threshold


def define_run(args):
    """The data, the models, and train()'s arguments, from the flags."""
    dataset = read_data(args, lambda: load_real_samples(args.data))
    d_model = define_discriminator()
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, d_model)
    return dataset, (g_model, d_model, gan_model), dict(n_steps=args.steps, n_batch=args.batch_size,
                                                        save_every=args.save_every)


# Copied from lsgan_mnist.define_scorer
def define_scorer(args):
    """--eval-every: evaluate.py's digit-classifier FID (it trains and caches the classifier once)."""
    import evaluate

    return evaluate.Scorer("mnist", args.data, n=EVAL_SAMPLES, inception=False)


def parse_args(argv=None):
    p = Parser(prog=SCRIPT, description=ABOUT, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=positive, default=N_STEPS, help="training steps (this variant counts steps)")
    p.add_argument("--save-every", type=positive, default=SAVE_EVERY,
                   help="save a grid and the generator every N steps")
    p.add_argument("--batch-size", type=positive, default=N_BATCH, help="real images (and as many generated) "
                   "per discriminator update, latent points per generator update")
    add_run_flags(p)
    return p.parse_args(argv)


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
