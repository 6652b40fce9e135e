"""A script's training step against the tutorial's loop, timed in one run: the ratio is the result.

    python benchmarks/speed.py                                   # LSGAN, batch 64, float32
    python benchmarks/speed.py --mixed-precision bfloat16        # the step in bfloat16
    python benchmarks/speed.py --script wgan_mnist7 --steps 10   # a step: 5 critic rounds + 1 generator update
    KERAS_BACKEND=jax python benchmarks/speed.py --steps 200     # on a GPU
    python benchmarks/speed.py --all                             # the GPU report: every script, every precision
    python benchmarks/speed.py --all --smoke                     # the same in seconds (the tests run it)
    python benchmarks/speed.py --script dcgan_cifar10 --augment  # and train_step() with --augment, in the same run
    python benchmarks/speed.py --per-image 64                    # a folder's scripts at 64x64: ms a real image seen

Both loops train the script's own models, on the same synthetic data at the same batch size:
- the tutorial's loop as written for Keras 2, made to train on Keras 3 (the discriminator's
  trainable flag set before its updates and cleared before the composite model's, which is
  built frozen as in the tutorial), generated images through predict(), in float32;
- the script's train_step(), the call its train() makes each step, under --mixed-precision.
Each is warmed up (compilation) untimed, then timed in --rounds alternating blocks of --steps;
the median block is reported, so that a slow moment of the machine hits both alike.
--all times every script's tutorial loop and its train_step() in float32, bfloat16 and float16
(alternating the four), and prints the machine's device line and one markdown table of ms/step
and ratios. A benchmark, not a test; --smoke runs it at a tiny size so that it cannot rot.
"""

import argparse
import importlib
import inspect
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import keras

import gan_runner
from gan_runner import PRECISIONS

SCRIPTS = ("lsgan_mnist", "wgan_mnist7", "dcgan_mnist", "dcgan_cifar10")


def build(m, latent_dim, policy):
    """The script's discriminator (or critic), generator and composite model, built in `policy`."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        d_model = (getattr(m, "define_critic", None) or m.define_discriminator)()
        g_model = m.define_generator(latent_dim)
        return d_model, g_model, m.define_gan(g_model, d_model)
    finally:
        keras.config.set_dtype_policy(previous)


def tutorial_loop(m, latent_dim, dataset, n_batch):
    """One step of the tutorial's loop, made to train: returns a function that runs it."""
    d_model, g_model, ours = build(m, latent_dim, "float32")
    d_model.trainable = False  # the tutorial's define_gan: freeze, then compile the composite model
    gan_model = keras.Sequential([g_model, d_model])
    gan_model.compile(loss=ours.loss, optimizer=ours.optimizer.__class__.from_config(ours.optimizer.get_config()))
    one_batch = m.__name__ == "dcgan_mnist"  # real and generated images in one batch, as that tutorial did
    half = n_batch if one_batch else n_batch // 2
    fake = np.full((half, 1), m.FAKE_LABEL, "float32")

    def step():
        d_model.trainable = True  # the toggle that makes the discriminator train
        for _ in range(getattr(m, "N_CRITIC", 1)):
            X_real, y_real = m.generate_real_samples(dataset, half)
            X_fake = g_model.predict(m.generate_latent_points(latent_dim, half), verbose=0)
            if one_batch:
                d_model.train_on_batch(np.concatenate([X_real, X_fake]), np.concatenate([y_real, fake]))
            else:
                d_model.train_on_batch(X_real, y_real)
                d_model.train_on_batch(X_fake, fake)
        d_model.trainable = False
        z = m.generate_latent_points(latent_dim, n_batch)
        gan_model.train_on_batch(z, np.full((n_batch, 1), m.REAL_LABEL, "float32"))

    return step


def project_step(m, latent_dim, dataset, n_batch, policy, augment=None):
    """One call of the script's own train_step(), on models built in `policy` (with --augment's, as a run's)."""
    d_model, g_model, gan_model = build(m, latent_dim, policy)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        if augment:
            g_model, d_model, gan_model = gan_runner.augmented(m, (g_model, d_model, gan_model), augment)
        d_fake_model = m.define_discriminator_on_fakes(g_model, d_model)
    finally:
        keras.config.set_dtype_policy(previous)
    models = dict(d_model=d_model, c_model=d_model, d_fake_model=d_fake_model, c_fake_model=d_fake_model,
                  gan_model=gan_model)
    step_models = [models[name] for name in inspect.signature(m.train_step).parameters if name in models]
    return lambda: m.train_step(*step_models, dataset, latent_dim, n_batch)


