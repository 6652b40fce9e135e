"""Wasserstein GAN (WGAN) on the MNIST sevens, on Keras 3 (flags, outputs, measured runs: docs/wgan_mnist7.md).

The classic Keras tutorial's models and hyperparameters, with the training repaired for Keras 3: the critic
really trains, the composite model updates the generator only, and the critic's BatchNorm uses batch statistics
in both updates. What makes it a WGAN: a linear critic score, targets -1 (real) and +1 (generated), the
Wasserstein loss, weight clipping, 5 critic updates per generator update, and RMSprop.

    python wgan_mnist7.py [--data mnist.npz]   # 10 epochs on the sevens of MNIST (a local copy, or Keras downloads it)

Read it as the tutorial, down to the banner "Running from the command line". In a notebook, paste
it whole into one cell (it trains with the defaults), or run its cells (# %%), then:

    c_model, g_model = define_critic(), define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, c_model)
    train(g_model, c_model, gan_model, load_real_samples(), LATENT_DIM)
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
N_EPOCHS = 10
N_BATCH = 64
N_CRITIC = 5  # critic updates per generator update
CLIP_VALUE = 0.01  # critic kernels are clipped to [-CLIP_VALUE, CLIP_VALUE]
LEARNING_RATE = 0.00005  # RMSprop, no momentum
DIGIT = 7
IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGE = (-1.0, 1.0)  # the generator's tanh; the data is scaled to match
REAL_LABEL, FAKE_LABEL = -1.0, 1.0  # Wasserstein targets for the critic
LOSSES = ("c1", "c2", "g")  # a step's losses: critic on real, then generated images (means); generator


# %% The models
@keras.saving.register_keras_serializable(package="keras_gans")
class ClipConstraint(keras.constraints.Constraint):
    """Clip weights to a hypercube after every update: the WGAN's way to keep the critic (roughly)
    Lipschitz. Registered, so that load_model() needs no custom_objects."""

    def __init__(self, clip_value=CLIP_VALUE):
        self.clip_value = clip_value

    def __call__(self, weights):
        return keras.ops.clip(weights, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="keras_gans")
def wasserstein_loss(y_true, y_pred):
    """The mean of target x score (-1 real, +1 fake: the critic scores real images high), plus 0 x score^2: it adds
    0, but its gradient reads the scores, so TensorFlow makes them before the update (docs/how-the-updates-work.md)."""
    return keras.ops.mean(keras.ops.multiply(y_true, y_pred) + 0.0 * keras.ops.square(y_pred))


def define_critic(in_shape=IMAGE_SHAPE, clip_value=CLIP_VALUE):
    """Two clipped strided convolutions and a linear output (float32: the loss reads it): a score."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    const = ClipConstraint(clip_value)
    model = keras.Sequential(
        [
            keras.Input(shape=in_shape),
            layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init, kernel_constraint=const),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init, kernel_constraint=const),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dense(1, activation="linear", kernel_initializer=init, dtype="float32"),
        ],
        name="critic",
    )
    model.compile(loss=wasserstein_loss, optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE))
    return model


def define_generator(latent_dim):
    """Not compiled: it is only trained through the composite model. Its tanh is float32 (a loss reads it)."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(128 * 7 * 7, kernel_initializer=init),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same", kernel_initializer=init),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, 7, padding="same", kernel_initializer=init),
            layers.Activation("tanh", dtype="float32"),
        ],
        name="generator",
    )


# Copied from lsgan_mnist.Composite
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


def define_gan(generator, critic):
    """The composite model: latent point -> image -> score, updating the generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, critic(generator(z)), trained=generator, name="gan")
    model.compile(loss=wasserstein_loss, optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE))
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
def load_real_samples(path=None, digit=DIGIT):
    """MNIST's training images of one digit in [-1,1] (tanh's range), shape (n, 28, 28, 1): downloaded
    by Keras, or from an .npz laid out as keras.datasets.mnist returns it."""
    if path is None:
        (x_train, y_train), (_, _) = keras.datasets.mnist.load_data()
    else:
        with np.load(path) as data:
            x_train, y_train = data["x_train"], data["y_train"]
    if len(x_train) != len(y_train):
        raise ValueError(f"{path}: x_train and y_train differ in length")
    x = np.asarray(x_train, dtype="float32")[np.asarray(y_train).reshape(-1) == digit]  # the digit's images
    if len(x) == 0:
        raise ValueError(f"{path}: no training images of the digit {digit}")
    if x.ndim == 3:
        x = x[..., np.newaxis]  # the channel axis the convolutions expect
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE} "
                         "(or (28, 28)), as keras.datasets.mnist returns them")
    return (x - 127.5) / 127.5


