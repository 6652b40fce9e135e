"""The run machinery of the training scripts, written once: what a script's command line does
around its tutorial's train(). Each script hands itself over (`gan_runner.main(globals(), argv)`):

- the flags every script has, after the script's own (parse_args);
- backend, devices, seeds and --data-parallel (prepare_backend);
- the checkpoint and --resume, with what a resumed run must keep (Checkpoint, resume_settings);
- the progress bar, Ctrl-C, the collapse guard and its restarts, TensorBoard, --eval-every's wiring, the minutes
  (Timer), the generator of the step a stopped run reached (save_reached), --augment (augmentation.py's layer);
- run.json, the --out checks, exit statuses and the last lines printed (main, train_from_flags).

What a script hands over, by name, is written once, in code: NEEDED, OPTIONAL and the FLAGS below, checked
when a run starts (check_contract), so that a missing or misspelt name is one line naming it, before anything
is built (docs/layout-and-tests.md, "A fifth GAN").

The way is one-directional: a script imports this module, which imports no script, calls only what the script
handed over and writes nothing into it; the helpers it shares with generate.py, evaluate.py and image_folder.py
are gan_utils.py's, the module below them all.
"""

import argparse
import difflib
import hashlib
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

# The helpers shared with generate.py, evaluate.py and image_folder.py, imported from the module below them all;
# the scripts call the number types as gan_runner.positive (and so on), so they are named here too.
try:
    from gan_utils import (OUTPUT_RANGE, Parser, cache_dir, grid_pixels, non_negative, non_negative_float, positive,
                           positive_float, save_atomically, save_grid, share_gpu_memory)
    from augmentation import AUGMENTATIONS, Augmented, DiffAugment, augment_policy  # --augment's; scripts copy some
    from sample_measures import FEW_PICTURES_BELOW, nearest_ratio, sample_spread  # the collapse guard's
except ModuleNotFoundError as err:  # not ModuleNotFoundError: a script would take it for "no gan_runner.py" and
    raise ImportError(f"gan_runner.py needs {err.name}.py beside it ({err})") from None  # train alone, flags refused

CHECKPOINT = "checkpoint.npz"
KERAS = tuple(int(part) for part in keras.__version__.split(".")[:2])  # (major, minor)
KERAS_NEEDED = (3, 8)  # the oldest Keras the tests pass on (README: "Which Keras")
NO_GPU = '; no GPU visible, so this is slow: README, "On a GPU"'
PRECISIONS = {"off": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}  # Keras' dtype policies
# The collapse guard's rules on the samples (CollapseGuard, SampleSpread), at DIVERSITY_CHECKS epoch ends in a row:
# samples of fixed latent points that spread less than DIVERSITY times the real images' spread (one picture), or
# whose nearest-neighbour ratio is under NEAREST times the real images' (a few pictures and blends of them), each
# image averaged down to about 8 pixels a side (sample_measures.py; docs/long-runs.md: the values measured on
# collapsed and healthy runs).
DIVERSITY, NEAREST, DIVERSITY_CHECKS = 0.05, FEW_PICTURES_BELOW, 2
# Flags that only lengthen, watch or place a run: --resume takes them changed. Every other flag
# (a flag added later too) changes the run, so the checkpoint records it and refuses a change.
RESUME_MAY_CHANGE = ("epochs", "steps", "max_steps", "save_every", "out", "overwrite", "resume", "tensorboard",
                     "eval_every", "inception_weights", "stop_on_collapse", "collapse_window", "collapse_threshold",
                     "collapse_diversity", "collapse_nearest", "restart_on_collapse", "seed", "data_parallel",
                     "max_minutes", "save_every_minutes")


# ---- The contract: what a script hands over, by name (docs/layout-and-tests.md, "A fifth GAN") ---------
NEEDED = {
    "SCRIPT": "its file name", "ABOUT": "its --help line", "OUT_DIR": "the default --out",
    "DATASET": "the data set's name, for --help and a failed download",
    "DATA_KEYS": "the arrays an .npz given to --data must hold",
    "LATENT_DIM": "the latent space's size (--latent-dim's default)",
    "LATENT_DISTRIBUTION": "how the latent points are drawn, 'normal' or 'uniform' (run.json tells generate.py)",
    "OUTPUT_RANGE": "the generator's output range, (-1, 1) or (0, 1)", "IMAGE_SHAPE": "the images' shape",
    "LOSSES": "a step's loss names, in the order train_step() returns them",
    "GREY_REVERSED": "True: its grids draw grey images black on white (a folder's images are drawn as they are)",
    "COLLAPSE_WINDOW": "--collapse-window's default", "COLLAPSE_THRESHOLD": "--collapse-threshold's default",
    "COLLAPSE_RULE": "the loss rule in words, '{}' where the threshold goes",
    "looks_collapsed": "looks_collapsed(logs, threshold): the loss rule, on one step's losses",
    "EVAL_UNIT": "what --eval-every counts: 'epochs' or 'steps'", "EVAL_METRIC": "--eval-every's score, in words",
    "EVAL_SAMPLES": "generated images per --eval-every score",
    "define_scorer": "define_scorer(args): --eval-every's evaluate.Scorer",
    "add_flags": "add_flags(parser): its own flags, before the ones every script has",
    "load_real_samples": "load_real_samples(path): its tutorial's training images, from an .npz or (None) Keras",
    "define_run": "define_run(args) -> ((g_model, d_model, gan_model), train()'s keywords)",
    "define_gan": "define_gan(g_model, d_model): the composite model (--augment builds it on the augmented d_model)",
    "train": "train(g_model, d_model, gan_model, dataset, latent_dim, callbacks=, history=, out_dir=, verbose=, "
             "**define_run's keywords, and reverse_grey= for grey images): its tutorial's loop",
    "generate_latent_points": "generate_latent_points(latent_dim, n): as its training draws them",
}
OPTIONAL = {  # name: (what the run uses without it, what it is)
    "MIN_BATCH_SIZE": (1, "the smallest --batch-size (2: half real, half generated)"),
    "load_data": (None, "load_data(args, path): the training images, where they depend on the flags (else "
                        "load_real_samples(path)); a conditional GAN's: [images, labels], its class names in "
                        "args.classes"),
    "latent_points": (None, "latent_points(args, n): n latent points, where they depend on the flags (a conditional "
                            "GAN's: [points, labels] over its classes); else generate_latent_points(latent_dim, n)"),
    "FOLDER_LABELS": ("digits", "how a folder's images are labelled: 'digits', by top-level subfolders named 0-9 (the "
                                "WGAN's --digit); 'classes', every top-level subfolder a class (image_folder.py)"),
}
NEEDED_FLAGS = {"batch_size": "--batch-size, images a step"}  # of the script's own flags (add_flags), read by the run
OPTIONAL_FLAGS = {  # dest: (what the run uses without it, what it is)
    "classes": (None, "the class names of a conditional GAN's data, set by its load_data (run.json)"),
    "image_size": (None, "--image-size: the side of a folder's images, where the models take more than one"),
    "inception_weights": ("imagenet", "--inception-weights: InceptionV3's weights for a folder's --eval-every"),
}


