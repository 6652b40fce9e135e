"""A GAN for a folder of your own images, the most picture per CPU-minute, on Keras 3 (docs/diffaugment_gan.md).

Small-data GANs' levers, measured at equal minutes (benchmarks/minutes.py): a section each, a flag turns it off.

    python diffaugment_gan.py --data icons/    # a folder of your own images, at 64x64 (default: 3,670 flower photos)

Read it down to the banner "Running from the command line". In a notebook, paste it whole into one cell (it
trains with the defaults), or run its cells (# %%), then:

    d_model, g_model = define_discriminator(), define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, d_model)
    train(define_average(g_model), d_model, gan_model, load_real_samples(), LATENT_DIM)
"""

# %% Imports and the hyperparameters (the defaults)
import glob
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras
from keras import layers
from matplotlib.figure import Figure

LATENT_DIM = 128
N_EPOCHS, SAVE_EVERY = 100, 5  # epochs, and epochs between grids and saved generators
N_BATCH = 32  # real images a step, and as many generated: small, for more updates a minute
LEARNING_RATE, BETA_1 = 0.0002, 0.5  # Adam's, as the DCGANs'
EMA_MOMENTUM = 0.995  # the generator's moving average: about its last 200 steps (1 / (1 - 0.995))
AUGMENT = "color,translation"  # DiffAugment's parts for short runs (cutout: for long ones)
IMAGE_SHAPE, OUTPUT_RANGE = (64, 64, 3), (-1.0, 1.0)  # OUTPUT_RANGE: the generator's tanh; the data is scaled to match
FLOWERS = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
LOSSES = ("d", "g")  # a step's losses: the discriminator's (real and generated at once), the generator's
WIDTHS = {8: 128, 16: 64, 32: 32, 64: 16, 128: 8}  # the generator's channels by side: light, for many updates


# %% The discriminator, DiffAugment in front (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
# Training", NeurIPS 2020). On a few thousand images a discriminator memorises them and stops teaching; DiffAugment
# shows it every image, real and generated, recoloured and shifted at random (the layer: below the banner), and
# the generator learns through it, never to draw it. Logits, read by the loss: a sure discriminator still teaches.
# Spectral normalization (Miyato et al., ICLR 2018; FastGAN), --spectral-norm: after each update its optimizer
# divides each kernel by its largest singular value, so verdicts stay smooth. Off: not ahead in 15 minutes here.
def define_discriminator(in_shape=IMAGE_SHAPE, augment=AUGMENT, spectral=False):
    """DiffAugment, 4x4 stride-2 convolutions from 32 channels to 4x4, a logit; no BatchNorm: real, fake in a batch."""
    augmenter = [DiffAugment(augment, name="diff_augment")] if augment not in (None, "", "none") else []
    model = keras.Sequential([keras.Input(shape=in_shape)] + augmenter, name="discriminator")
    for k in range(int(np.log2(in_shape[0] // 4))):
        model.add(layers.Conv2D(min(32 * 2**k, 256), 4, strides=2, padding="same",
                                kernel_constraint=SpectralNorm() if spectral else None))
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, dtype="float32"))
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=optimizer)
    return model


class SpectralNorm(keras.constraints.Constraint):
    """The kernel over its largest singular value, by 10 power iterations from one start: no state to keep."""
    def __call__(self, kernel):
        matrix, v = keras.ops.reshape(kernel, (-1, kernel.shape[-1])), keras.ops.ones((kernel.shape[-1], 1))
        for _ in range(10):
            v = keras.ops.normalize(keras.ops.matmul(keras.ops.transpose(matrix), keras.ops.matmul(matrix, v)), axis=0)
        return kernel / keras.ops.norm(keras.ops.matmul(matrix, v))