# Copied from lsgan_mnist.generate_real_samples
def generate_real_samples(dataset, n_samples):
    """A random batch of real images with target REAL_LABEL."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    return dataset[ix], np.full((n_samples, 1), REAL_LABEL, dtype="float32")


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


# %% The reports: a grid, the generator and the critic each epoch, the losses (file helpers: below)
def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir=".", c_model=None, reverse_grey=None):
    """A 10x10 grid of generated digits and the generator (and the critic, if given), named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)), reverse_grey=reverse_grey)
    save_model(g_model, os.path.join(out_dir, "model_%06d.h5" % (step + 1)))
    if c_model is not None:
        save_model(c_model, os.path.join(out_dir, "critic_%06d.h5" % (step + 1)))


def plot_history(d1_hist, d2_hist, g_hist, out_dir="."):
    """A line plot of the three losses, and history.csv with one row per generator update."""
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    ax.plot(d1_hist, label="crit_real")
    ax.plot(d2_hist, label="crit_fake")
    ax.plot(g_hist, label="gen")
    ax.set_xlabel("step")
    ax.legend()
    save_atomically(os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: fig.savefig(tmp, format="png"))
    rows = np.column_stack([np.arange(1, len(g_hist) + 1), d1_hist, d2_hist, g_hist])
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: np.savetxt(
        tmp, rows, fmt=["%d", "%.6g", "%.6g", "%.6g"], delimiter=",", header="step,c1,c2,g", comments=""))


# %% Training (per_batch, for Keras before 3.15: below)
def train_discriminator(c_model, c_fake_model, dataset, latent_dim, half_batch):
    """The critic's two updates, on real then generated images, each ending with its kernels clipped."""
    X_real, y_real = generate_real_samples(dataset, half_batch)
    c_loss1 = per_batch(c_model).train_on_batch(X_real, y_real)
    y_fake = np.full((half_batch, 1), FAKE_LABEL, dtype="float32")
    c_loss2 = per_batch(c_fake_model).train_on_batch(generate_latent_points(latent_dim, half_batch), y_fake)
    return c_loss1, c_loss2


# Copied from lsgan_mnist.train_generator
def train_generator(gan_model, latent_dim, n_batch):
    """The generator's update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return per_batch(gan_model).train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(c_model, c_fake_model, gan_model, dataset, latent_dim, n_batch, n_critic=N_CRITIC):
    """One step of train(): n_critic rounds of the critic's updates (their mean losses), then the generator's."""
    rounds = [train_discriminator(c_model, c_fake_model, dataset, latent_dim, n_batch // 2) for _ in range(n_critic)]
    g_loss = train_generator(gan_model, latent_dim, n_batch)
    c_loss1, c_loss2 = np.mean(rounds, axis=0)
    return float(c_loss1), float(c_loss2), float(g_loss)


def train(g_model, c_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH, n_critic=N_CRITIC,
          callbacks=None, history=None, max_steps=None, out_dir=".", verbose="auto", reverse_grey=None):
    """The tutorial's loop: train_step() over n_epochs, summarize_performance() after each epoch,
    plot_history() at the end; returns every step's losses. Like fit(), it runs Keras callbacks,
    whose logs hold the step's losses ("loss": their sum); one that sets gan_model.stop_training
    stops the run before that epoch's report. history: the losses of steps done, to go on after."""
    bat_per_epo = dataset.shape[0] // n_batch
    if bat_per_epo < 1 or n_batch < 2:
        raise ValueError(f"need at least one batch: {dataset.shape[0]} images, batch size {n_batch}")
    n_steps = min(bat_per_epo * n_epochs, max_steps or bat_per_epo * n_epochs)
    c_fake_model = define_discriminator_on_fakes(g_model, c_model)
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
                losses = train_step(c_model, c_fake_model, gan_model, dataset, latent_dim, n_batch, n_critic)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=sum(losses)))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training:
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, g_model, latent_dim, out_dir=out_dir, c_model=c_model, reverse_grey=reverse_grey)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=sum(means.values())))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(history["c1"], history["c2"], history["g"], out_dir=out_dir)
    return history