class ContractError(ValueError):
    """A script that does not hand over what NEEDED says: one line naming the name."""


def check_contract(script):
    """A ContractError naming the first of NEEDED's names the script lacks (a close one it has: misspelt), or
    holds in the wrong kind (a function for a lower-case name), or an OPTIONAL name it seems to have misspelt."""
    names = script.names
    own = [name for name in names if not name.startswith("_") and name not in NEEDED and name not in OPTIONAL]
    for name, what in NEEDED.items():
        if name not in names:
            close = difflib.get_close_matches(name, own, 1, 0.8)
            raise ContractError(f"it hands gan_runner.py no {name} ({what})"
                                + (f"; it has {close[0]}: misspelt?" if close else ""))
        if name[0].islower() and not callable(names[name]):
            raise ContractError(f"its {name} is not a function ({what})")
    for name, (_, what) in OPTIONAL.items():
        close = [] if name in names else difflib.get_close_matches(name, own, 1, 0.85)
        if close:
            raise ContractError(f"it has {close[0]}, which gan_runner.py does not read: {name} misspelt? ({what})")


class Script:
    """A training script's globals (or its module), read when used: a test may have patched one since."""

    def __init__(self, names):
        self.names = names.names if isinstance(names, Script) else names if isinstance(names, dict) else vars(names)

    def __getattr__(self, name):
        try:
            return self.names[name]
        except KeyError:
            raise AttributeError(f"{self.names.get('SCRIPT', 'the script')} has no {name}") from None

    def optional(self, name):
        """One of OPTIONAL's names: the script's, else what the run uses without it."""
        return self.names.get(name, OPTIONAL[name][0])


def flag(args, name):
    """One of OPTIONAL_FLAGS: the script's flag, else what the run uses without it."""
    return getattr(args, name, OPTIONAL_FLAGS[name][0])


# ---- main: the flags read, the backend prepared, the run, its last words -------------------------
def main(names, argv=None):
    """Train the script whose globals() (or module) are `names`, as its command line asks. Exit status: 0 done,
    1 writing failed, 2 bad input, 3 stopped by a NaN or a collapse, 130 interrupted (it prints the
    command that resumes the run)."""
    script = Script(names)
    try:
        check_contract(script)  # before the flags: add_flags is the script's
    except ContractError as err:
        return fail(script, err, 2)
    args = parse_args(script, argv)
    if KERAS < KERAS_NEEDED:  # before anything trains: untested, and the losses recorded could be wrong
        need = "%d.%d" % KERAS_NEEDED
        return fail(script, f"needs Keras {need} or newer, not {keras.__version__}: "
                            f"pip install --upgrade 'keras>={need}'", 2)
    policy, undo = keras.config.dtype_policy(), []
    try:
        try:
            check_out_dir(args.out, args.overwrite, args.resume)
            devices = prepare_backend(args, undo)  # before anything touches the backend
            # The script's scorer before the seed (it may train a classifier); SWD's from the training images, later
            scorer = define_scorer(script, args) if args.eval_every and args.eval_metric != "swd" else None
        except (ValueError, ImportError) as err:  # ImportError: --eval-every without evaluate.py beside it
            return fail(script, err, 2)
        if args.seed is not None:  # the same losses, run after run, on one machine and backend
            keras.utils.set_random_seed(args.seed)
        keras.config.set_dtype_policy(PRECISIONS[args.mixed_precision])  # for the models built from here on
        on_gpu = any(device.startswith(("gpu", "tpu", "mps")) for device in devices)
        print(f"{script.SCRIPT}: training on {', '.join(devices)} ({keras.backend.backend()}, dtype policy "
              f"{keras.config.dtype_policy().name})" + ("" if on_gpu else NO_GPU))
        note = precision_note(args.mixed_precision, devices)
        if note:
            print(f"{script.SCRIPT}: {note}")
        return train_from_flags(script, args, argv, scorer, devices)
    finally:  # as it was: a notebook's next models are its own business
        keras.config.set_dtype_policy(policy)
        for step in reversed(undo):
            step()