# %% The generator: upsample, then a 3x3 convolution (Odena et al., "Deconvolution and Checkerboard Artifacts",
# Distill 2016). A stride-2 transposed convolution paints some pixels with more kernel taps than their neighbours:
# a checkerboard short runs never undo. Upsampling then convolving paints all alike (FastGAN, lightweight-gan).
def define_generator(latent_dim, image_size=IMAGE_SHAPE[0], upsampling=True):
    """4x4x256, then a doubling a block (upsampling=False: by transposed convolutions, as the DCGANs), RGB by tanh."""
    model = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 256, use_bias=False),
                              layers.BatchNormalization(), layers.LeakyReLU(negative_slope=0.2),
                              layers.Reshape((4, 4, 256))], name="generator")
    for side in 2 ** np.arange(3, int(np.log2(image_size)) + 1):
        if upsampling:
            model.add(layers.UpSampling2D())
            model.add(layers.Conv2D(WIDTHS[side], 3, padding="same", use_bias=False))
        else:
            model.add(layers.Conv2DTranspose(WIDTHS[side], 4, strides=2, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Conv2D(3, 3, padding="same", activation="tanh", dtype="float32"))
    return model


# %% The updates, as in the other scripts; the discriminator's takes real and generated images in one step.
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


def define_gan(generator, discriminator, ema_momentum=EMA_MOMENTUM):
    """Latent point -> image -> logit, updating the generator only; its optimizer keeps the average (use_ema)."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1, use_ema=ema_momentum > 0,
                                      ema_momentum=ema_momentum or 0.99)
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=optimizer)
    return model


def define_discriminator_update(generator, discriminator):
    """[real images, latent points] -> [real logit, generated logit] (targets 1, 0), updating the discriminator."""
    x, z = keras.Input(shape=discriminator.input_shape[1:]), keras.Input(shape=generator.input_shape[1:])
    model = Composite([x, z], layers.Concatenate()([discriminator(x), discriminator(generator(z))]),
                      trained=discriminator, name="discriminator_update")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer)
    return model


# %% The generator's moving average (Karras et al., "Progressive Growing of GANs", 2018; gan_ada 0.99, FastGAN
# 0.999): the average of its jittering recent weights draws steadier pictures. Keras' optimizer keeps it (use_ema)
# in the compiled step; a copy of the generator holds it, and is what is saved, drawn and watched.
def define_average(generator):
    """A copy of the generator, to hold its moving average (update_average)."""
    model = keras.models.clone_model(generator)
    model.set_weights(generator.get_weights())
    return model


def update_average(ema_model, gan_model):
    """ema_model <- the average the composite's optimizer keeps, and the generator's BatchNorm statistics."""
    generator, optimizer = gan_model.get_layer(gan_model.trained_name), gan_model.optimizer
    averages = optimizer._model_variables_moving_average if optimizer.use_ema and optimizer.built else None
    for target, source in zip(ema_model.trainable_variables + ema_model.non_trainable_variables,
                              (averages or generator.trainable_variables) + generator.non_trainable_variables):
        target.assign(keras.ops.copy(source))  # a copy: JAX's trainer frees (donates) the arrays it updates


# %% The data: a folder of photos
def load_real_samples(path=None, image_shape=IMAGE_SHAPE):
    """The images in [-1,1]: an .npz's x_train, or flower_photos (Keras downloads it), centre-cropped and resized."""
    if path is None:
        files = sorted(glob.glob(os.path.join(flower_photos(), "*", "*.jpg")))
        x = np.stack([keras.utils.img_to_array(keras.utils.load_img(
            f, target_size=image_shape[:2], interpolation="bicubic", keep_aspect_ratio=True)) for f in files])
    else:
        with np.load(path) as data:
            x = data["x_train"]
    x = np.asarray(x, dtype="float32")
    if x.shape[1:] != image_shape:
        raise ValueError(f"{path}: x_train has images of shape {x.shape[1:]}, expected {image_shape}")
    x -= 127.5  # (x - 127.5) / 127.5 in place: a large folder is not copied twice
    x /= 127.5
    return x


def flower_photos():
    """flower_photos' folder (a subfolder per flower), downloaded and unpacked by Keras the first time."""
    archive = keras.utils.get_file("flower_photos.tgz", origin=FLOWERS, extract=True)
    return (glob.glob(os.path.join(os.path.dirname(archive), "**", "flower_photos", ""), recursive=True) + [archive])[0]


def generate_real_samples(dataset, n_samples):
    """A random batch of real images."""
    return dataset[np.random.randint(0, dataset.shape[0], n_samples)]


# Copied from lsgan_mnist.generate_latent_points
def generate_latent_points(latent_dim, n_samples):
    """Standard normal latent points, as in the tutorial."""
    return np.random.randn(n_samples, latent_dim).astype("float32")


def generate_fake_samples(ema_model, latent_dim, n_samples):
    """The averaged generator's images, in one compiled call in inference mode."""
    return np.asarray(ema_model.predict_on_batch(generate_latent_points(latent_dim, n_samples)))


# %% The reports: a grid and the averaged generator every SAVE_EVERY epochs (file helpers: below)
def summarize_performance(step, ema_model, latent_dim, n_side=8, out_dir="."):
    """An 8x8 grid of the averaged generator's images (keras.utils.save_img), and that generator, named by step."""
    X = np.pad(generate_fake_samples(ema_model, latent_dim, n_side**2), [(0, 0), (1, 1), (1, 1), (0, 0)],
               constant_values=1)  # white between them
    grid = X.reshape(n_side, n_side, *X.shape[1:]).swapaxes(1, 2).reshape(n_side * X.shape[1], -1, 3)
    save_atomically(os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)),
                    lambda tmp: keras.utils.save_img(tmp, (grid + 1) * 127.5, scale=False, file_format="png"))
    save_model(ema_model, os.path.join(out_dir, "model_%06d.h5" % (step + 1)))


