"""Steps per second of a training loop on synthetic data, warm-up excluded.

    python benchmarks/speed.py                         # LSGAN, batch 64, current backend
    python benchmarks/speed.py --script wgan_mnist7    # a step = 5 critic rounds + 1 generator update
    KERAS_BACKEND=jax python benchmarks/speed.py --steps 200

A step is the script's own train_step(), the call its train() makes once per step;
the per-epoch grid and checkpoint are left out. A benchmark, not a test.
"""

import argparse
import importlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import keras

SCRIPTS = ("lsgan_mnist", "wgan_mnist7")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--script", choices=SCRIPTS, default="lsgan_mnist")
    p.add_argument("--steps", type=int, default=50, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=100)
    a = p.parse_args()
    m = importlib.import_module(a.script)
    keras.utils.set_random_seed(0)
    d_model = (getattr(m, "define_critic", None) or m.define_discriminator)()
    g_model = m.define_generator(a.latent_dim)
    gan_model = m.define_gan(g_model, d_model)
    dataset = np.random.uniform(-1, 1, (2048,) + m.IMAGE_SHAPE).astype("float32")

    def step():
        m.train_step(g_model, d_model, gan_model, dataset, a.latent_dim, a.batch_size)

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