def train_from_flags(script, args, argv, scorer, devices):
    """main(), once the flags are read: the data, the models, the callbacks, the run, its last words."""
    try:
        dataset = read_data(script, args)
        models, train_args = script.define_run(args)
    except (ValueError, ImportError) as err:  # ImportError: a module a flag needs, not beside the script
        return fail(script, err, 2)
    if args.augment:
        models = augmented(script, models, args.augment)
    # Grey grids black on white, as the tutorials drew MNIST's digits; a folder's own images as they are
    reverse_grey = script.GREY_REVERSED and not (args.data and os.path.isdir(args.data))
    settings = resume_settings(args, dataset)
    if args.eval_every and args.eval_metric == "swd":
        import evaluate

        scorer = evaluate.training_images_scorer(images_of(dataset), script.OUTPUT_RANGE)
    samples = SampleSpread(models[0], fixed_latent_points(script, args), images_of(dataset))
    guard = CollapseGuard(script, args.collapse_window, args.collapse_threshold, args.stop_on_collapse, samples,
                          args.collapse_diversity, args.collapse_nearest, out_dir=args.out,
                          augmented=bool(args.augment))
    checkpoint = Checkpoint(os.path.join(args.out, CHECKPOINT), models, settings, guard, script.LOSSES)
    signals = StopOnSignal()
    timer = Timer(lambda step: save_reached(script, args, models[0], step, reverse_grey)[0], args.save_every_minutes,
                  args.max_minutes)
    # The progress bar first, to end its line before others print; the checkpoint last, to hold what they record.
    callbacks = [StepProgbar(), keras.callbacks.TerminateOnNaN(), guard, signals, timer]
    if scorer is not None:
        callbacks.append(scorer.callback(models[0], args.out, args.eval_every, script.EVAL_UNIT, checkpoint.scores,
                                         save_model, script.OUTPUT_RANGE, script.LATENT_DISTRIBUTION))
    if args.tensorboard:
        callbacks.append(TensorBoard(args.tensorboard, models[0], fixed_latent_points(script, args),
                                     script.OUTPUT_RANGE, reverse_grey))
    verbose = 1 if sys.stdout.isatty() or "ipykernel" in sys.modules else 2  # to a log file: a line an epoch
    try:
        if args.resume:
            checkpoint.restore()
        os.makedirs(args.out, exist_ok=True)
        shape = list(models[0].output_shape[1:])
        grey = shape[-1] == 1  # how grey grids are drawn: said in run.json and to train(); a colour grid is as it is
        classes = {"classes": args.classes} if flag(args, "classes") else {}  # a conditional GAN's
        write_run_info(script, args.out, args.latent_dim, mixed_precision=args.mixed_precision, devices=devices,
                       augment=args.augment, image_shape=shape, **({"grey_reversed": reverse_grey} if grey else {}),
                       **classes, **train_args)
        for restart in range(args.restart_on_collapse + 1):
            if restart:
                checkpoint.restore()
                seed = int(np.random.randint(2**31 - 1000)) + restart
                keras.utils.set_random_seed(seed)
                print(f"restarting from the checkpoint at step {checkpoint.saved_step} with seed {seed} "
                      f"(restart {restart} of {args.restart_on_collapse})")
            script.train(*models, dataset, args.latent_dim, callbacks=callbacks + [checkpoint],
                         history=checkpoint.history, out_dir=args.out, verbose=verbose,
                         **({"reverse_grey": reverse_grey} if grey else {}), **train_args)
            if not guard.collapsed:
                break
        history, losses = checkpoint.history, script.LOSSES
        step = len(history[losses[0]])
        broken = [f"{history[name][-1]} ({name})" for name in losses if step and not np.isfinite(history[name][-1])]
        healthy = step and not broken  # a NaN generator is not saved: its weights are what broke
        generator, written = save_reached(script, args, models[0], step, reverse_grey) if healthy else (None, False)
    except ValueError as err:  # a checkpoint that does not fit
        return fail(script, err, 2)
    except OSError as err:  # disk full, folder gone or read-only: every file is whole (atomic saves)
        return fail(script, f"writing to {args.out} failed ({err.strerror or err}); the files written before "
                            "are intact", 1)
    last, total = checkpoint.saved_step, checkpoint.params["total_steps"]
    if signals.received and step < total:
        kept = f"; the generator of step {step}: {generator}" if generator else ""
        print(f"interrupted at step {step} of {total}; checkpoint at step {last} in {checkpoint.path}{kept}")
        words = [a for a in (sys.argv[1:] if argv is None else argv) if a not in ("--resume", "--overwrite")]
        print(f"resume with: python {script.SCRIPT} {shlex.join(words + ['--resume'])}")
        return 130
    if timer.expired and step < total:  # the length asked for, in minutes: done, and resumable
        print(f"stopped after {args.max_minutes:g} minutes (--max-minutes) at step {step} of {total}; checkpoint in "
              f"{checkpoint.path}; the generator of step {step}: {generator}; --resume goes on")
        return 0
    if broken:
        print(f"step {step}: a loss is {broken[0]}: stopping. The last good checkpoint (step {last}) and the "
              "generators saved up to it are kept.")
        return 3
    if guard.collapsed:
        print(f"stopping; the generator of step {step} is {generator}, the last good checkpoint (step {last}) is kept "
              "(--no-stop-on-collapse carries on, --restart-on-collapse K restarts)")
        return 3
    if written:  # a finished run resumed, its final generator gone
        print(f"wrote the missing generator of step {step}: {generator}")
    print(f"outputs in {args.out}")
    return 0


