"""Conditional GAN (cGAN) on MNIST: it draws the digit you ask for, on Keras 3 (docs/cgan_mnist.md).

The classic Keras tutorial's models and hyperparameters, repaired for Keras 3 as the others are, with two departures
("departs", below) without which it draws blank images on MNIST. What sets it apart: the class label enters both
models, through an Embedding(n_classes, 50) and a Dense layer, as one more feature map (beside the generator's
first 7x7 maps and the discriminator's image): each label draws its class.

    python cgan_mnist.py                      # 100 epochs on MNIST (downloaded by Keras): a GPU job
    python cgan_mnist.py --data mnist.npz     # a local copy, as keras.datasets returns it

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
N_CLASSES = 10  # the digits; a folder's subfolders give their own number
N_EPOCHS = 100
N_BATCH = 128
LEARNING_RATE = 0.0002
BETA_1 = 0.5
IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGE = (-1.0, 1.0)  # the generator's tanh; the data is scaled to match
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # binary cross-entropy targets
LOSS = keras.losses.BinaryCrossentropy(from_logits=True)  # of the discriminator's logit: docs/how-the-updates-work.md
SMOOTH_LABEL = 0.9  # departs: the real images' target in the discriminator's update (--no-label-smoothing: 1.0)
MISMATCH = True  # departs: real images with wrong labels are fakes to the discriminator (--no-mismatched-labels)
LOSSES = ("d1", "d2", "g")  # a step's losses: discriminator on real, then generated images; generator


# %% The models
def define_discriminator(in_shape=IMAGE_SHAPE, n_classes=N_CLASSES):
    """(image, label) -> the logit that the image is a real one of that class (see LOSS). The label becomes
    one more channel of the image: an embedding, then a Dense layer to one value per pixel."""
    in_label = keras.Input(shape=(1,), dtype="int32")
    li = layers.Embedding(n_classes, 50)(in_label)
    li = layers.Dense(in_shape[0] * in_shape[1])(li)
    li = layers.Reshape((in_shape[0], in_shape[1], 1))(li)
    in_image = keras.Input(shape=in_shape)
    merge = layers.Concatenate()([in_image, li])
    fe = layers.Conv2D(128, 3, strides=2, padding="same")(merge)
    fe = layers.LeakyReLU(negative_slope=0.2)(fe)
    fe = layers.Conv2D(128, 3, strides=2, padding="same")(fe)
    fe = layers.LeakyReLU(negative_slope=0.2)(fe)
    fe = layers.Flatten()(fe)
    fe = layers.Dropout(0.4)(fe)
    out_layer = layers.Dense(1, dtype="float32")(fe)  # float32: the loss reads it
    model = keras.Model([in_image, in_label], out_layer, name="discriminator")
    model.compile(loss=LOSS, optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1))
    return model


def define_generator(latent_dim, n_classes=N_CLASSES):
    """(latent point, label) -> image. The label becomes one more 7x7 feature map beside the 128 the
    latent point makes. Not compiled: it is only trained through the composite model."""
    in_label = keras.Input(shape=(1,), dtype="int32")
    li = layers.Embedding(n_classes, 50)(in_label)
    li = layers.Dense(7 * 7)(li)
    li = layers.Reshape((7, 7, 1))(li)
    in_lat = keras.Input(shape=(latent_dim,))
    gen = layers.Dense(128 * 7 * 7)(in_lat)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    gen = layers.Reshape((7, 7, 128))(gen)
    merge = layers.Concatenate()([gen, li])
    gen = layers.Conv2DTranspose(128, 4, strides=2, padding="same")(merge)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    gen = layers.Conv2DTranspose(128, 4, strides=2, padding="same")(gen)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    out_layer = layers.Conv2D(1, 7, activation="tanh", padding="same", dtype="float32")(gen)
    return keras.Model([in_lat, in_label], out_layer, name="generator")  # the latent point first, then the label


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
    """The composite model: (latent point, label) -> image -> the discriminator's logit for that
    image and label, updating the generator only."""
    z, label = keras.Input(shape=generator.input_shape[0][1:]), keras.Input(shape=(1,), dtype="int32")
    model = Composite([z, label], discriminator([generator([z, label]), label]), trained=generator, name="gan")
    model.compile(loss=LOSS, optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1))
    return model


def define_discriminator_on_fakes(generator, discriminator):
    """(latent point, label) -> image -> logit, updating the discriminator only (its loss, its
    optimizer): its update on generated images in one compiled call."""
    z, label = keras.Input(shape=generator.input_shape[0][1:]), keras.Input(shape=(1,), dtype="int32")
    output = discriminator([generator([z, label]), label])
    model = Composite([z, label], output, trained=discriminator, name="discriminator_on_fakes")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer)
    return model


# %% The data
def load_real_samples(path=None):
    """[images, labels]: MNIST's training images in [-1,1] (tanh's range), shape (n, 28, 28, 1), and
    their digits: downloaded by Keras, or from an .npz laid out as keras.datasets.mnist returns it."""
    if path is None:
        (x_train, y_train), (_, _) = keras.datasets.mnist.load_data()
    else:
        with np.load(path) as data:
            x_train, y_train = data["x_train"], data["y_train"]
    x = np.asarray(x_train, dtype="float32")
    if x.ndim == 3:
        x = x[..., np.newaxis]  # the channel axis the convolutions expect
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE} "
                         "(or (28, 28)), as keras.datasets.mnist returns them")
    y = np.asarray(y_train).reshape(-1).astype("int32")
    if len(y) != len(x) or (y < 0).any():
        raise ValueError(f"{path}: y_train must give each image's class, 0 or more ({len(y)} labels, {len(x)} images)")
    return [(x - 127.5) / 127.5, y]


def generate_real_samples(dataset, n_samples, real_label=REAL_LABEL):
    """A random batch of real images and their labels, with target REAL_LABEL (or real_label)."""
    images, labels = dataset
    ix = np.random.randint(0, images.shape[0], n_samples)
    return [images[ix], labels[ix]], np.full((n_samples, 1), real_label, dtype="float32")


def generate_latent_points(latent_dim, n_samples, n_classes=N_CLASSES):
    """[standard normal latent points, labels drawn uniformly over every class]: randint's upper
    bound is exclusive, so 0 to n_classes - 1, the last class included."""
    z_input = np.random.randn(n_samples, latent_dim).astype("float32")
    labels = np.random.randint(0, n_classes, n_samples)
    return [z_input, labels]


def generate_fake_samples(generator, latent_dim, n_samples, n_classes=N_CLASSES):
    """[generated images, the labels asked for], with target FAKE_LABEL: one compiled call, as a saved model samples."""
    z_input, labels = generate_latent_points(latent_dim, n_samples, n_classes)
    images = np.asarray(generator.predict_on_batch([z_input, labels]))
    return [images, labels], np.full((n_samples, 1), FAKE_LABEL, dtype="float32")


# %% The reports: a grid (a row per class) and the generator each epoch, the losses at the end
def summarize_performance(step, g_model, latent_dim, n_classes=N_CLASSES, n_per_class=10, out_dir=".",
                          reverse_grey=None):
    """A grid of generated digits, one row per class (0 at the top), and the generator, named by step."""
    z_input, _ = generate_latent_points(latent_dim, n_classes * n_per_class, n_classes)
    labels = np.repeat(np.arange(n_classes), n_per_class)  # row k: class k
    X = np.asarray(g_model.predict_on_batch([z_input, labels]))
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)), columns=n_per_class,
              reverse_grey=reverse_grey)
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
def train_discriminator(d_model, d_fake_model, dataset, latent_dim, half_batch, n_classes=N_CLASSES,
                        real_label=SMOOTH_LABEL, mismatch=MISMATCH):
    """The discriminator's two updates: on real images and their labels, then on generated ones and theirs."""
    [X_real, labels_real], y_real = generate_real_samples(dataset, half_batch, real_label)
    if mismatch:  # half as many again with a wrong label, as fakes: the label must fit (Reed et al. 2016, GAN-CLS)
        wrong = (labels_real[: half_batch // 2] + np.random.randint(1, n_classes, half_batch // 2)) % n_classes
        X_real, labels_real = np.concatenate([X_real, X_real[: len(wrong)]]), np.concatenate([labels_real, wrong])
        y_real = np.concatenate([y_real, np.full((len(wrong), 1), FAKE_LABEL, dtype="float32")])
    d_loss1 = per_batch(d_model).train_on_batch([X_real, labels_real], y_real)
    y_fake = np.full((half_batch, 1), FAKE_LABEL, dtype="float32")
    d_loss2 = per_batch(d_fake_model).train_on_batch(generate_latent_points(latent_dim, half_batch, n_classes), y_fake)
    return d_loss1, d_loss2


def train_generator(gan_model, latent_dim, n_batch, n_classes=N_CLASSES):
    """The generator's update through the composite model: generated images, with their labels, labelled real."""
    z_input, labels = generate_latent_points(latent_dim, n_batch, n_classes)
    y_gan = np.full((n_batch, 1), REAL_LABEL, dtype="float32")
    return per_batch(gan_model).train_on_batch([z_input, labels], y_gan)


def train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch, n_classes=N_CLASSES,
               real_label=SMOOTH_LABEL, mismatch=MISMATCH):
    """One step of train(): the discriminator's two updates on half a batch each, then the generator's."""
    d_loss1, d_loss2 = train_discriminator(d_model, d_fake_model, dataset, latent_dim, n_batch // 2, n_classes,
                                           real_label, mismatch)
    g_loss = train_generator(gan_model, latent_dim, n_batch, n_classes)
    return float(d_loss1), float(d_loss2), float(g_loss)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH, n_classes=N_CLASSES,
          callbacks=None, history=None, max_steps=None, out_dir=".", verbose="auto", reverse_grey=None,
          real_label=SMOOTH_LABEL, mismatch=MISMATCH):
    """The tutorial's loop: train_step() over n_epochs, summarize_performance() after each epoch,
    plot_history() at the end; returns every step's losses. Like fit(), it runs Keras callbacks,
    whose logs hold the step's losses ("loss": their sum); one that sets gan_model.stop_training
    stops the run before that epoch's report. history: the losses of steps done, to go on after."""
    bat_per_epo = dataset[0].shape[0] // n_batch
    if bat_per_epo < 1 or n_batch < 2:
        raise ValueError(f"need at least one batch: {dataset[0].shape[0]} images, batch size {n_batch}")
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
                losses = train_step(d_model, d_fake_model, gan_model, dataset, latent_dim, n_batch, n_classes,
                                    real_label, mismatch)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=sum(losses)))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training:
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, g_model, latent_dim, n_classes, out_dir=out_dir,
                                      reverse_grey=reverse_grey)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=sum(means.values())))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(history["d1"], history["d2"], history["g"], out_dir=out_dir)
    return history