def plot_history(d_hist, g_hist, out_dir="."):
    """A line plot of the two losses, and history.csv with one row per step."""
    ax = Figure(figsize=(10, 5)).add_subplot()
    ax.plot(d_hist, label="dloss (real and generated)")
    ax.plot(g_hist, label="gloss")
    ax.set_xlabel("step")
    ax.legend()
    save_atomically(os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: ax.figure.savefig(tmp, format="png"))
    rows = np.column_stack([np.arange(1, len(g_hist) + 1), d_hist, g_hist])
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: np.savetxt(
        tmp, rows, fmt=["%d", "%.6g", "%.6g"], delimiter=",", header="step,d,g", comments=""))


# %% Training (per_batch, for Keras before 3.15: below)
def train_step(d_update, gan_model, ema_model, dataset, latent_dim, n_batch):
    """The discriminator on n_batch real and generated images, the generator on n_batch points, the average."""
    targets = np.tile(np.array([[1.0, 0.0]], "float32"), (n_batch, 1))
    x = [generate_real_samples(dataset, n_batch), generate_latent_points(latent_dim, n_batch)]
    d_loss = per_batch(d_update).train_on_batch(x, targets)
    g_loss = per_batch(gan_model).train_on_batch(generate_latent_points(latent_dim, n_batch), targets[:, :1])
    update_average(ema_model, gan_model)
    return float(d_loss), float(g_loss)


def train(ema_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          save_every=SAVE_EVERY, callbacks=None, history=None, max_steps=None, out_dir=".", verbose="auto"):
    """train_step() n_epochs over, reports every save_every epochs and at the end; Keras callbacks as in fit()."""
    bat_per_epo = dataset.shape[0] // n_batch  # gan_runner.py refuses a folder of less than a batch
    n_steps = min(bat_per_epo * n_epochs, max_steps or bat_per_epo * n_epochs)
    d_update = define_discriminator_update(gan_model.get_layer(gan_model.trained_name), d_model)
    history = {name: [] for name in LOSSES} if history is None else history
    update_average(ema_model, gan_model)  # a resumed run's average, from the optimizer restored
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
                losses = train_step(d_update, gan_model, ema_model, dataset, latent_dim, n_batch)
                for name, value in zip(LOSSES, losses):
                    history[name].append(value)
                step += 1
                callbacks.on_train_batch_end(batch, dict(zip(LOSSES, losses), loss=sum(losses)))
                if gan_model.stop_training:
                    break
            if not gan_model.stop_training and ((epoch + 1) % save_every == 0 or step == n_steps):
                rng = np.random.get_state()  # the report draws aside: where a run reports must not
                summarize_performance(step - 1, ema_model, latent_dim, out_dir=out_dir)
                np.random.set_state(rng)  # change how it trains
            means = {name: np.mean(history[name][first:]) for name in LOSSES}  # what fit() reports: the epoch's
            callbacks.on_epoch_end(epoch, dict(means, loss=sum(means.values())))
    finally:  # also on an error (out of memory, say): signal handlers back, writers closed
        callbacks.on_train_end()
    plot_history(history["d"], history["g"], out_dir=out_dir)
    return history