def save_reached(script, args, g_model, step, reverse_grey):
    """The generator and a grid of the fixed samples (the collapse guard's, TensorBoard's) at the step a run reached,
    model_<step>.h5 and generated_plot_<step>.png, unless the script's own reports wrote them: a run stopped between
    two reports (a signal, the collapse guard) or a finished run resumed after its final files went. Returns the
    generator's path and whether it was written now."""
    path = os.path.join(args.out, "model_%06d.h5" % step)
    if os.path.exists(path):
        return path, False
    images = np.asarray(g_model.predict_on_batch(fixed_latent_points(script, args)))
    save_grid(images, os.path.join(args.out, "generated_plot_%06d.png" % step), script.OUTPUT_RANGE,
              reverse_grey=reverse_grey)
    save_model(g_model, path)
    return path, True


def define_scorer(script, args):
    """--eval-every's scorer: the script's, or for a folder of one's own images evaluate.py's InceptionV3
    scores (KID, and FID from 2,048 images) against the folder's images, as they were prepared for training."""
    if not (args.data and os.path.isdir(args.data)):
        return script.define_scorer(args)
    import evaluate

    return evaluate.Scorer("folder", args.data, n=script.EVAL_SAMPLES, shape=image_shape(script, args),
                           inception_weights=flag(args, "inception_weights"))


def fail(script, message, status):
    print(f"{script.names.get('SCRIPT', 'gan_runner.py')}: error: {message}", file=sys.stderr)
    return status