# %% ---- Running from the command line ------------------------------------------------------
# This script's own on the command line: MNIST with its labels (or a folder whose subfolders are the classes), its
# flags, its models from them, its collapse rule. The run machinery the scripts share is gan_runner.py's, beside
# this file; alone, main() trains with its defaults.
import argparse
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "cgan_mnist.py", "Conditional GAN (cGAN) on MNIST: it draws the digit you ask for, on Keras 3."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "cgan_mnist"), "MNIST", ("x_train", "y_train")
LATENT_DISTRIBUTION = "normal"  # run.json tells generate.py
GREY_REVERSED = True  # grids draw grey black on white, as the tutorials drew MNIST (a folder's photos: False)
FOLDER_LABELS = "classes"  # --data FOLDER: each top-level subfolder is a class, named anything (cats/, dogs/)
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 10000, "digit-classifier FID and agreement with the asked digit"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "the discriminator's loss on generated images below {}"
MIN_BATCH_SIZE = 2  # half real, half generated


def looks_collapsed(logs, threshold):
    """The discriminator is sure of every generated image (on real ones, the target 0.9 keeps its loss over 0.325)."""
    return logs["d2"] < threshold


def load_data(args, path):
    """The tutorial's images and labels; the classes' names into args.classes (run.json, generate.py --label): a
    folder's subfolders (image_folder.py numbers them in sorted order), else the digits 0 to the largest label."""
    dataset, names = load_real_samples(path), []
    if path is not None:
        with np.load(path) as data:
            names = [str(name) for name in data.get("classes", [])]
    args.classes = names or [str(k) for k in range(int(dataset[1].max()) + 1)]
    return dataset


