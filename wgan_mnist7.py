"""Wasserstein GAN (WGAN) on the MNIST sevens, on Keras 3.

The classic Keras tutorial's models and hyperparameters, with the training semantics
repaired for Keras 3: the critic really trains, the composite model updates the generator
only, and the critic's BatchNorm uses batch statistics in both updates.
What makes it a WGAN: a linear critic score, targets -1 (real) and +1 (generated), the
Wasserstein loss, weight clipping, 5 critic updates per generator update, and RMSprop.

    python wgan_mnist7.py                      # 10 epochs on the sevens (MNIST downloaded by Keras)
    python wgan_mnist7.py --data mnist.npz     # a local copy, as keras.datasets returns it
    python wgan_mnist7.py --help               # every flag and its default

Each section below (models, data, outputs, training, command line) has the same
functions, in the same order, in every script of this collection.
"""

import argparse
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras
from keras import layers
from matplotlib.figure import Figure
from matplotlib.image import imsave

# Published hyperparameters: these are the defaults.
LATENT_DIM = 100
N_EPOCHS = 10
N_BATCH = 64
N_CRITIC = 5  # critic updates per generator update
CLIP_VALUE = 0.01  # critic kernels are clipped to [-CLIP_VALUE, CLIP_VALUE]
LEARNING_RATE = 0.00005  # RMSprop, no momentum
DIGIT = 7
IMAGE_SHAPE = (28, 28, 1)
REAL_LABEL, FAKE_LABEL = -1.0, 1.0  # Wasserstein targets for the critic
OUT_DIR = os.path.join("runs", "wgan_mnist7")
# What generate.py needs to know to sample from a saved generator (written to run.json).
LATENT_DISTRIBUTION = "normal"
OUTPUT_RANGE = (-1.0, 1.0)
EVAL_SAMPLES = 10000  # --eval-every: generated digits scored each time (evaluate.py)


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_gans")
class ClipConstraint(keras.constraints.Constraint):
    """Clip weights to a hypercube after every update: the WGAN's way to keep the critic
    (roughly) Lipschitz. Registered so load_model() needs no custom_objects."""

    def __init__(self, clip_value=CLIP_VALUE):
        self.clip_value = clip_value

    def __call__(self, weights):
        return keras.ops.clip(weights, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="keras_gans")
def wasserstein_loss(y_true, y_pred):
    """The mean of target x score: with targets -1 (real) and +1 (fake) the critic learns to
    score real images high and generated ones low."""
    return keras.ops.mean(y_true * y_pred)


def define_critic(in_shape=IMAGE_SHAPE, clip_value=CLIP_VALUE):
    """Two clipped strided convolutions and a linear output: a score, not a probability."""
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
            layers.Dense(1, activation="linear", kernel_initializer=init),
        ],
        name="critic",
    )
    model.compile(loss=wasserstein_loss, optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE))
    return model


def define_generator(latent_dim):
    """Not compiled: it is only ever trained through the composite model."""
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
            layers.Activation("tanh"),
        ],
        name="generator",
    )


class Composite(keras.Model):
    """Generator followed by critic, trained as one model but updating only `trained`:
    the generator (the tutorial's composite model) or the critic (its update on
    generated images).

    The Keras 2 tutorials set `critic.trainable = False` before compiling the composite
    model. In Keras 3 that flag is read at every step, not captured by compile(): it freezes
    the critic everywhere (its own updates do nothing) and puts its BatchNorm layers in
    inference mode. Here every layer stays trainable, so BatchNorm uses batch statistics
    (and dropout is on) in every update; this model just leaves the other model's weights
    out of the set its optimizer updates. Keras' trainers read that set from these four
    properties on every backend.
    """

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