# %% ---- Running from the command line ------------------------------------------------------
# The levers as flags; the run machinery is gan_runner.py's, beside this file (alone, main() trains the defaults).
import argparse
import sys

try:
    import gan_runner
except ModuleNotFoundError:
    gan_runner = None

SCRIPT, ABOUT = "diffaugment_gan.py", "A GAN for a folder of your own images, the most picture per CPU-minute."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "diffaugment_gan"), "flower_photos", ("x_train",)
LATENT_DISTRIBUTION, GREY_REVERSED = "normal", False  # for run.json, which generate.py reads; colour: drawn as is
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 2000, "InceptionV3 KID against the folder (FID from 2,048 images)"
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "the discriminator's loss below {}"


def looks_collapsed(logs, threshold):
    """The discriminator tells real from generated perfectly."""
    return logs["d"] < threshold


def load_data(args, path):
    """The images at --image-size: a folder's (path), else flower_photos, decoded once into the cache as any folder."""
    import image_folder
    shape = (args.image_size,) * 2 + (3,)
    return load_real_samples(path or image_folder.prepare(flower_photos(), shape), shape)


def define_run(args):
    """The models and train()'s arguments, from the flags: each lever on, or off to measure it."""
    if args.augment:
        raise ValueError(f"--augment: {SCRIPT} augments by itself (--diffaugment PARTS, or none)")
    d_model = define_discriminator((args.image_size,) * 2 + (3,), args.diffaugment, args.spectral_norm)
    g_model = define_generator(args.latent_dim, args.image_size, args.upsampling)
    gan_model = define_gan(g_model, d_model, args.ema)
    return (define_average(g_model), d_model, gan_model), dict(
        n_epochs=args.epochs, n_batch=args.batch_size, save_every=args.save_every, max_steps=args.max_steps)


def define_scorer(args):
    """--eval-every without --data: evaluate.py's InceptionV3 KID against flower_photos (a folder's: gan_runner's)."""
    if args.data:
        raise ValueError("--eval-every with an .npz: --eval-metric swd scores against its images")
    import evaluate
    return evaluate.Scorer("folder", flower_photos(), n=EVAL_SAMPLES, shape=(args.image_size,) * 2 + (3,),
                           inception_weights=args.inception_weights)


def add_flags(p):
    """This script's own flags (gan_runner.py adds the ones every script has)."""
    p.add_argument("--epochs", type=gan_runner.positive, default=N_EPOCHS, help="training epochs")
    p.add_argument("--batch-size", type=gan_runner.positive, default=N_BATCH, help="real images a step (and generated)")
    p.add_argument("--save-every", type=gan_runner.positive, default=SAVE_EVERY, help="epochs between saved generators")
    p.add_argument("--max-steps", type=gan_runner.positive, default=None, help="stop after this many steps")
    p.add_argument("--image-size", type=int, choices=(32, 64, 128), default=IMAGE_SHAPE[0], help="the images' side")
    p.add_argument("--upsampling", action=argparse.BooleanOptionalAction, default=True,
                   help="the generator upsamples then convolves; --no-upsampling: transposed convolutions")
    p.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=False,
                   help="spectral normalization of the discriminator's convolutions (off: not ahead at 15 minutes)")
    p.add_argument("--ema", type=gan_runner.non_negative_float, default=EMA_MOMENTUM, metavar="M",
                   help="momentum of the generator's moving average, saved and drawn; 0: the generator itself")
    p.add_argument("--diffaugment", default=AUGMENT, metavar="PARTS", help="DiffAugment's parts (color, translation, "
                   "cutout), or none", type=lambda text: text if text == "none" else gan_runner.augment_policy(text))
    p.add_argument("--inception-weights", default="imagenet", help="--eval-every: InceptionV3 no-top weights file")