def seconds_per_step(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def time_loops(loops, steps, rounds, warmup):
    """{name: median ms per step} of loops {name: step}, warmed up, then timed in alternating rounds."""
    for step in loops.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in loops}
    for _ in range(rounds):
        for name, step in loops.items():
            times[name].append(seconds_per_step(step, steps))
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def synthetic_data(m, n=2048):
    lo, hi = m.OUTPUT_RANGE
    return np.random.uniform(lo, hi, (n,) + m.IMAGE_SHAPE).astype("float32")


def device_line():
    """The backend, the device a script trains on (a CPU by its model and the flags that decide each precision's
    speed), and Keras."""
    device = gan_runner.local_devices()[0]
    if device.startswith("cpu"):
        device += f" ({gan_runner.cpu_description()})"
    elif device.startswith("gpu") and gan_runner.gpu_capability():
        name, capability = gan_runner.gpu_capability()
        device += f" ({name}, compute capability {'%d.%d' % capability})"
    return f"{keras.backend.backend()} on {device}, Keras {keras.__version__}"


def report(a):
    """--all: one markdown table, every script, the tutorial's loop against train_step() in each precision."""
    print(f"Device: {device_line()}; median of {a.rounds} rounds of {a.steps} steps, after {a.warmup} untimed")
    print()
    print("| script | batch | tutorial loop, float32 | train_step float32 | train_step bfloat16 | train_step float16 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in SCRIPTS:
        m = importlib.import_module(name)
        n_batch = a.batch_size or m.N_BATCH
        keras.utils.set_random_seed(0)
        dataset = synthetic_data(m, a.data_size)
        loops = {"tutorial": tutorial_loop(m, a.latent_dim, dataset, n_batch)}
        for precision, policy in PRECISIONS.items():
            loops[precision] = project_step(m, a.latent_dim, dataset, n_batch, policy)
        ms = time_loops(loops, a.steps, a.rounds, a.warmup)
        cells = [f"{ms[p]:.1f} ms ({ms['tutorial'] / ms[p]:.2f}x)" for p in PRECISIONS]
        print(f"| {name} | {n_batch} | {ms['tutorial']:.1f} ms | " + " | ".join(cells) + " |", flush=True)
    print()
    print("ms per step (a WGAN step: 5 critic rounds and 1 generator update); in brackets, the tutorial's "
          "time over train_step()'s: above 1 is faster than the tutorial")


def per_image(a):
    """--per-image SIZE: the steps of the scripts for a folder at SIZExSIZE, in one run: diffaugment_gan.py's
    train_step() with its defaults, dcgan_cifar10.py's with the tutorial's models and (at 64) the DCGAN paper's, each
    at its default batch; ms a step and ms a real image seen (a step's real images: the batch for
    diffaugment_gan.py, half of it for dcgan_cifar10.py), which is what a minute's training buys."""
    import argparse as flags

    import dcgan_cifar10
    import diffaugment_gan

    size = a.per_image
    dataset = np.random.uniform(-1, 1, (a.data_size, size, size, 3)).astype("float32")
    loops, seen = {}, {}
    models = {"dcgan_cifar10, the tutorial's models": (dcgan_cifar10.define_discriminator((size, size, 3)),
                                                      dcgan_cifar10.define_generator(100, image_size=size))}
    if size == 64:
        import dcgan_paper_models

        models["dcgan_cifar10 --models dcgan-paper"] = dcgan_paper_models.define_models(flags.Namespace(
            image_size=64, batchnorm="none", upsampling=False, latent_dim=100))

    def dcgan_step(d_model, g_model, n_batch):
        fakes, gan = dcgan_cifar10.define_discriminator_on_fakes(g_model, d_model), dcgan_cifar10.define_gan(g_model,
                                                                                                           d_model)
        return lambda: dcgan_cifar10.train_step(d_model, fakes, gan, dataset, 100, n_batch)

    n_batch = a.batch_size or dcgan_cifar10.N_BATCH
    for name, (d_model, g_model) in models.items():
        loops[name], seen[name] = dcgan_step(d_model, g_model, n_batch), n_batch // 2
    m, n_batch = diffaugment_gan, a.batch_size or diffaugment_gan.N_BATCH
    d_model, g_model = m.define_discriminator((size, size, 3)), m.define_generator(m.LATENT_DIM, size)
    gan_model = m.define_gan(g_model, d_model)
    update, average = m.define_discriminator_update(g_model, d_model), m.define_average(g_model)
    loops["diffaugment_gan"] = lambda: m.train_step(update, gan_model, average, dataset, m.LATENT_DIM, n_batch)
    seen["diffaugment_gan"] = n_batch
    ms = time_loops(loops, a.steps, a.rounds, a.warmup)
    print(f"Device: {device_line()}; {size}x{size}, median of {a.rounds} rounds of {a.steps} steps, after {a.warmup} "
          "untimed")
    print()
    print("| script | real images a step | ms a step | ms a real image seen |")
    print("| --- | --- | --- | --- |")
    for name in loops:
        print(f"| {name} | {seen[name]} | {ms[name]:.1f} | {ms[name] / seen[name]:.2f} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--script", choices=SCRIPTS, default="lsgan_mnist")
    p.add_argument("--mixed-precision", choices=PRECISIONS, default="off", help="the policy of the script's step")
    p.add_argument("--steps", type=int, default=20, help="timed steps of each loop in a round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps of each loop first (compilation)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the script's N_BATCH")
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--all", action="store_true", help="every script, float32, bfloat16 and float16, as one table")
    p.add_argument("--augment", nargs="?", type=gan_runner.augment_policy, const=",".join(gan_runner.AUGMENTATIONS),
                   default=None, metavar="PARTS", help="also time train_step() with --augment PARTS (bare: all three)")
    p.add_argument("--per-image", type=int, choices=(32, 64, 128), default=None, metavar="SIZE",
                   help="instead: the folder scripts' steps at SIZExSIZE (diffaugment_gan, dcgan_cifar10), ms an image")
    p.add_argument("--smoke", action="store_true",
                   help="a tiny run (1 step after 1 untimed, batch 4) that only shows it works")
    a = p.parse_args(argv)
    a.data_size = 2048
    if a.smoke:
        a.steps, a.rounds, a.warmup, a.batch_size, a.data_size = 1, 1, 1, a.batch_size or 4, 32
    if a.all:
        return report(a)
    if a.per_image:
        return per_image(a)
    m = importlib.import_module(a.script)
    n_batch = a.batch_size or m.N_BATCH
    keras.utils.set_random_seed(0)
    dataset = synthetic_data(m, a.data_size)
    loops = {"tutorial": tutorial_loop(m, a.latent_dim, dataset, n_batch),
             "project": project_step(m, a.latent_dim, dataset, n_batch, PRECISIONS[a.mixed_precision])}
    if a.augment:
        loops["augmented"] = project_step(m, a.latent_dim, dataset, n_batch, PRECISIONS[a.mixed_precision], a.augment)
    ms = time_loops(loops, a.steps, a.rounds, a.warmup)
    tutorial, project = ms["tutorial"], ms["project"]
    print(f"Device: {device_line()}")
    print(f"{a.script}, batch {n_batch}, median of {a.rounds} rounds of {a.steps} steps:")
    print(f"  the tutorial's loop (float32, trainable toggled, predict()):  {tutorial:8.1f} ms/step")
    print(f"  train_step(), {a.mixed_precision if a.mixed_precision != 'off' else 'float32':8s}                        "
          f"     {project:8.1f} ms/step")
    print(f"  {tutorial / project:.2f}x the tutorial's speed")
    if a.augment:
        print(f"  train_step() with --augment {a.augment}: {ms['augmented']:8.1f} ms/step, "
              f"{100 * (ms['augmented'] / project - 1):+.1f}% against train_step() without")


if __name__ == "__main__":
    main()