# ---- The flags ---------------------------------------------------------------------------------
def parse_args(script, argv=None):
    """The script's own flags (add_flags), then the ones every script has."""
    script = Script(script)
    p = Parser(prog=script.SCRIPT, description=script.ABOUT, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    script.add_flags(p)
    add_run_flags(p, script)
    args = p.parse_args(argv)
    for name, what in NEEDED_FLAGS.items():
        if not hasattr(args, name):  # the script's mistake, said as check_contract says its others
            p.error(f"its add_flags gives gan_runner.py no {what}")
    if args.batch_size < script.optional("MIN_BATCH_SIZE"):
        p.error(f"argument --batch-size: must be at least {script.MIN_BATCH_SIZE} (half real, half generated)")
    return args


def add_run_flags(p, script):
    """The flags every script has, after its own."""
    p.add_argument("--latent-dim", type=positive, default=script.LATENT_DIM, help="size of the latent space")
    p.add_argument("--data", default=None,
                   help=f"local .npz with {' and '.join(script.DATA_KEYS)}, or a folder of your own images (.png, .jpg, "
                        f".bmp, .gif; docs/your-own-images.md); default: download {script.DATASET} through Keras")
    p.add_argument("--out", default=script.OUT_DIR, help="folder for grids, generators, history and loss plot")
    p.add_argument("--seed", type=int, default=None, help="seed Python, NumPy and the backend")
    p.add_argument("--mixed-precision", choices=PRECISIONS, default="off",
                   help="compute in bfloat16 or float16, keeping the weights (and the layers a loss reads) in float32; "
                        "float16 scales the losses")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that already holds a run")
    p.add_argument("--data-parallel", action="store_true",
                   help="split each batch over every local GPU (keras.distribution.DataParallel; KERAS_BACKEND=jax)")
    p.add_argument("--eval-every", type=positive, default=None, metavar="N",
                   help=f"every N {script.EVAL_UNIT}, save the generator and score it with evaluate.py's "
                        f"{script.EVAL_METRIC} (eval_history.csv; the best is named at the end); off unless given")
    p.add_argument("--eval-metric", choices=("default", "swd"), default="default",
                   help=f"--eval-every's score: default, {script.EVAL_METRIC}; swd, evaluate.py's sliced Wasserstein "
                        "distance against the training images (no network, no download: any images)")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write every step's losses and, each epoch, a grid of samples for TensorBoard to DIR")
    p.add_argument("--max-minutes", type=positive_float, default=None, metavar="M",
                   help="stop after M minutes of training (from this run's first step; compiling counts), leaving "
                        "the checkpoint and the generator of the step reached; status 0")
    p.add_argument("--save-every-minutes", type=positive_float, default=None, metavar="N",
                   help="every N minutes of training, save the generator and a grid of the step reached, as the "
                        "reports name them (model_<step>.h5); at most once a step")
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --out from its {CHECKPOINT} (give the flags it was started with)")
    p.add_argument("--stop-on-collapse", action=argparse.BooleanOptionalAction, default=True,
                   help="stop (or restart, see --restart-on-collapse) on a likely collapse; a NaN loss always stops")
    p.add_argument("--collapse-window", type=positive, default=script.COLLAPSE_WINDOW,
                   help="steps in a row that must look collapsed")
    p.add_argument("--collapse-threshold", type=positive_float, default=script.COLLAPSE_THRESHOLD,
                   help="a likely collapse: " + script.COLLAPSE_RULE.format("this"))
    p.add_argument("--collapse-diversity", type=non_negative_float, default=DIVERSITY, metavar="D",
                   help=f"a likely collapse also: at {DIVERSITY_CHECKS} epoch ends in a row, after --collapse-window "
                        "steps, the samples of 100 fixed latent points spread less than D times as far apart as real "
                        "images (diversity.csv); 0: off")
    p.add_argument("--collapse-nearest", type=non_negative_float, default=NEAREST, metavar="R",
                   help=f"a likely collapse also: at {DIVERSITY_CHECKS} epoch ends in a row, after --collapse-window "
                        "steps, each of those samples' nearest other sample, against their mean distance, is less than "
                        "R times as far as among real images: a few pictures and blends of them (diversity.csv); "
                        "0: off")
    p.add_argument("--restart-on-collapse", type=non_negative, default=0, metavar="K",
                   help="on a likely collapse, restore the last good checkpoint and go on with a new seed, "
                        "at most K times")
    p.add_argument("--augment", nargs="?", type=augment_policy, const=",".join(AUGMENTATIONS), default=None,
                   metavar="PARTS", help="DiffAugment: the discriminator sees every image, real and generated, "
                   f"augmented in training ({', '.join(AUGMENTATIONS)}, or some of them; bare: all three); for small "
                   "folders")


# ---- Backend, devices, seeds -------------------------------------------------------------------
def prepare_backend(args, undo):
    """What a GPU run needs, set before any model is built (README: "On a GPU"): GPU memory as
    needed (share_gpu_memory). Under another backend, TensorFlow (--tensorboard's writer) sees no GPU.
    --seed: the backend's deterministic kernels. TensorFlow on a CPU: its remapper off (no_remapper).
    --data-parallel: keras.distribution's DataParallel over every local device (JAX only). Returns the
    devices the run trains on; what main() must undo when it returns goes into `undo`. ValueError: a
    flag the backend cannot honour."""
    share_gpu_memory()
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
    if backend == "tensorflow" and devices[0].startswith("cpu"):
        undo += no_remapper()
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


def no_remapper():
    """TensorFlow on a CPU: grappler's remapper off for the run; returns the undo. Its Conv2D + BiasAdd +
    LeakyReLU fusion fails on a discriminator's update on generated images and prints an error line at the first
    step ("remapper failed: ... LeakyReluGrad ..."), after which grappler runs that update unfused anyway. Off,
    the line is gone, the replay recordings are met to the bit and the 64x64 steps measured took 0 to 4% longer
    (docs/mixed-precision-and-speed.md). GPUs keep it: not measured there."""
    import tensorflow as tf

    previous = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    return [lambda: tf.config.optimizer.set_experimental_options({"remapping": previous})]


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


# ---- Hardware: what --mixed-precision costs here ----------------------------------------------
# A reduced precision is faster than float32 only where the hardware computes in it. CPUs: bfloat16 with
# x86's AVX-512 BF16 or AMX (Intel from Sapphire Rapids, AMD from Zen 4) or Arm's BF16, read from the flags in
# /proc/cpuinfo (Linux); float16 is emulated by the CPU kernels. GPUs: bfloat16 from compute capability 8.0
# (Ampere), float16 tensor cores from 7.0 (Volta; free Colab's T4 is 7.5: float16 yes, bfloat16 no).
CPU_BFLOAT16 = ("avx512_bf16", "amx_bf16", "bf16")
CPU_FLAGS_SHOWN = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "bf16")
GPU_NATIVE = {"bfloat16": (8, 0), "float16": (7, 0)}
SLOWER = {  # docs/mixed-precision-and-speed.md has the measurements
    ("cpu", "bfloat16"): "it is emulated, several times slower than float32 (the LSGAN step: 5.8x on an AVX2 "
                         "Zen 3, measured)",
    ("cpu", "float16"): "CPU kernels emulate float16, several times slower than float32 (the LSGAN step: 2.8x on an "
                        "AVX2 Zen 3, 6.6x on an AVX-512 Zen 4, measured); it is for GPUs",
    ("gpu", "bfloat16"): "likely slower than float32, not faster (not measured here); float16 is the one for it",
    ("gpu", "float16"): "likely no faster than float32 (not measured here)",
}


def cpu_info():
    """(model name, set of flags) of this machine's CPU from /proc/cpuinfo, or (None, None) without one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, None
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or fields.get("Model") or fields.get("Hardware")
    return model, set((fields.get("flags") or fields.get("Features") or "").split())


def cpu_description():
    """The CPU's model and those of its flags that decide what each precision costs, for device lines."""
    model, flags = cpu_info()
    if flags is None:
        import platform

        return f"{platform.processor() or platform.machine()} (its flags cannot be read on {platform.system()})"
    shown = [flag for flag in CPU_FLAGS_SHOWN if flag in flags]
    return f"{model or 'CPU'} ({', '.join(shown) or 'none of ' + ', '.join(CPU_FLAGS_SHOWN)})"


def gpu_capability():
    """(name, (major, minor)) of the first GPU the backend computes on, or None where it cannot be read."""
    try:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
            return details.get("device_name", "the GPU"), tuple(details["compute_capability"])
        if keras.backend.backend() == "jax":
            import jax

            device = jax.devices()[0]
            return device.device_kind, tuple(int(part) for part in str(device.compute_capability).split(".")[:2])
        import torch

        return torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0))
    except Exception:  # no such detail on this build or device (a ROCm GPU, say): unknown
        return None


