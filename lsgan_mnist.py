"""Least Squares GAN (LSGAN) on MNIST, on Keras 3 (flags, outputs, measured runs: docs/lsgan_mnist.md).

The classic Keras tutorial's models and hyperparameters, with the training repaired for
Keras 3: the discriminator really trains, the composite model updates the generator only,
and the discriminator's BatchNorm uses batch statistics in both updates.

    python lsgan_mnist.py                      # 20 epochs on MNIST (downloaded by Keras)
    python lsgan_mnist.py --data mnist.npz     # a local copy, as keras.datasets returns it

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
N_EPOCHS = 20
N_BATCH = 64
LEARNING_RATE = 0.0002
BETA_1 = 0.5
IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGE = (-1.0, 1.0)  # the generator's tanh; the data is scaled to match
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # least-squares targets for the discriminator
LOSSES = ("d1", "d2", "g")  # a step's losses: discriminator on real, then generated images; generator


# %% The models
def define_discriminator(in_shape=IMAGE_SHAPE):
    """Two strided convolutions and a linear output (float32: the loss reads it): a score, for least squares."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    model = keras.Sequential(
        [
            keras.Input(shape=in_shape),
            layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dense(1, activation="linear", kernel_initializer=init, dtype="float32"),
        ],
        name="discriminator",
    )
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1))
    return model


def define_generator(latent_dim):
    """Not compiled: it is only trained through the composite model. Its tanh is float32 (a loss reads it)."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(256 * 7 * 7, kernel_initializer=init),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Conv2DTranspose(64, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Conv2D(1, 7, padding="same", kernel_initializer=init),
            layers.Activation("tanh", dtype="float32"),
        ],
        name="generator",
    )


class Composite(keras.Model):
    """Generator then discriminator, as one model that updates only `trained`: the generator (the tutorial's
    composite model) or the discriminator (its update on generated images). The Keras 2 tutorials froze the
    discriminator with `trainable = False` before compiling the composite model; Keras 3 reads that flag at every
    step, freezing it everywhere (its own updates do nothing) with its BatchNorm in inference mode. Here every layer
    stays trainable and in training mode; the model only leaves the other model's weights out of what its optimizer
    updates, which Keras' trainers read from these four properties."""

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
    """The composite model: latent point -> image -> score, updating the generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1))
    return model


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
    """MNIST's training images in [-1,1] (tanh's range), shape (n, 28, 28, 1): downloaded by
    Keras, or from an .npz laid out as keras.datasets.mnist returns it."""
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
    return (x - 127.5) / 127.5


def generate_real_samples(dataset, n_samples):
    """A random batch of real images with target REAL_LABEL."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    return dataset[ix], np.full((n_samples, 1), REAL_LABEL, dtype="float32")


def generate_latent_points(latent_dim, n_samples):
    """Standard normal latent points, as in the tutorial."""
    return np.random.randn(n_samples, latent_dim).astype("float32")


def generate_fake_samples(generator, latent_dim, n_samples):
    """Generated images with target FAKE_LABEL, for the reports: one compiled call in inference
    mode, as a saved generator samples (predict() would add a data pipeline and a progress bar)."""
    x_input = generate_latent_points(latent_dim, n_samples)
    images = np.asarray(generator.predict_on_batch(x_input))
    return images, np.full((n_samples, 1), FAKE_LABEL, dtype="float32")


# %% The reports: a grid and the generator each epoch, the losses at the end (file helpers: below)
def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir=".", reverse_grey=None):
    """A 10x10 grid of generated digits and the generator, both named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)), reverse_grey=reverse_grey)
    save_model(g_model, os.path.join(out_dir, "model_%06d.h5" % (step + 1)))


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
def train_discriminator(d_model, d_fake_model, dataset, latent_dim, half_batch):
    """The discriminator's two updates: on real images, then on generated ones."""
    X_real, y_real = generate_real_samples(dataset, half_batch)
    d_loss1 = per_batch(d_model).train_on_batch(X_real, y_real)
    y_fake = np.full((half_batch, 1), FAKE_LABEL, dtype="float32")
    d_loss2 = per_batch(d_fake_model).train_on_batch(generate_latent_points(latent_dim, half_batch), y_fake)
    return d_loss1, d_loss2


def train_generator(gan_model, latent_dim, n_batch):
    """The generator's update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return per_batch(gan_model).train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch):
    """One step of train(): the discriminator's two updates, then the generator's."""
    d_loss1, d_loss2 = train_discriminator(d_model, d_fake_model, dataset, latent_dim, n_batch // 2)
    g_loss = train_generator(gan_model, latent_dim, n_batch)
    return float(d_loss1), float(d_loss2), float(g_loss)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          callbacks=None, history=None, max_steps=None, out_dir=".", verbose="auto", reverse_grey=None):
    """The tutorial's loop: train_step() over n_epochs, summarize_performance() after each epoch,
    plot_history() at the end; returns every step's losses. Like fit(), it runs Keras callbacks,
    whose logs hold the step's losses ("loss": their sum); one that sets gan_model.stop_training
    stops the run before that epoch's report. history: the losses of steps done, to go on after."""
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
                losses = train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=sum(losses)))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training:
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, g_model, latent_dim, out_dir=out_dir, reverse_grey=reverse_grey)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=sum(means.values())))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(history["d1"], history["d2"], history["g"], out_dir=out_dir)
    return history