def latent_points(args, n):
    """n latent points and labels over the run's classes (the collapse guard's and TensorBoard's fixed samples)."""
    return generate_latent_points(args.latent_dim, n, len(args.classes))


def define_run(args):
    """The models, and train()'s arguments, from the flags and the classes load_data found."""
    n_classes = len(args.classes)
    d_model, g_model = define_discriminator(n_classes=n_classes), define_generator(args.latent_dim, n_classes)
    return (g_model, d_model, define_gan(g_model, d_model)), dict(
        n_epochs=args.epochs, n_batch=args.batch_size, n_classes=n_classes, max_steps=args.max_steps,
        mismatch=args.mismatched_labels, real_label=SMOOTH_LABEL if args.label_smoothing else REAL_LABEL)


def define_scorer(args):
    """--eval-every: evaluate.py's digit-classifier FID and the classifier's agreement with the asked digits."""
    import evaluate
    return evaluate.Scorer("mnist", args.data, n=EVAL_SAMPLES, inception=False)


def add_flags(p):
    """This script's own flags; gan_runner.py adds the ones every script has after them."""
    p.add_argument("--epochs", type=gan_runner.positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH, help="a generator update's images")
    p.add_argument("--max-steps", type=gan_runner.positive, default=None, help="stop after this many steps")
    p.add_argument("--label-smoothing", action=argparse.BooleanOptionalAction, default=True, help="real targets 0.9")
    p.add_argument("--mismatched-labels", action=argparse.BooleanOptionalAction, default=MISMATCH,
                   help="real images, wrong labels, as fakes (tutorial: --no-label-smoothing --no-mismatched-labels)")


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