def train_with_defaults(out_dir):
    """The run with every default: the models, flower_photos from Keras (main, without gan_runner.py)."""
    d, g = define_discriminator(), define_generator(LATENT_DIM)
    train(define_average(g), d, define_gan(g, d), load_real_samples(), LATENT_DIM, out_dir=out_dir)


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


# Copied from augmentation.DiffAugment
class DiffAugment(keras.layers.Layer):
    """DiffAugment as its reference code (DiffAugment_tf.py) makes it, in keras.ops (gradients reach the generator
    on every backend), a draw per image, in training only: color (brightness + U(-0.5, 0.5), saturation x U(0, 2)
    about the channel mean if in colour, contrast x U(0.5, 1.5) about the image's mean); translation (whole pixels,
    up to 1/8 of the side each way, zeros in); cutout (a square of half the side zeroed, centred at any pixel)."""

    def __init__(self, policy="color,translation,cutout", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.policy = policy  # some of AUGMENTATIONS, comma-separated (augment_policy checks a flag's)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        parts = self.policy.split(",") if training else ()
        if "color" in parts:
            x = x + self.draw(x, -0.5, 0.5)  # brightness
            if x.shape[-1] > 1:
                mean = keras.ops.mean(x, axis=3, keepdims=True)
                x = (x - mean) * self.draw(x, 0.0, 2.0) + mean  # saturation
            mean = keras.ops.mean(x, axis=(1, 2, 3), keepdims=True)
            x = (x - mean) * self.draw(x, 0.5, 1.5) + mean  # contrast
        for axis in (1, 2) if "translation" in parts else ():  # out[i] = x[i + shift], or 0: a gather, as matmul
            size, positions = x.shape[axis], keras.ops.arange(x.shape[axis], dtype="int32")
            most = int(size * 0.125 + 0.5)
            source = positions[None, :] + self.draw(x, -most, most + 1, int)  # (batch, size)
            pick = keras.ops.cast(keras.ops.equal(source[:, :, None], positions[None, None, :]), x.dtype)
            x = keras.ops.einsum("bij,bjwc->biwc" if axis == 1 else "bij,bhjc->bhic", pick, x)
        if "cutout" in parts:  # each axis: its inside, from an offset drawn as the reference draws it
            inside = []
            for size, cut in ((side, int(side * 0.5 + 0.5)) for side in x.shape[1:3]):
                start = self.draw(x, 0, size + (1 - cut % 2), int) - cut // 2
                index = keras.ops.arange(size, dtype="int32")[None, :] - start  # (batch, size)
                inside.append(keras.ops.logical_and(index >= 0, index < cut))
            x = x * (1.0 - keras.ops.cast(keras.ops.logical_and(inside[0][:, :, None], inside[1][:, None, :]),
                                          x.dtype))[..., None]
        return x

    def draw(self, x, low, high, kind=float):
        """One draw an image: uniform in [low, high), shaped to broadcast over it, or (int) whole, shaped (batch, 1)."""
        if kind is int:
            return keras.random.randint((keras.ops.shape(x)[0], 1), low, high, seed=self.seed_generator)  # int32
        shape = (keras.ops.shape(x)[0], 1, 1, 1)
        return keras.random.uniform(shape, low, high, dtype=self.compute_dtype, seed=self.seed_generator)

    def get_config(self):
        return dict(super().get_config(), policy=self.policy)


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