def define_discriminator_on_fakes(generator, critic):
    """Latent point -> image -> score, updating the critic only: its update on generated
    images in one compiled call. The generator runs on batch statistics, as in its own
    update, so the critic judges what the generator is trained to produce; its weights are
    not updated, and its BatchNorm moving statistics track this batch as they track every
    batch it makes in training. It shares the critic's loss and optimizer, so both of the
    critic's updates step one optimizer, as in the tutorial."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, critic(generator(z)), trained=critic, name="critic_on_fakes")
    model.compile(loss=critic.loss, optimizer=critic.optimizer)
    return model


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
def load_real_samples(path=None, digit=DIGIT):
    """The MNIST training images of one digit scaled to [-1,1] (tanh's range), (n, 28, 28, 1).

    Without `path`, Keras downloads MNIST; `path` is an .npz laid out as Keras returns it.
    Bad files raise ValueError with a one-line message.
    """
    if path is None:
        (x_train, y_train), (_, _) = keras.datasets.mnist.load_data()
    else:
        x_train, y_train = read_npz_images(path)
    x = np.asarray(x_train, dtype="float32")[np.asarray(y_train).reshape(-1) == digit]
    if len(x) == 0:
        raise ValueError(f"{path}: no training images of the digit {digit}")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE} "
            "(or (28, 28)), as keras.datasets.mnist returns them"
        )
    return (x - 127.5) / 127.5


def read_npz_images(path):
    """x_train and y_train from an .npz, or ValueError saying what is wrong with the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in ("x_train", "y_train"):
                if key not in data.files:
                    raise ValueError(f"{path}: no {key} array (it has: {', '.join(data.files)})")
            if len(data["x_train"]) != len(data["y_train"]):
                raise ValueError(f"{path}: x_train and y_train differ in length")
            return data["x_train"], data["y_train"]
    except ValueError:
        raise
    except Exception as err:  # zipfile/OSError/pickle errors all mean: not a readable .npz
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None


def generate_real_samples(dataset, n_samples):
    """A random batch of real images with target REAL_LABEL."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    return dataset[ix], np.full((n_samples, 1), REAL_LABEL, dtype="float32")


def generate_latent_points(latent_dim, n_samples):
    """Standard normal latent points, as in the tutorial."""
    return np.random.randn(n_samples, latent_dim).astype("float32")


def generate_fake_samples(generator, latent_dim, n_samples):
    """Generated images with target FAKE_LABEL, for grids and reports; training makes its
    own inside define_discriminator_on_fakes' model.

    predict_on_batch is one compiled call with no data pipeline or progress bar, unlike
    predict(). It runs the generator in inference mode, as a saved generator samples.
    """
    x_input = generate_latent_points(latent_dim, n_samples)
    images = np.asarray(generator.predict_on_batch(x_input))
    return images, np.full((n_samples, 1), FAKE_LABEL, dtype="float32")


# ---------------------------------------------------------------------------------------
# Outputs (every file is written to a temporary name, then renamed into place)
# ---------------------------------------------------------------------------------------
def save_atomically(path, write):
    """Call write(tmp) and rename tmp to path: an interrupted run never leaves half a file."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{os.getpid()}.partial.{name}")  # keeps the extension
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_grid(images, path, value_range=OUTPUT_RANGE, scale=2):
    """A square grid of images in one PNG, each pixel shown as scale x scale; grey is
    drawn black on white (reversed grayscale), as in the tutorial."""
    n = int(np.ceil(np.sqrt(len(images))))
    h, w, c = images.shape[1:]
    lo, hi = value_range
    images = np.clip((np.asarray(images, "float32") - lo) / (hi - lo), 0.0, 1.0)
    if c == 1:
        images = 1.0 - images
    grid = np.ones((n * (h + 1) + 1, n * (w + 1) + 1, c), dtype="float32")
    for k, image in enumerate(images):
        row, col = divmod(k, n)
        grid[1 + row * (h + 1) : (row + 1) * (h + 1), 1 + col * (w + 1) : (col + 1) * (w + 1)] = image
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    pixels = grid[..., 0] if c == 1 else grid
    save_atomically(path, lambda tmp: imsave(tmp, pixels, cmap="gray", vmin=0.0, vmax=1.0, format="png"))


def save_model(model, path):
    """model.save() through a temporary name. .h5 is the tutorials' format, which Keras calls
    legacy on every save; that notice is held back here."""
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        save_atomically(path, model.save)
    finally:
        absl_log.setLevel(level)


def write_run_info(out_dir, latent_dim, **settings):
    """run.json: how to sample the generators saved in out_dir (generate.py reads it)."""
    info = dict(
        script=os.path.basename(__file__),
        latent_dim=latent_dim,
        latent_distribution=LATENT_DISTRIBUTION,
        output_range=list(OUTPUT_RANGE),
        keras_version=keras.__version__,
        backend=keras.backend.backend(),
        **settings,
    )
    path = os.path.join(out_dir, "run.json")
    save_atomically(path, lambda tmp: _write_text(tmp, json.dumps(info, indent=2) + "\n"))


