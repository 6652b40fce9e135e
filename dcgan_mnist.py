"""DCGAN on MNIST (RMSprop, dropout, upsampling), on Keras 3.

The older Keras DCGAN tutorial's models and hyperparameters, with the training semantics
repaired for Keras 3: the discriminator really trains, the composite ("adversarial") model
updates the generator only, and dropout and BatchNorm run in training mode in every update.
What sets this variant apart: images in [0,1] and a sigmoid generator, uniform latent points,
dropout everywhere, upsampling before transposed convolutions, RMSprop with gradient clipping
and learning-rate decay, one discriminator update on real and fake images together, and a
run counted in steps, not epochs.

    python dcgan_mnist.py                      # 10,000 steps on MNIST (downloaded by Keras)
    python dcgan_mnist.py --data mnist.npz     # a local copy, as keras.datasets returns it
    python dcgan_mnist.py --resume             # go on from the last checkpoint (same flags)
    python dcgan_mnist.py --help               # every flag and its default

Each section below (models, data, outputs, training, command line) has the same
functions, in the same order, in every script of this collection.
"""

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import numpy as np
import keras
from keras import layers
from matplotlib.figure import Figure
from matplotlib.image import imsave

# Published hyperparameters: these are the defaults.
LATENT_DIM = 100
N_STEPS = 10_000
N_BATCH = 256
SAVE_EVERY = 500
D_LEARNING_RATE, D_DECAY = 0.0008, 6e-8  # RMSprop, gradient clipvalue 1.0
A_LEARNING_RATE, A_DECAY = 0.0004, 3e-8
CLIP_VALUE = 1.0
IMAGE_SHAPE = (28, 28, 1)
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # binary cross-entropy targets
OUT_DIR = os.path.join("runs", "dcgan_mnist")
# What generate.py needs to know to sample from a saved generator (written to run.json).
LATENT_DISTRIBUTION = "uniform"
OUTPUT_RANGE = (0.0, 1.0)
EVAL_SAMPLES = 10000  # --eval-every: generated digits scored each time (evaluate.py)
# Long runs: a checkpoint every save_every steps; a run that collapses is stopped (or restarted).
CHECKPOINT = "checkpoint.npz"
COLLAPSE_WINDOW = 200  # steps in a row that must look collapsed
COLLAPSE_THRESHOLD = 0.001  # discriminator loss below this: it wins outright
COLLAPSE_HELP = "a likely collapse: the discriminator's loss below this"


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------
def decayed_rmsprop(learning_rate, decay):
    """RMSprop as the Keras 2 tutorial built it. Keras 3 optimizers have no `decay`
    argument; the old behaviour, lr / (1 + decay * iterations), is InverseTimeDecay with
    decay_steps=1."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    return keras.optimizers.RMSprop(learning_rate=schedule, clipvalue=CLIP_VALUE)


def define_discriminator(in_shape=IMAGE_SHAPE):
    """Four 5x5 convolutions, each followed by dropout, and a sigmoid probability."""
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters, strides in ((64, 2), (128, 2), (256, 2), (512, 1)):
        model.add(layers.Conv2D(filters, 5, strides=strides, padding="same"))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Dropout(0.4))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=decayed_rmsprop(D_LEARNING_RATE, D_DECAY), metrics=["accuracy"])
    return model


def define_generator(latent_dim):
    """Not compiled: it is only ever trained through the composite model. Its output is a
    sigmoid, so images are in [0,1] like the data."""
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
    model.add(layers.Activation("sigmoid"))
    return model


class Composite(keras.Model):
    """Generator followed by discriminator, trained as one model but updating only `trained`:
    the generator (the tutorial's composite model) or the discriminator (its update on
    generated images).

    The Keras 2 tutorials set `discriminator.trainable = False` before compiling the composite
    model. In Keras 3 that flag is read at every step, not captured by compile(): it freezes
    the discriminator everywhere (its own updates do nothing) and puts its BatchNorm layers in
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


def define_gan(generator, discriminator):
    """The composite ("adversarial") model: latent point -> image -> probability, updating
    the generator only."""
    z = keras.Input(shape=generator.input_shape[1:])
    model = Composite(z, discriminator(generator(z)), trained=generator, name="gan")
    model.compile(loss="binary_crossentropy", optimizer=decayed_rmsprop(A_LEARNING_RATE, A_DECAY), metrics=["accuracy"])
    return model