def precision_note(precision, devices):
    """A line when --mixed-precision `precision` will likely be slower than float32 on these devices, or
    when that cannot be told; None when it computes natively (or "off")."""
    if precision == "off":
        return None
    flag = f"--mixed-precision {precision}"
    if devices[0].startswith("gpu"):
        found = gpu_capability()
        if found is None:
            return f"{flag}: this GPU's compute capability cannot be read, so whether it computes {precision} " \
                   "natively, and faster than float32, is unknown"
        (name, capability), need = found, GPU_NATIVE[precision]
        if capability >= need:
            return None
        return f"{flag}: {name} (compute capability {'%d.%d' % capability}) has no {precision} arithmetic " \
               f"({'%d.%d' % need} and later have): {SLOWER['gpu', precision]}"
    if not devices[0].startswith("cpu"):
        return None  # TPUs and Apple GPUs: not told here
    if precision == "float16":
        return f"{flag} on a CPU: {SLOWER['cpu', precision]}"
    model, flags = cpu_info()
    if flags is None:
        import platform

        return f"{flag}: this CPU's flags cannot be read on {platform.system()}, so whether it computes {precision} " \
               "natively, and faster than float32, is unknown"
    if flags & set(CPU_BFLOAT16):
        return None
    return f"{flag}: this CPU ({model or 'model unknown'}) has no {precision} arithmetic (none of " \
           f"{', '.join(CPU_BFLOAT16)} among its flags): {SLOWER['cpu', precision]}"


# ---- The data, --out and run.json --------------------------------------------------------------
def read_data(script, args):
    """The training images, from the script's load_data(args, path), else its load_real_samples(path),
    path being --data's .npz, a folder's images decoded once into one (image_folder.py), or None (Keras'
    download). ValueError of one line: --data missing, not an .npz with the script's DATA_KEYS, a folder
    without images (or without subfolders 0-9, where the script's data is labelled), less than a batch,
    or Keras' download failing (no network)."""
    path, folder = args.data, args.data is not None and os.path.isdir(args.data)
    if folder:
        import image_folder

        labels = script.optional("FOLDER_LABELS")
        path = image_folder.prepare(args.data, image_shape(script, args), labels=labels)
        with np.load(path) as data:
            if "y_train" in script.DATA_KEYS and labels == "digits" and (data["y_train"] < 0).all():
                raise ValueError(f"{args.data}: no subfolders named 0-9, whose names label the images for "
                                 f"{script.SCRIPT} (docs/your-own-images.md)")
    elif path is not None and not os.path.isfile(path):
        raise ValueError(f"{path}: no such data file")
    try:
        if path is not None:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in script.DATA_KEYS if key not in data.files]
            if missing:
                raise ValueError(f"{path}: no {missing[0]} array (it has: {', '.join(data.files)})")
        if script.optional("load_data") is not None:
            dataset = script.load_data(args, path)
        else:
            dataset = script.load_real_samples(path)
    except ValueError as err:
        raise ValueError(str(err).replace(path, args.data) if folder else str(err)) from None
    except Exception as err:  # zipfile, OSError, pickle: not a readable .npz; Keras' download raises Exception
        if path is not None:
            raise ValueError(f"{path}: not a readable .npz file ({err})") from None
        raise ValueError(f"could not download {script.DATASET} through Keras ({err}); give a local copy with "
                         "--data PATH")
    n = len(images_of(dataset))
    if n < args.batch_size:
        raise ValueError(f"{args.data}: {n} images, fewer than one batch of {args.batch_size}")
    return dataset


def images_of(dataset):
    """The training images of a script's data: the data itself, or a conditional GAN's [images, labels]'s first."""
    return dataset[0] if isinstance(dataset, (list, tuple)) else dataset


def image_shape(script, args):
    """The shape of the images the run's models take: the script's, at --image-size where it has that flag."""
    size = flag(args, "image_size")
    return (size, size, script.IMAGE_SHAPE[-1]) if size else tuple(script.IMAGE_SHAPE)


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


def write_run_info(script, out_dir, latent_dim, **settings):
    """run.json: how to sample the generators saved in out_dir (generate.py reads it)."""
    info = dict(script=script.SCRIPT, latent_dim=latent_dim, latent_distribution=script.LATENT_DISTRIBUTION,
                output_range=list(script.OUTPUT_RANGE), keras_version=keras.__version__,
                backend=keras.backend.backend())
    text = json.dumps(dict(info, **settings), indent=2) + "\n"
    save_atomically(os.path.join(out_dir, "run.json"), lambda tmp: open(tmp, "w", encoding="utf-8").write(text))