def _write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir=".", c_model=None):
    """Each epoch: a grid of generated digits and the generator (and the critic, if given),
    named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)))
    model_path = os.path.join(out_dir, "model_%06d.h5" % (step + 1))
    save_model(g_model, model_path)
    if c_model is not None:
        save_model(c_model, os.path.join(out_dir, "critic_%06d.h5" % (step + 1)))
    return model_path


def plot_history(d1_hist, d2_hist, g_hist, out_dir="."):
    """Line plot of the three losses, and history.csv with one row per generator update."""
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    ax.plot(d1_hist, label="crit_real")
    ax.plot(d2_hist, label="crit_fake")
    ax.plot(g_hist, label="gen")
    ax.set_xlabel("step")
    ax.legend()
    save_atomically(
        os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: fig.savefig(tmp, format="png")
    )
    rows = ["step,c1,c2,g"] + [
        f"{i + 1},{d1:.6g},{d2:.6g},{g:.6g}" for i, (d1, d2, g) in enumerate(zip(d1_hist, d2_hist, g_hist))
    ]
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: _write_text(tmp, "\n".join(rows) + "\n"))


def score_generator(scorer, step, g_model, model_path, eval_rows, out_dir="."):
    """--eval-every: score the saved generator with evaluate.py's cheap metric (the digit classifier's FID against the real sevens),
    so the best checkpoint is known when the run ends; eval_history.csv."""
    scores = scorer(g_model, OUTPUT_RANGE, LATENT_DISTRIBUTION)
    eval_rows.append(dict(step=step + 1, model=os.path.basename(model_path), **scores))
    print(f">step {step + 1}: {scorer.summary(scores)}")
    keys = list(eval_rows[0])
    rows = [",".join(keys)] + [",".join(str(row.get(k, "")) for k in keys) for row in eval_rows]
    save_atomically(os.path.join(out_dir, "eval_history.csv"), lambda tmp: _write_text(tmp, "\n".join(rows) + "\n"))


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def train_discriminator(c_model, c_fake_model, dataset, latent_dim, half_batch):
    """Two critic updates: real images, then generated ones. Each update clips the
    critic's kernels (their ClipConstraint runs after the optimizer's step)."""
    X_real, y_real = generate_real_samples(dataset, half_batch)
    c_loss1 = c_model.train_on_batch(X_real, y_real)
    y_fake = np.full((half_batch, 1), FAKE_LABEL, dtype="float32")
    c_loss2 = c_fake_model.train_on_batch(generate_latent_points(latent_dim, half_batch), y_fake)
    return c_loss1, c_loss2


def train_generator(gan_model, latent_dim, n_batch):
    """One generator update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return gan_model.train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(c_model, c_fake_model, gan_model, dataset, latent_dim, n_batch, n_critic=N_CRITIC):
    """One step of train(): n_critic rounds of critic updates, then one generator update.
    Returns the critic's mean losses over the rounds, and the generator's loss."""
    c1, c2 = zip(*[train_discriminator(c_model, c_fake_model, dataset, latent_dim, n_batch // 2) for _ in range(n_critic)])
    g_loss = train_generator(gan_model, latent_dim, n_batch)
    return float(np.mean(c1)), float(np.mean(c2)), g_loss


def train(
    g_model,
    c_model,
    gan_model,
    dataset,
    latent_dim,
    n_epochs=N_EPOCHS,
    n_batch=N_BATCH,
    n_critic=N_CRITIC,
    out_dir=".",
    max_steps=None,
    verbose=1,
    scorer=None,
    eval_every=1,
):
    """The tutorial's loop: each epoch saves a grid and the generator; returns the history.
    With a scorer (evaluate.Scorer), every eval_every epochs the generator is scored too."""
    bat_per_epo = dataset.shape[0] // n_batch
    if bat_per_epo < 1 or n_batch < 2:
        raise ValueError(f"need at least one batch: {dataset.shape[0]} images, batch size {n_batch}")
    n_steps = bat_per_epo * n_epochs if max_steps is None else min(max_steps, bat_per_epo * n_epochs)
    c_fake_model = define_discriminator_on_fakes(g_model, c_model)
    os.makedirs(out_dir, exist_ok=True)
    write_run_info(out_dir, latent_dim, n_epochs=n_epochs, n_batch=n_batch, n_critic=n_critic, max_steps=max_steps)
    c1_hist, c2_hist, g_hist, eval_rows = [], [], [], []
    # A live bar on a terminal or in a notebook; one line per epoch in a log file.
    live = sys.stdout.isatty() or "ipykernel" in sys.modules
    progress = verbose if (live or not verbose) else 2
    progbar, start = None, None
    for i in range(n_steps):
        if i % bat_per_epo == 0:
            epoch = i // bat_per_epo
            if verbose:
                print(f"Epoch {epoch + 1}/{n_epochs}")
            steps_this_epoch = min(bat_per_epo, n_steps - i)
            progbar = keras.utils.Progbar(
                steps_this_epoch, stateful_metrics=["c1", "c2", "g", "steps/s"], verbose=progress
            )
            start = time.perf_counter()
        c_loss1, c_loss2, g_loss = train_step(c_model, c_fake_model, gan_model, dataset, latent_dim, n_batch, n_critic)
        c1_hist.append(c_loss1)
        c2_hist.append(c_loss2)
        g_hist.append(g_loss)
        done = i % bat_per_epo + 1
        progbar.update(
            done,
            [("c1", c_loss1), ("c2", c_loss2), ("g", g_loss), ("steps/s", done / (time.perf_counter() - start))],
        )
        if (i + 1) % bat_per_epo == 0 or i + 1 == n_steps:
            model_path = summarize_performance(i, g_model, latent_dim, out_dir=out_dir, c_model=c_model)
            if scorer is not None and (((i + 1) // bat_per_epo) % eval_every == 0 or i + 1 == n_steps):
                score_generator(scorer, i, g_model, model_path, eval_rows, out_dir=out_dir)
    plot_history(c1_hist, c2_hist, g_hist, out_dir=out_dir)
    if eval_rows:
        best = min(eval_rows, key=lambda row: row[scorer.metric])
        print(f"best generator by {scorer.metric}: {best['model']} ({scorer.metric} {best[scorer.metric]:.4g})")
    return {"c1": c1_hist, "c2": c2_hist, "g": g_hist, "scores": eval_rows}


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------
RUN_OUTPUTS = ("run.json", "history.csv", "plot_line_plot_loss.png", "eval_history.csv")


def check_out_dir(out_dir, overwrite=False):
    """Refuse to train into a folder that already holds a run, unless asked to."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out {out_dir}: exists and is not a folder")
    if overwrite or not os.path.isdir(out_dir):
        return
    names = os.listdir(out_dir)
    if any(n in RUN_OUTPUTS or n.startswith(("model_", "critic_", "generated_plot_")) for n in names):
        raise ValueError(f"--out {out_dir}: already holds a run; choose another folder or pass --overwrite")


def define_scorer(data, digit):
    """evaluate.py's scorer for generators of one MNIST digit (it trains and caches its
    digit classifier the first time). Only --eval-every needs it, and evaluate.py beside this script."""
    try:
        from evaluate import Scorer
    except ImportError as err:
        raise ValueError(f"--eval-every needs evaluate.py beside this script ({err})") from None
    return Scorer("mnist", data, n=EVAL_SAMPLES, inception=False, digit=digit)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def parse_args(argv=None):
    p = Parser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--epochs", type=positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--n-critic", type=positive, default=N_CRITIC, help="critic updates per generator update")
    p.add_argument("--clip", type=positive_float, default=CLIP_VALUE, help="clip critic kernels to [-CLIP, CLIP]")
    p.add_argument("--digit", type=int, choices=range(10), default=DIGIT, metavar="{0..9}", help="train on this digit")
    p.add_argument("--batch-size", type=positive, default=N_BATCH, help="images per update (half real, half fake for the critic)")
    p.add_argument("--latent-dim", type=positive, default=LATENT_DIM, help="size of the latent space")
    p.add_argument("--data", default=None, help="local .npz with x_train and y_train; default: download MNIST through Keras")
    p.add_argument("--out", default=OUT_DIR, help="folder for grids, generators, history and loss plot")
    p.add_argument("--seed", type=int, default=None, help="seed Python, NumPy and the backend")
    p.add_argument("--max-steps", type=positive, default=None, help="stop after this many generator updates (final outputs still written)")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that already holds a run")
    p.add_argument("--eval-every", type=positive, default=None,
                   help="every N epochs, score the generator with evaluate.py's digit-classifier FID against "
                        "real digits of --digit (eval_history.csv; the best is named at the end); default: off")
    args = p.parse_args(argv)
    if args.batch_size < 2:
        p.error("argument --batch-size: must be at least 2 (half real, half generated)")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        check_out_dir(args.out, args.overwrite)
        dataset = load_real_samples(args.data, args.digit)
        if dataset.shape[0] < args.batch_size:
            raise ValueError(f"{args.data}: {dataset.shape[0]} images, fewer than one batch of {args.batch_size}")
        scorer = define_scorer(args.data, args.digit) if args.eval_every else None
    except ValueError as err:
        print(f"{os.path.basename(__file__)}: error: {err}", file=sys.stderr)
        return 2
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    c_model = define_critic(clip_value=args.clip)
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, c_model)
    train(g_model, c_model, gan_model, dataset, args.latent_dim, args.epochs, args.batch_size,
          n_critic=args.n_critic, out_dir=args.out, max_steps=args.max_steps, scorer=scorer,
          eval_every=args.eval_every or 1)
    print(f"outputs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
