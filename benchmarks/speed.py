"""Steps per second of a training loop on synthetic data, warm-up excluded.

    python benchmarks/speed.py                         # LSGAN, batch 64, current backend
    python benchmarks/speed.py --script wgan_mnist7    # a step = 5 critic rounds + 1 generator update
    python benchmarks/speed.py --script dcgan_mnist --steps 5   # batch 256: slow on a CPU
    KERAS_BACKEND=jax python benchmarks/speed.py --steps 200

A step is the script's own train_step(), the call its train() makes once per step;
the per-epoch grid and checkpoint are left out. A benchmark, not a test.
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

SCRIPTS = ("lsgan_mnist", "wgan_mnist7", "dcgan_mnist", "dcgan_cifar10")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--script", choices=SCRIPTS, default="lsgan_mnist")
    p.add_argument("--steps", type=int, default=50, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the script's N_BATCH")
    p.add_argument("--latent-dim", type=int, default=100)
    a = p.parse_args()
    m = importlib.import_module(a.script)
    a.batch_size = a.batch_size or m.N_BATCH
    keras.utils.set_random_seed(0)
    d_model = (getattr(m, "define_critic", None) or m.define_discriminator)()
    g_model = m.define_generator(a.latent_dim)
    gan_model = m.define_gan(g_model, d_model)
    d_fake_model = m.define_discriminator_on_fakes(g_model, d_model)
    dataset = np.random.uniform(-1, 1, (2048,) + m.IMAGE_SHAPE).astype("float32")
    models = dict(d_model=d_model, c_model=d_model, d_fake_model=d_fake_model, c_fake_model=d_fake_model, gan_model=gan_model)
    step_models = [models[name] for name in inspect.signature(m.train_step).parameters if name in models]

    def step():
        m.train_step(*step_models, dataset, a.latent_dim, a.batch_size)

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(f"{a.script} backend={keras.backend.backend()} batch={a.batch_size}: "
          f"{a.steps / seconds:.2f} steps/s ({1000 * seconds / a.steps:.0f} ms/step over {a.steps} steps)")


if __name__ == "__main__":
    main()