# %% ---- Running from the command line ------------------------------------------------------
# This script's own on the command line: MNIST, its flags, its models from them, its collapse rule (both
# discriminator losses near 0). The run machinery the scripts share (checkpoints, --resume, Ctrl-C, ...) is
# gan_runner.py's, beside this file; without it (this file alone, in a notebook cell or a folder), main()
# trains with the tutorial's defaults.
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "lsgan_mnist.py", "Least Squares GAN (LSGAN) on MNIST, on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "lsgan_mnist"), "MNIST", ("x_train",)
LATENT_DISTRIBUTION = "normal"  # run.json tells generate.py
GREY_REVERSED = True  # grids draw grey black on white, as the tutorials drew MNIST (a folder's photos: False)
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 10000, "digit-classifier FID"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "both discriminator losses below {}"
MIN_BATCH_SIZE = 2  # half real, half generated


def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly: the generator learns no more."""
    return logs["d1"] < threshold and logs["d2"] < threshold


def define_run(args):
    """The models, and train()'s arguments, from the flags."""
    d_model = define_discriminator()
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, d_model)
    return (g_model, d_model, gan_model), dict(n_epochs=args.epochs, n_batch=args.batch_size, max_steps=args.max_steps)


def define_scorer(args):
    """--eval-every: evaluate.py's digit-classifier FID (it trains and caches the classifier once)."""
    import evaluate

    return evaluate.Scorer("mnist", args.data, n=EVAL_SAMPLES, inception=False)


def add_flags(p):
    """This script's own flags; gan_runner.py adds the ones every script has after them."""
    p.add_argument("--epochs", type=gan_runner.positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH,
                   help="images per step (half real, half fake)")
    p.add_argument("--max-steps", type=gan_runner.positive, default=None,
                   help="stop after this many steps (final outputs still written)")


def train_with_defaults(out_dir):
    """Every default: the script's models, the data from Keras, its train() (main, without gan_runner.py)."""
    d_model = define_discriminator()
    g_model = define_generator(LATENT_DIM)
    train(g_model, d_model, define_gan(g_model, d_model), load_real_samples(), LATENT_DIM, out_dir=out_dir)


# ---- The helpers the tutorial calls: copies of gan_utils.py's and gan_runner.py's (tools/check_copies.py)
# Copied from gan_runner.per_batch
def per_batch(model):
    """The model, running means reset where train_on_batch gives the mean since compile: Keras < 3.15 (keras#22596)."""
    if tuple(int(part) for part in keras.__version__.split(".")[:2]) < (3, 15):
        model.reset_metrics()
    return model


# Copied from gan_utils.save_atomically
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


# Copied from gan_runner.save_model
def save_model(model, path):
    """model.save() through a temporary name, without the notice Keras gives on each .h5 save (it calls it legacy)."""
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        save_atomically(path, model.save)
    finally:
        absl_log.setLevel(level)


# Copied from gan_utils.save_grid
def save_grid(images, path, value_range=OUTPUT_RANGE, columns=None, reverse_grey=None):
    """grid_pixels() of the images as a PNG, written whole; returns the picture."""
    pixels = grid_pixels(images, value_range, columns=columns, reverse_grey=reverse_grey)
    save_atomically(path, lambda tmp: imsave(tmp, pixels, cmap="gray", vmin=0.0, vmax=1.0, format="png"))
    return pixels


# Copied from gan_utils.grid_pixels
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


def main(argv=None):
    """Train from the command line (gan_runner.main); alone, the run of every default."""
    if argv is None:  # the command line's, but not in a notebook (no __file__): its argv is the kernel's
        argv = sys.argv[1:] if "__file__" in globals() else []
    if gan_runner is not None:
        return gan_runner.main(globals(), argv)
    if argv:
        print(f"{SCRIPT}: error: the flags need gan_runner.py beside this script", file=sys.stderr)
        return 2
    out = next(d for d in [OUT_DIR] + [f"{OUT_DIR}-{k}" for k in range(2, 1000)] if not os.path.exists(d))
    print(f"{SCRIPT}: alone (no gan_runner.py beside it, which the flags need): every default, into {out}")
    train_with_defaults(out)
    return 0


if __name__ == "__main__":
    status = main()
    if "__file__" in globals():  # a notebook cell has no __file__, and sys.exit() there raises SystemExit
        sys.exit(status)