# %% ---- Running from the command line ------------------------------------------------------
# This script's own on the command line: the sevens (--digit), the critic's flags, its collapse rule. The run
# machinery the scripts share is gan_runner.py's, beside this file; alone, main() trains with the defaults.
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "wgan_mnist7.py", "Wasserstein GAN (WGAN) on the MNIST sevens, on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "wgan_mnist7"), "MNIST", ("x_train", "y_train")
LATENT_DISTRIBUTION = "normal"  # run.json tells generate.py
GREY_REVERSED = True  # grids draw grey black on white, as the tutorials drew MNIST (a folder's photos: False)
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 10000, "digit-classifier FID against real digits of --digit"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD = 200, 500.0
COLLAPSE_RULE = "the critic's gap |c1 + c2| (its Wasserstein estimate) above {}"
MIN_BATCH_SIZE = 2  # half real, half generated (for the critic)


def looks_collapsed(logs, threshold):
    """The critic's gap between real and generated images blown up: clipping no longer holds it."""
    return abs(logs["c1"] + logs["c2"]) > threshold


def load_data(args, path):
    """The training images of --digit: the tutorial's loader, on the .npz at path (None: Keras' download)."""
    return load_real_samples(path, args.digit)


def define_run(args):
    """The models, and train()'s arguments, from the flags."""
    c_model = define_critic(clip_value=args.clip)
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, c_model)
    return (g_model, c_model, gan_model), dict(n_epochs=args.epochs, n_batch=args.batch_size, n_critic=args.n_critic,
                                               max_steps=args.max_steps)


def define_scorer(args):
    """--eval-every: evaluate.py's digit-classifier FID against real sevens (or --digit)."""
    import evaluate

    return evaluate.Scorer("mnist", args.data, n=EVAL_SAMPLES, inception=False, digit=args.digit)


def add_flags(p):
    """This script's own flags; gan_runner.py adds the ones every script has after them."""
    p.add_argument("--epochs", type=gan_runner.positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--n-critic", type=gan_runner.positive, default=N_CRITIC, help="critic updates per generator update")
    p.add_argument("--clip", type=gan_runner.positive_float, default=CLIP_VALUE,
                   help="clip critic kernels to [-CLIP, CLIP]")
    p.add_argument("--digit", type=int, choices=range(10), default=DIGIT, metavar="{0..9}", help="train on this digit")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH,
                   help="images per update (half real, half fake for the critic)")
    p.add_argument("--max-steps", type=gan_runner.positive, default=None,
                   help="stop after this many generator updates (final outputs still written)")


def train_with_defaults(out_dir):
    """The tutorial's run: its models, the sevens from Keras, every default (main, without gan_runner.py)."""
    c_model, g_model = define_critic(), define_generator(LATENT_DIM)
    train(g_model, c_model, define_gan(g_model, c_model), load_real_samples(), LATENT_DIM, out_dir=out_dir)


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


# Copied from lsgan_mnist.main
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