def define_discriminator_on_fakes(generator, discriminator):
    """(real images, latent points) -> probabilities for the real images and the generated
    ones, in one batch as the tutorial did, updating the discriminator only: its update in
    one compiled call. The generator runs as in its own update (batch statistics, dropout),
    so the discriminator judges what the generator is trained to produce; its weights are
    not updated, and its BatchNorm moving statistics track this batch as they track every
    batch it makes in training. It shares the discriminator's loss and optimizer."""
    real = keras.Input(shape=discriminator.input_shape[1:])
    z = keras.Input(shape=generator.input_shape[1:])
    both = layers.Concatenate(axis=0)([real, generator(z)])
    model = Composite([real, z], discriminator(both), trained=discriminator, name="discriminator_on_fakes")
    model.compile(loss=discriminator.loss, optimizer=discriminator.optimizer, metrics=["accuracy"])
    return model


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
def load_real_samples(path=None):
    """MNIST training images scaled to [0,1] (the sigmoid's range), shape (n, 28, 28, 1).

    Without `path`, Keras downloads MNIST; `path` is an .npz laid out as Keras returns it.
    Bad files raise ValueError with a one-line message.
    """
    if path is None:
        (x_train, _), (_, _) = keras.datasets.mnist.load_data()
    else:
        x_train = read_npz_images(path)
    x = np.asarray(x_train, dtype="float32")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{path}: x_train has images of shape {x.shape[1:]}, expected {IMAGE_SHAPE} "
            "(or (28, 28)), as keras.datasets.mnist returns them"
        )
    return x / 255.0


def read_npz_images(path):
    """x_train from an .npz, or ValueError saying what is wrong with the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x_train" not in data.files:
                raise ValueError(f"{path}: no x_train array (it has: {', '.join(data.files)})")
            return data["x_train"]
    except ValueError:
        raise
    except Exception as err:  # zipfile/OSError/pickle errors all mean: not a readable .npz
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None


def generate_real_samples(dataset, n_samples):
    """A random batch of real images with target REAL_LABEL."""
    ix = np.random.randint(0, dataset.shape[0], n_samples)
    return dataset[ix], np.full((n_samples, 1), REAL_LABEL, dtype="float32")


def generate_latent_points(latent_dim, n_samples):
    """Latent points drawn uniformly from [-1,1], as in the tutorial."""
    return np.random.uniform(-1.0, 1.0, size=(n_samples, latent_dim)).astype("float32")


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


def summarize_performance(step, g_model, latent_dim, n_samples=100, out_dir="."):
    """Every save_every steps: a grid of generated digits and the generator, named by step."""
    X, _ = generate_fake_samples(g_model, latent_dim, n_samples)
    save_grid(X, os.path.join(out_dir, "generated_plot_%06d.png" % (step + 1)))
    model_path = os.path.join(out_dir, "model_%06d.h5" % (step + 1))
    save_model(g_model, model_path)
    return model_path


def plot_history(d_hist, a_hist, out_dir="."):
    """Line plot of the losses and accuracies, and history.csv with one row per step.
    Each history holds (loss, accuracy) pairs."""
    (d_loss, d_acc), (a_loss, a_acc) = np.array(d_hist).T, np.array(a_hist).T
    fig = Figure(figsize=(10, 8))
    ax_loss, ax_acc = fig.subplots(2, 1, sharex=True)
    ax_loss.plot(d_loss, label="D loss")
    ax_loss.plot(a_loss, label="adversarial loss")
    ax_acc.plot(d_acc, label="D accuracy")
    ax_acc.plot(a_acc, label="adversarial accuracy")
    ax_acc.set_xlabel("step")
    ax_loss.legend()
    ax_acc.legend()
    save_atomically(
        os.path.join(out_dir, "plot_line_plot_loss.png"), lambda tmp: fig.savefig(tmp, format="png")
    )
    rows = ["step,d_loss,d_acc,a_loss,a_acc"] + [
        f"{i + 1},{d[0]:.6g},{d[1]:.6g},{a[0]:.6g},{a[1]:.6g}" for i, (d, a) in enumerate(zip(d_hist, a_hist))
    ]
    save_atomically(os.path.join(out_dir, "history.csv"), lambda tmp: _write_text(tmp, "\n".join(rows) + "\n"))


def score_generator(scorer, step, g_model, model_path, eval_rows, out_dir="."):
    """--eval-every: score the saved generator with evaluate.py's cheap metric (the digit classifier's FID),
    so the best checkpoint is known when the run ends; eval_history.csv."""
    scores = scorer(g_model, OUTPUT_RANGE, LATENT_DISTRIBUTION)
    eval_rows.append(dict(step=step + 1, model=os.path.basename(model_path), **scores))
    print(f">step {step + 1}: {scorer.summary(scores)}")
    keys = list(eval_rows[0])
    rows = [",".join(keys)] + [",".join(str(row.get(k, "")) for k in keys) for row in eval_rows]
    save_atomically(os.path.join(out_dir, "eval_history.csv"), lambda tmp: _write_text(tmp, "\n".join(rows) + "\n"))


def checkpoint_variables(g_model, d_model, gan_model):
    """Everything a checkpoint holds besides the step, the history and the random state:
    both models' variables (weights, BatchNorm statistics, dropout seeds) and both
    optimizers' state. An optimizer that has not stepped yet is built first."""
    for optimizer, model in ((d_model.optimizer, d_model), (gan_model.optimizer, gan_model)):
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
    return {"g": g_model.variables, "d": d_model.variables,
            "d_opt": d_model.optimizer.variables, "g_opt": gan_model.optimizer.variables}


