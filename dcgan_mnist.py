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
# The discriminator outputs a logit and the loss takes the sigmoid, as Keras' TensorFlow backend does behind a sigmoid
# layer; on JAX and PyTorch a loss on the probability clips it at 1e-7, so a discriminator that is sure would teach the
# generator nothing (docs/how-the-updates-work.md). Its probability, where wanted: keras.ops.sigmoid(d_model(x)).
LOSS = keras.losses.BinaryCrossentropy(from_logits=True)
LOSSES = ("d_loss", "d_acc", "a_loss", "a_acc")  # a step's: the discriminator's and the adversarial model's


# %% The models
def decayed_rmsprop(learning_rate, decay):
    """RMSprop as the Keras 2 tutorial built it. Keras 3 optimizers have no `decay` argument; the
    old behaviour, lr / (1 + decay * iterations), is InverseTimeDecay with decay_steps=1."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    return keras.optimizers.RMSprop(learning_rate=schedule, clipvalue=CLIP_VALUE)


def accuracy():
    """The share of images the discriminator classes right: its probability over 0.5, its logit over 0."""
    return keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)


def define_discriminator(in_shape=IMAGE_SHAPE):
    """Four 5x5 convolutions, each followed by dropout, and a logit (float32: the loss reads it, from logits)."""
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters, strides in ((64, 2), (128, 2), (256, 2), (512, 1)):
        model.add(layers.Conv2D(filters, 5, strides=strides, padding="same"))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Dropout(0.4))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, dtype="float32"))  # the tutorial's sigmoid is in the loss: see LOSS
    model.compile(loss=LOSS, optimizer=decayed_rmsprop(D_LEARNING_RATE, D_DECAY), metrics=[accuracy()])
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
    """The composite ("adversarial") model: latent point -> image -> logit, updating the
    generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    model.compile(loss=LOSS, optimizer=decayed_rmsprop(A_LEARNING_RATE, A_DECAY), metrics=[accuracy()])
    return model


def define_discriminator_on_fakes(generator, discriminator):
    """(real images, latent points) -> logits of the real images and the generated ones,
    in one batch as the tutorial did, updating the discriminator only, with its own loss and
    optimizer: its update in one compiled call. The generator runs as in its own update (batch
    statistics, dropout; its moving statistics follow): the discriminator judges what the
    generator is trained to make."""
    real = keras.Input(shape=discriminator.input_shape[1:])
    z = keras.Input(shape=generator.input_shape[1:])
    both = layers.Concatenate(axis=0)([real, generator(z)])
    model = Composite([real, z], discriminator(both), trained=discriminator, name="discriminator_on_fakes")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer, metrics=[accuracy()])
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
def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir=".", reverse_grey=None):
    """A 10x10 grid of generated digits and the generator, both named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)), reverse_grey=reverse_grey)
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
          callbacks=None, history=None, out_dir=".", verbose="auto", reverse_grey=None):
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
                summarize_performance(step - 1, g_model, latent_dim, out_dir=out_dir, reverse_grey=reverse_grey)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=means["d_loss"] + means["a_loss"]))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(*(history[name] for name in LOSSES), out_dir=out_dir)
    return history


# %% ---- Running from the command line ------------------------------------------------------
# This script's own on the command line: MNIST, a run counted in steps, its uniform latent, its collapse rule.
# The run machinery the scripts share is gan_runner.py's, beside this file; alone, main() trains with the
# tutorial's defaults.
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "dcgan_mnist.py", "DCGAN on MNIST (RMSprop, dropout, upsampling), on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "dcgan_mnist"), "MNIST", ("x_train",)
LATENT_DISTRIBUTION = "uniform"  # run.json tells generate.py
GREY_REVERSED = True  # grids draw grey black on white, as the tutorials drew MNIST (a folder's photos: False)
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "steps", 10000, "digit-classifier FID"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "the discriminator's loss below {}"


def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly: the generator learns no more."""
    return logs["d_loss"] < threshold


def define_run(args):
    """The models, and train()'s arguments, from the flags."""
    d_model = define_discriminator()
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, d_model)
    return (g_model, d_model, gan_model), dict(n_steps=args.steps, n_batch=args.batch_size, save_every=args.save_every)


# Copied from lsgan_mnist.define_scorer
def define_scorer(args):
    """--eval-every: evaluate.py's digit-classifier FID (it trains and caches the classifier once)."""
    import evaluate

    return evaluate.Scorer("mnist", args.data, n=EVAL_SAMPLES, inception=False)


def add_flags(p):
    """This script's own flags; gan_runner.py adds the ones every script has after them."""
    p.add_argument("--steps", type=gan_runner.positive, default=N_STEPS,
                   help="training steps (this variant counts steps)")
    p.add_argument("--save-every", type=gan_runner.positive, default=SAVE_EVERY,
                   help="save a grid and the generator every N steps")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH, help="real images (and as many "
                   "generated) per discriminator update, latent points per generator update")


# Copied from lsgan_mnist.train_with_defaults
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