def resume_settings(args, dataset):
    """What --resume must find unchanged: every flag but RESUME_MAY_CHANGE's, and the data itself
    (a fingerprint of the training images, not the --data path)."""
    settings = {key: value for key, value in vars(args).items() if key not in RESUME_MAY_CHANGE}
    parts = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset]  # images, and labels if any
    n = len(parts[0])
    step = max(1, n // 4096)  # about 4,096 images: quick, and any other data set differs in them
    digest = hashlib.sha1()
    for part in parts:
        digest.update(np.ascontiguousarray(part[::step], dtype="float32").tobytes())
    settings["data"] = f"{n} images, sha1 {digest.hexdigest()[:16]}"
    return settings


# ---- Callbacks: checkpoint, progress bar, signals, collapse, TensorBoard ------------------------
class Checkpoint(keras.callbacks.Callback):
    """checkpoint.npz: every variable of both models (BatchNorm statistics, dropout seeds) and of
    both optimizers, the losses so far, the --eval-every scores and NumPy's random state. Written
    at the start and at each epoch's end, also when a callback stops the run, but only while the
    run looks healthy (no NaN, no collapse suspected): it is always the last good one."""

    def __init__(self, path, models, settings, guard, losses):
        super().__init__()
        self.path, self.models, self.settings, self.guard, self.losses = path, models, settings, guard, losses
        self.history, self.scores, self.saved_step = {name: [] for name in losses}, [], None

    def variables(self):
        g_model, d_model, gan_model = self.models
        for model in (d_model, gan_model):
            if not model.optimizer.built:  # it has not stepped yet
                model.optimizer.build(model.trainable_variables)
        listed = g_model.variables + d_model.variables
        seen = {id(v) for v in listed}  # the composite's own beyond them: a trained generator whose average is g_model
        own = [v for v in gan_model.variables if id(v) not in seen]
        return listed + d_model.optimizer.variables + gan_model.optimizer.variables + own

    def save(self):
        values = [keras.ops.convert_to_numpy(v) for v in self.variables()]
        rng = np.random.get_state()  # (name, keys, position, has_gauss, gauss)
        state = dict(step=len(self.history[self.losses[0]]), history=self.history, scores=self.scores,
                     diversity=self.guard.rows, settings=self.settings,
                     numpy_rng=[rng[0], int(rng[2]), int(rng[3]), float(rng[4])])
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
        self.guard.rows = [(*row, None)[:3] for row in state.get("diversity", [])]  # older: none, or no nearest
        folder = os.path.dirname(self.path) or "."
        for name in os.listdir(folder):  # temporary files of a run killed while saving
            if name.startswith(".") and ".partial." in name:
                os.remove(os.path.join(folder, name))

    def on_train_begin(self, logs=None):
        step, total = len(self.history[self.losses[0]]), self.params["total_steps"]
        folder = os.path.dirname(self.path)
        if self.saved_step is None:
            self.save()
        elif step >= total:
            print(f"the run in {folder} is already finished ({step} of {total} steps)")
        else:
            print(f"resuming the run in {folder} at step {step} of {total}")

    def on_epoch_end(self, epoch, logs=None):
        if np.isfinite(logs["loss"]) and not self.guard.suspected:
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


class Timer(keras.callbacks.Callback):
    """--save-every-minutes and --max-minutes, counted from this run's start of training (a resumed run starts
    again at 0): save(step) every `every` minutes, printing what it wrote; after `most` minutes the run stops as a
    signal stops it (the step ends, the checkpoint is written) and `expired` is set. Equal minutes, not equal steps:
    what benchmarks/minutes.py compares recipes by."""

    def __init__(self, save, every=None, most=None):
        super().__init__()
        self.save, self.every, self.most = save, every, most

    def on_train_begin(self, logs=None):
        self.start, self.marks, self.expired = time.monotonic(), 0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        minutes = (time.monotonic() - self.start) / 60
        if self.every and minutes >= (self.marks + 1) * self.every:
            self.marks = int(minutes / self.every + 1e-9)  # not //: 0.5 // 0.1 is 4
            step = self.epoch * self.params["steps"] + batch + 1
            print(f"minute {minutes:.2f}: the generator of step {step}: {self.save(step)}")
        if self.most and minutes >= self.most:
            self.expired = self.model.stop_training = True


class CollapseGuard(keras.callbacks.Callback):
    """A likely collapse, by any of three rules. The losses: `window` steps in a row that look collapsed (the
    script's looks_collapsed). The samples, given `samples` (SampleSpread), at `checks` epoch ends in a row once
    `window` steps are done: the generator's images of fixed latent points spread less than `diversity` times as
    far apart as real images do (one picture drawn over and over, which the losses do not show), or their
    nearest-neighbour ratio is under `nearest` times the real images' (a few pictures and blends of them). It is
    reported; with `stop` the run stops there, and main may restart it from the checkpoint. Each epoch end's two
    numbers go into the epoch's logs as "diversity" and "nearest" (TensorBoard's, History's) and into `rows`
    (diversity.csv in out_dir)."""

    def __init__(self, script, window=None, threshold=None, stop=True, samples=None, diversity=DIVERSITY,
                 nearest=NEAREST, checks=DIVERSITY_CHECKS, out_dir=None, augmented=False):
        super().__init__()
        script = Script(script)
        self.looks_collapsed, self.rule = script.looks_collapsed, script.COLLAPSE_RULE
        self.window = window or script.COLLAPSE_WINDOW
        self.threshold, self.stop = threshold or script.COLLAPSE_THRESHOLD, stop
        self.samples, self.diversity, self.nearest, self.checks = samples, diversity, nearest, checks
        self.out_dir, self.rows = out_dir, []
        # What to try, said when a samples rule fires: augmentation, unless the run has it already
        self.advice = ("see" if augmented else "try --augment,") + " docs/your-own-images.md"

    def on_train_begin(self, logs=None):
        self.streak, self.alike, self.few, self.collapsed = 0, 0, 0, False

    @property
    def suspected(self):
        """A rule has seen a collapse begin: the checkpoint keeps the last state before it."""
        return self.streak > 0 or self.alike > 0 or self.few > 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.streak = self.streak + 1 if self.looks_collapsed(logs, self.threshold) else 0
        if self.streak == self.window:
            step, rule = self.epoch * self.params["steps"] + batch + 1, self.rule.format(f"{self.threshold:g}")
            self.report(step, f"{rule} for {self.window} steps in a row")

    def on_epoch_end(self, epoch, logs=None):
        if self.samples is None or self.model.stop_training:
            return
        step = min((epoch + 1) * self.params["steps"], self.params["total_steps"])
        spread, nearest = self.samples.ratios()
        if logs is not None:
            logs["diversity"], logs["nearest"] = spread, nearest
        self.rows = [row for row in self.rows if row[0] < step] + [(step, spread, nearest)]  # a restart's steps again
        if self.out_dir:
            cell = lambda value: "" if value is None else f"{value:.4f}"  # noqa: E731 (an older checkpoint's row)
            text = "step,diversity,nearest\n" + "".join(f"{s},{cell(d)},{cell(n)}\n" for s, d, n in self.rows)
            save_atomically(os.path.join(self.out_dir, "diversity.csv"),
                            lambda tmp: open(tmp, "w", encoding="utf-8").write(text))
        counted = step >= self.window  # an untrained generator draws one picture too
        self.alike = self.alike + 1 if counted and spread < self.diversity else 0  # 0: never
        self.few = self.few + 1 if counted and nearest < self.nearest else 0
        if self.alike == self.checks:
            self.report(step, f"the samples look alike: {spread:.3f} of the real images' spread, under "
                              f"{self.diversity:g} at {self.checks} epoch ends in a row; {self.advice}")
        elif self.few == self.checks:
            self.report(step, f"the samples look like a few pictures and blends of them: each one's nearest other "
                              f"sample, against their spread, is {nearest:.3f} as far as among real images, under "
                              f"{self.nearest:g} at {self.checks} epoch ends in a row; {self.advice}")

    def report(self, step, what):
        print(f"step {step}: likely collapse ({what})")
        if self.stop:
            self.collapsed = self.model.stop_training = True


class SampleSpread:
    """The generator's images of fixed latent points z against real images (n of them, drawn aside from training's
    random state), by sample_measures.py: how far apart they lie (sample_spread: a healthy generator's samples about
    as far as the data's, a collapsed one's near 0) and how near each lies to its nearest other (nearest_ratio: about
    the data's, or far under it for a few pictures and blends of them)."""

    def __init__(self, g_model, z, images, n=100):
        self.g_model, self.z = g_model, z
        pick = np.random.default_rng(0).choice(len(images), min(n, len(images)), replace=False)
        real = np.asarray(images[np.sort(pick)], "float32")
        self.real, self.real_nearest = sample_spread(real), nearest_ratio(real)

    def ratios(self):
        """The samples' spread and nearest-neighbour ratio, each over the real images' (1.0 where theirs is 0:
        data of one picture, which drawing is right)."""
        images = np.asarray(self.g_model.predict_on_batch(self.z), "float32")
        spread, nearest = sample_spread(images), nearest_ratio(images)
        return (float(spread / self.real) if self.real > 0 else 1.0,
                nearest / self.real_nearest if self.real_nearest > 0 else 1.0)


# ---- --augment: DiffAugment in front of the discriminator (augmentation.py) ----------------------
def augmented(script, models, policy):
    """The run's models with the discriminator Augmented, and the composite model built on it (define_gan)."""
    g_model, d_model, _ = models
    d_model = Augmented(d_model, policy)
    return g_model, d_model, script.define_gan(g_model, d_model)


def fixed_latent_points(script, args, n=100):
    """n latent points drawn as training draws its own (the script's latent_points, or generate_latent_points),
    from seed 0, leaving its random state alone."""
    rng = np.random.get_state()
    np.random.seed(0)
    draw = script.optional("latent_points")
    z = draw(args, n) if draw is not None else script.generate_latent_points(args.latent_dim, n)
    np.random.set_state(rng)
    return z


class TensorBoard(keras.callbacks.TensorBoard):
    """--tensorboard DIR: Keras' TensorBoard callback with every step's losses, counted from the
    run's start also after --resume, and after each epoch the generator's samples of fixed latent
    points z as one grid (its images in value_range; grey reversed or not, as the grids), so that one watches
    the same samples improve."""

    def __init__(self, log_dir, g_model, z, value_range=OUTPUT_RANGE, reverse_grey=True):
        super().__init__(log_dir, update_freq="batch", write_graph=False)
        self.g_model, self.z, self.value_range, self.reverse_grey = g_model, z, value_range, reverse_grey

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        super().on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch = self.epoch * self.params["steps"] + batch  # Keras counts from 0 in each call
        super().on_train_batch_begin(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if not self.model.stop_training:
            pixels = grid_pixels(np.asarray(self.g_model.predict_on_batch(self.z)), self.value_range,
                                 reverse_grey=self.reverse_grey)
            image = pixels.reshape((1, *pixels.shape[:2], -1))  # batch, height, width, channels
            with self._train_writer.as_default():
                self.summary.image("generated", image, step=self._global_train_batch)


# ---- What the tutorials call: per_batch, files written whole, the grid (the scripts keep copies) ----
def per_batch(model):
    """The model, running means reset where train_on_batch gives the mean since compile: Keras < 3.15 (keras#22596)."""
    if tuple(int(part) for part in keras.__version__.split(".")[:2]) < (3, 15):
        model.reset_metrics()
    return model


def save_model(model, path):
    """model.save() through a temporary name, without the notice Keras gives on each .h5 save (it calls it legacy)."""
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        save_atomically(path, model.save)
    finally:
        absl_log.setLevel(level)