def save_checkpoint(out_dir, g_model, d_model, gan_model, state):
    """One .npz, written to a temporary name and renamed: a kill at any moment leaves the
    previous checkpoint or the new one, never half of one."""
    arrays = {f"{group}/{k}": keras.ops.convert_to_numpy(v)
              for group, variables in checkpoint_variables(g_model, d_model, gan_model).items()
              for k, v in enumerate(variables)}
    rng_name, rng_keys, rng_pos, rng_has_gauss, rng_gauss = np.random.get_state()
    state = dict(state, numpy_rng=[rng_name, int(rng_pos), int(rng_has_gauss), float(rng_gauss)])
    arrays.update(state=np.array(json.dumps(state)), numpy_rng_keys=rng_keys)
    save_atomically(os.path.join(out_dir, CHECKPOINT), lambda tmp: np.savez(tmp, **arrays))


def load_checkpoint(out_dir, g_model, d_model, gan_model, settings):
    """Restore what save_checkpoint wrote, and NumPy's random state; returns the state.
    ValueError if there is none, it is unreadable, or it was made with other settings."""
    path = os.path.join(out_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise ValueError(f"--out {out_dir}: no {CHECKPOINT} to resume from")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
        state = json.loads(str(arrays.pop("state")))
    except Exception as err:  # zipfile, OSError, JSON, missing key: not a checkpoint
        raise ValueError(f"{path}: not a readable checkpoint ({err})") from None
    for key, value in settings.items():
        if state["settings"].get(key) != value:
            raise ValueError(f"{path}: made with {key}={state['settings'].get(key)}, not {value}: "
                             "resume with the flags the run was started with")
    groups = checkpoint_variables(g_model, d_model, gan_model)
    if any(arrays.get(f"{g}/{k}", np.empty(0)).shape != tuple(v.shape) or f"{g}/{len(vs)}" in arrays
           for g, vs in groups.items() for k, v in enumerate(vs)):
        raise ValueError(f"{path}: does not fit these models: resume with the flags the run was started with")
    for group, variables in groups.items():
        for k, variable in enumerate(variables):
            variable.assign(arrays[f"{group}/{k}"])
    name, pos, has_gauss, gauss = state["numpy_rng"]
    np.random.set_state((name, arrays["numpy_rng_keys"], pos, has_gauss, gauss))
    return state


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def train_discriminator(d_fake_model, dataset, latent_dim, n_batch):
    """One discriminator update on n_batch real and n_batch generated images in one batch."""
    X_real, y_real = generate_real_samples(dataset, n_batch)
    y = np.concatenate([y_real, np.full((n_batch, 1), FAKE_LABEL, dtype="float32")])
    return d_fake_model.train_on_batch([X_real, generate_latent_points(latent_dim, n_batch)], y)


def train_generator(gan_model, latent_dim, n_batch):
    """One generator update through the composite model: generated images labelled real."""
    z_input = generate_latent_points(latent_dim, n_batch)
    return gan_model.train_on_batch(z_input, np.full((n_batch, 1), REAL_LABEL, dtype="float32"))


def train_step(d_fake_model, gan_model, dataset, latent_dim, n_batch):
    """One step of train(): the discriminator's update, then the generator's.
    Returns ([d_loss, d_acc], [a_loss, a_acc])."""
    d_metrics = train_discriminator(d_fake_model, dataset, latent_dim, n_batch)
    a_metrics = train_generator(gan_model, latent_dim, n_batch)
    return d_metrics, a_metrics


class CollapseGuard:
    """Watches every step's losses. A NaN or infinite loss ends the run at once. A likely
    collapse, `window` steps in a row that look collapsed, is reported; with `stop` the run
    then restarts from its last good checkpoint with a new seed while `restarts` last, and
    stops when they are used up."""

    def __init__(self, window=COLLAPSE_WINDOW, threshold=COLLAPSE_THRESHOLD, stop=True, restarts=0):
        self.window, self.threshold, self.stop, self.restarts = window, threshold, stop, restarts
        self.streak, self.restarted = 0, 0

    def looks_collapsed(self, d_loss, d_acc, a_loss, a_acc):
        """The discriminator's loss on its batch of real and generated images near zero: it
        tells them apart perfectly, and the generator learns nothing more."""
        return d_loss < self.threshold

    def describe(self):
        return f"the discriminator's loss below {self.threshold:g} for {self.window} steps in a row"

    def check(self, *losses):
        """None, "nan", or "collapse" (once, on the step that completes the window)."""
        if not np.all(np.isfinite(losses)):
            return "nan"
        self.streak = self.streak + 1 if self.looks_collapsed(*losses) else 0
        return "collapse" if self.streak == self.window else None


class StopOnSignal:
    """Within it, Ctrl-C (SIGINT) and SIGTERM ask the loop to stop after the current step
    rather than kill it mid-step; a second Ctrl-C stops at once. Main thread only."""

    def __enter__(self):
        self.signal, self.previous = None, {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self.request)
        return self

    def request(self, signum, frame):
        if self.signal == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def train(
    g_model,
    d_model,
    gan_model,
    dataset,
    latent_dim,
    n_steps=N_STEPS,
    n_batch=N_BATCH,
    save_every=SAVE_EVERY,
    out_dir=".",
    verbose=1,
    scorer=None,
    eval_every=None,
    resume=False,
    guard=None,
):
    """The tutorial's loop, counted in steps: every save_every steps a grid, the generator
    and a checkpoint. Returns the history; its "stopped" says why the run ended early
    ("interrupted", "nan", "collapse"), else None. With a scorer (evaluate.Scorer), every
    eval_every steps the generator is saved and scored too. resume: go on from out_dir's
    checkpoint. guard: a CollapseGuard (default: the flags' defaults)."""
    if dataset.shape[0] < n_batch or n_batch < 1:
        raise ValueError(f"need at least one batch: {dataset.shape[0]} images, batch size {n_batch}")
    d_fake_model = define_discriminator_on_fakes(g_model, d_model)
    guard = guard or CollapseGuard()
    eval_every = eval_every if scorer is not None else None
    settings = dict(n_batch=n_batch, latent_dim=latent_dim)
    history = {"d": [], "a": [], "scores": []}
    os.makedirs(out_dir, exist_ok=True)

    def checkpoint():
        save_checkpoint(out_dir, g_model, d_model, gan_model, dict(step=step, history=history, settings=settings))

    step = 0
    if resume:
        state = load_checkpoint(out_dir, g_model, d_model, gan_model, settings)
        step, history = state["step"], state["history"]
        if step >= n_steps:
            print(f"the run in {out_dir} is already finished ({step} of {n_steps} steps)")
            return dict(history, stopped=None)
        print(f"resuming the run in {out_dir} at step {step} of {n_steps}")
        for name in os.listdir(out_dir):  # temporary files of a run killed while saving
            if name.startswith(".") and ".partial." in name:
                os.remove(os.path.join(out_dir, name))
    else:
        checkpoint()
    write_run_info(out_dir, latent_dim, n_steps=n_steps, n_batch=n_batch, save_every=save_every)
    saved_step, stopped = step, None
    # A live bar on a terminal or in a notebook; one line per save in a log file.
    live = sys.stdout.isatty() or "ipykernel" in sys.modules
    progress = verbose if (live or not verbose) else 2
    progbar, start, begun = None, None, 0
    with StopOnSignal() as stop:
        while step < n_steps:
            if step % save_every == 0 or progbar is None:
                first = step - step % save_every
                if verbose:
                    print(f"Steps {first + 1}-{min(first + save_every, n_steps)} of {n_steps}")
                begun = step % save_every
                progbar = keras.utils.Progbar(
                    min(save_every, n_steps - first), verbose=progress,
                    stateful_metrics=["d_loss", "d_acc", "a_loss", "a_acc", "steps/s"],
                )
                start = time.perf_counter()
            d_metrics, a_metrics = train_step(d_fake_model, gan_model, dataset, latent_dim, n_batch)
            d_metrics, a_metrics = [float(v) for v in d_metrics], [float(v) for v in a_metrics]
            history["d"].append(d_metrics)
            history["a"].append(a_metrics)
            step += 1
            done = (step - 1) % save_every + 1
            progbar.update(
                done,
                [("d_loss", d_metrics[0]), ("d_acc", d_metrics[1]), ("a_loss", a_metrics[0]), ("a_acc", a_metrics[1]),
                 ("steps/s", (done - begun) / (time.perf_counter() - start))],
            )
            verdict = guard.check(*d_metrics, *a_metrics)
            if verdict == "nan":
                print(f"step {step}: a loss is {d_metrics[0]}, {a_metrics[0]}: stopping. The last good "
                      f"checkpoint (step {saved_step}) and the generators saved up to it are kept.")
                stopped = "nan"
                break
            if verdict == "collapse":
                print(f"step {step}: likely collapse ({guard.describe()})")
                if guard.stop and guard.restarted < guard.restarts:
                    guard.restarted, guard.streak = guard.restarted + 1, 0
                    state = load_checkpoint(out_dir, g_model, d_model, gan_model, settings)
                    step, history, progbar = state["step"], state["history"], None
                    seed = int(np.random.randint(2**31 - 1000)) + guard.restarted
                    keras.utils.set_random_seed(seed)
                    print(f"restarting from the checkpoint at step {step} with seed {seed} "
                          f"(restart {guard.restarted} of {guard.restarts})")
                    continue
                if guard.stop:
                    print(f"stopping; the last good checkpoint (step {saved_step}) is kept "
                          "(--no-stop-on-collapse carries on, --restart-on-collapse K restarts)")
                    stopped = "collapse"
                    break
            scoring = eval_every is not None and (step % eval_every == 0 or step == n_steps)
            if step % save_every == 0 or step == n_steps or scoring:
                # The reports draw from NumPy's global generator (the tutorial's functions);
                # its state is put back, so where a run saves does not change how it trains.
                rng = np.random.get_state()
                model_path = summarize_performance(step - 1, g_model, latent_dim, out_dir=out_dir)
                if scoring:
                    score_generator(scorer, step - 1, g_model, model_path, history["scores"], out_dir=out_dir)
                np.random.set_state(rng)
            if guard.streak == 0 and (step % save_every == 0 or step == n_steps or stop.signal):
                checkpoint()  # only while no collapse is suspected: it is the last good one
                saved_step = step
            if stop.signal and step < n_steps:
                print(f"interrupted at step {step} of {n_steps}; checkpoint at step {saved_step} "
                      f"in {os.path.join(out_dir, CHECKPOINT)}")
                stopped = "interrupted"
                break
    plot_history(history["d"], history["a"], out_dir=out_dir)
    if history["scores"]:
        best = min(history["scores"], key=lambda row: row[scorer.metric])
        print(f"best generator by {scorer.metric}: {best['model']} ({scorer.metric} {best[scorer.metric]:.4g})")
    return dict(history, stopped=stopped)


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------
RUN_OUTPUTS = ("run.json", "history.csv", "plot_line_plot_loss.png", "eval_history.csv", CHECKPOINT)


def check_out_dir(out_dir, overwrite=False, resume=False):
    """Refuse to train into a folder that already holds a run, unless asked to (or resuming
    it), or a folder that cannot be written to."""
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
    if overwrite or resume or not os.path.isdir(out_dir):
        return
    names = os.listdir(out_dir)
    if any(n in RUN_OUTPUTS or n.startswith(("model_", "generated_plot_")) for n in names):
        raise ValueError(f"--out {out_dir}: already holds a run; choose another folder, pass --resume to "
                         "continue it or --overwrite to replace it")


def seed_everything(seed):
    """--seed: Python, NumPy and the backend seeded, and on TensorFlow its deterministic
    kernels, so that two runs on one machine and backend print the same losses."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def define_scorer(data):
    """evaluate.py's scorer for MNIST generators (it trains and caches its digit classifier
    the first time). Only --eval-every needs it, and evaluate.py beside this script."""
    try:
        from evaluate import Scorer
    except ImportError as err:
        raise ValueError(f"--eval-every needs evaluate.py beside this script ({err})") from None
    return Scorer("mnist", data, n=EVAL_SAMPLES, inception=False)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
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


def parse_args(argv=None):
    p = Parser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--steps", type=positive, default=N_STEPS, help="training steps (this variant counts steps)")
    p.add_argument("--save-every", type=positive, default=SAVE_EVERY, help="save a grid and the generator every N steps")
    p.add_argument("--batch-size", type=positive, default=N_BATCH, help="real images (and as many generated) per discriminator update, latent points per generator update")
    p.add_argument("--latent-dim", type=positive, default=LATENT_DIM, help="size of the latent space")
    p.add_argument("--data", default=None, help="local .npz with x_train; default: download MNIST through Keras")
    p.add_argument("--out", default=OUT_DIR, help="folder for grids, generators, history and loss plot")
    p.add_argument("--seed", type=int, default=None, help="seed Python, NumPy and the backend")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that already holds a run")
    p.add_argument("--eval-every", type=positive, default=None, metavar="N",
                   help="every N steps, save the generator and score it with evaluate.py's digit-classifier FID "
                        "(eval_history.csv; the best is named at the end); off unless given")
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --out from its {CHECKPOINT} (give the flags it was started with)")
    p.add_argument("--stop-on-collapse", action=argparse.BooleanOptionalAction, default=True,
                   help="stop (or restart, see --restart-on-collapse) on a likely collapse; a NaN loss always stops")
    p.add_argument("--collapse-window", type=positive, default=COLLAPSE_WINDOW,
                   help="steps in a row that must look collapsed")
    p.add_argument("--collapse-threshold", type=positive_float, default=COLLAPSE_THRESHOLD, help=COLLAPSE_HELP)
    p.add_argument("--restart-on-collapse", type=int, default=0, metavar="K",
                   help="on a likely collapse, restore the last good checkpoint and go on with a new seed, "
                        "at most K times")
    args = p.parse_args(argv)
    if args.restart_on_collapse < 0:
        p.error(f"argument --restart-on-collapse: must be 0 or more, got {args.restart_on_collapse}")
    return args


def finish(history, out_dir, argv):
    """main's last words and exit status: 0 done, 3 stopped by a NaN or a collapse, 130
    interrupted (with the command that resumes the run)."""
    if history["stopped"] == "interrupted":
        args = [a for a in (sys.argv[1:] if argv is None else argv) if a not in ("--resume", "--overwrite")]
        print(f"resume with: python {os.path.basename(__file__)} {shlex.join(args + ['--resume'])}")
        return 130
    if history["stopped"]:
        return 3
    print(f"outputs in {out_dir}")
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        check_out_dir(args.out, args.overwrite, args.resume)
        dataset = load_real_samples(args.data)
        if dataset.shape[0] < args.batch_size:
            raise ValueError(f"{args.data}: {dataset.shape[0]} images, fewer than one batch of {args.batch_size}")
        scorer = define_scorer(args.data) if args.eval_every else None
    except ValueError as err:
        print(f"{os.path.basename(__file__)}: error: {err}", file=sys.stderr)
        return 2
    if args.seed is not None:
        seed_everything(args.seed)
    guard = CollapseGuard(args.collapse_window, args.collapse_threshold, args.stop_on_collapse, args.restart_on_collapse)
    d_model = define_discriminator()
    g_model = define_generator(args.latent_dim)
    gan_model = define_gan(g_model, d_model)
    try:
        history = train(g_model, d_model, gan_model, dataset, args.latent_dim, args.steps, args.batch_size,
                        save_every=args.save_every, out_dir=args.out, scorer=scorer, eval_every=args.eval_every,
                        resume=args.resume, guard=guard)
    except ValueError as err:  # a checkpoint that does not fit
        print(f"{os.path.basename(__file__)}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, folder gone or read-only: every file is whole (atomic saves)
        print(f"{os.path.basename(__file__)}: error: writing to {args.out} failed ({err.strerror or err}); "
              "the files written before are intact", file=sys.stderr)
        return 1
    return finish(history, args.out, argv)


if __name__ == "__main__":
    sys.exit(main())
