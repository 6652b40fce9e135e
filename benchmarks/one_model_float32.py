"""A script's run with one of its models built in float32, whatever --mixed-precision says: to find
which model's reduced precision changes a run's quality (the README's WGAN bfloat16 question).

    python benchmarks/one_model_float32.py wgan_mnist7 define_critic --mixed-precision bfloat16 \
        --data ../shared/data/mnist.npz --out runs/critic32_s1 --seed 1

The first argument names the script, the second the function that builds the model to keep in
float32 (define_critic, define_discriminator or define_generator); the rest are the script's own
flags. An experiment, not a feature: the run's run.json says only the --mixed-precision given.
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras


def in_float32(build):
    def build_in_float32(*args, **kwargs):
        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32")
        try:
            return build(*args, **kwargs)
        finally:
            keras.config.set_dtype_policy(policy)

    return build_in_float32


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: one_model_float32.py SCRIPT FUNCTION [the script's flags]")
    script = importlib.import_module(sys.argv[1].removesuffix(".py"))
    if not callable(getattr(script, sys.argv[2], None)):
        sys.exit(f"one_model_float32.py: error: {sys.argv[1]} has no function {sys.argv[2]}")
    setattr(script, sys.argv[2], in_float32(getattr(script, sys.argv[2])))  # main() looks it up by name
    sys.exit(script.main(sys.argv[3:]))
