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
LOSS = keras.losses.BinaryCrossentropy(from_logits=True)  # of the discriminator's logit: docs/how-the-updates-work.md
SMOOTH_LABEL, SMOOTH_NOISE = 0.9, 0.05  # label_smoothing: real targets 0.9 +- up to 0.05
LOSSES = ("d1", "d2", "g")  # a step's losses: discriminator on real, then generated images; generator


# %% The models
def define_discriminator(in_shape=IMAGE_SHAPE, batchnorm=False):
    """Strided 3x3 convolutions down to 4x4, dropout, and a logit (float32: LOSS reads it). batchnorm=True adds
    BatchNorm after each convolution but the first (an extension); each doubling past 32x32 adds a strided block."""
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters, strides in ((64, 1), (128, 2), (128, 2), (256, 2)) + ((256, 2),) * int(np.log2(in_shape[0] // 32)):
        model.add(layers.Conv2D(filters, 3, strides=strides, padding="same"))
        if batchnorm and filters != 64:
            model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.4))
    model.add(layers.Dense(1, dtype="float32"))
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss=LOSS, optimizer=optimizer, metrics=[keras.metrics.BinaryAccuracy("accuracy", threshold=0.0)])
    return model


def define_generator(latent_dim, batchnorm=False, upsampling=False, image_size=32):
    """Not compiled: it is only ever trained through the composite model. 4x4 -> 8x8 -> 16x16 -> 32x32 by
    transposed convolutions (one more for each doubling of image_size), or (upsampling=True, an extension)
    by UpSampling2D and a convolution; batchnorm=True adds BatchNorm (an extension). The last layer is
    float32 (a loss reads it)."""
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Dense(256 * 4 * 4))
    model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Reshape((4, 4, 256)))
    for _ in range(int(np.log2(image_size // 4))):
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
    """The composite model: latent point -> image -> logit, updating the generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss=LOSS, optimizer=optimizer)
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
def load_real_samples(path=None, image_shape=IMAGE_SHAPE):
    """CIFAR-10's training images in [-1,1] (tanh's range), shape (n, 32, 32, 3) (or image_shape):
    downloaded by Keras, or from an .npz laid out as keras.datasets.cifar10 returns it."""
    if path is None:
        (x_train, _), (_, _) = keras.datasets.cifar10.load_data()
    else:
        with np.load(path) as data:
            x_train = data["x_train"]
    x = np.asarray(x_train, dtype="float32")
    if x.shape[1:] != image_shape:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {image_shape}, "
                         "as keras.datasets.cifar10 returns them")
    x -= 127.5  # (x - 127.5) / 127.5 in place: a large folder of photos is not copied twice
    x /= 127.5
    return x


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


# %% ---- Running from the command line ------------------------------------------------------
# This script's own on the command line: CIFAR-10, the extensions and --image-size as flags, its score. The run
# machinery the scripts share is gan_runner.py's, beside this file; alone, main() trains with the defaults.
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "dcgan_cifar10.py", "DCGAN on CIFAR-10 small colour photographs, on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "dcgan_cifar10"), "CIFAR-10", ("x_train",)
LATENT_DISTRIBUTION = "normal"  # run.json tells generate.py
GREY_REVERSED = True  # grids draw grey black on white, as the tutorials drew MNIST (a folder's photos: False)
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 2000, "InceptionV3 KID (FID needs over 2,048 images)"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "both discriminator losses below {}"
MIN_BATCH_SIZE = 2  # half real, half generated


# Copied from lsgan_mnist.looks_collapsed
def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly: the generator learns no more."""
    return logs["d1"] < threshold and logs["d2"] < threshold


def load_data(args, path):
    """The training images at --image-size: the tutorial's loader on the .npz at path (None: Keras' download)."""
    if args.image_size != 32 and not (args.data and os.path.isdir(args.data)):
        raise ValueError(f"--image-size {args.image_size}: CIFAR-10's images are 32x32; give a folder of images, "
                         "which are resized to it (--data FOLDER)")
    return load_real_samples(path, (args.image_size, args.image_size, 3))


def define_run(args):
    """The models (with the extensions the flags ask for), and train()'s arguments, from the flags."""
    if args.models == "dcgan-paper":  # not the tutorial's models: the DCGAN paper's (dcgan_paper_models.py)
        from dcgan_paper_models import define_models
        d_model, g_model = define_models(args)
    else:
        d_model = define_discriminator((args.image_size,) * 2 + (3,), args.batchnorm in ("discriminator", "both"))
        g_model = define_generator(args.latent_dim, batchnorm=args.batchnorm in ("generator", "both"),
                                   upsampling=args.upsampling, image_size=args.image_size)
    train_args = dict(n_epochs=args.epochs, n_batch=args.batch_size, save_every=args.save_every,
                      max_steps=args.max_steps, label_smoothing=args.label_smoothing)
    return (g_model, d_model, define_gan(g_model, d_model)), train_args


def define_scorer(args):
    """--eval-every: evaluate.py's InceptionV3 KID on 2,000 images (FID needs more than its 2,048 features)."""
    import evaluate

    return evaluate.Scorer("cifar10", args.data, n=EVAL_SAMPLES, inception_weights=args.inception_weights)


def add_flags(p):
    """This script's own flags; gan_runner.py adds the ones every script has after them."""
    p.add_argument("--epochs", type=gan_runner.positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH,
                   help="images per step (half real, half fake)")
    p.add_argument("--save-every", type=gan_runner.positive, default=SAVE_EVERY,
                   help="epochs between accuracy reports, grids and saved generators")
    p.add_argument("--max-steps", type=gan_runner.positive, default=None,
                   help="stop after this many steps (final outputs still written)")
    p.add_argument("--inception-weights", default="imagenet",
                   help="--eval-every: InceptionV3 no-top weights file; default: Keras downloads them")
    p.add_argument("--batchnorm", choices=("none", "discriminator", "generator", "both"), default="none",
                   help="extension: BatchNorm in the discriminator and/or the generator")
    p.add_argument("--label-smoothing", action="store_true", help="extension: one-sided, real targets 0.9 +- 0.05")
    p.add_argument("--upsampling", action="store_true", help="extension: UpSampling2D + Conv2D, not Conv2DTranspose")
    p.add_argument("--image-size", type=int, choices=(32, 64, 128), default=32, help="64 and 128: a folder's (--data)")
    p.add_argument("--models", choices=("tutorial", "dcgan-paper"), default="tutorial", help="the DCGAN paper's: 64x64")


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
