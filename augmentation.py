"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020;
mit-han-lab/data-efficient-gans), for any script: the layer, its policy, and a discriminator with it in front.
gan_runner.py's --augment puts it in front of a script's discriminator (Augmented); diffaugment_gan.py, which
augments by default, keeps a copy of the layer (tools/check_copies.py). It imports Keras and nothing of the project.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import keras

AUGMENTATIONS = ("color", "translation", "cutout")  # its policy's parts, in the order its reference code applies them


def augment_policy(text):
    """--augment's value: some of AUGMENTATIONS, comma-separated, returned in their order."""
    parts = {part.strip() for part in text.split(",")} - {""}
    unknown = sorted(parts - set(AUGMENTATIONS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"{unknown[0] if unknown else repr(text)}: choose from "
                                         f"{', '.join(AUGMENTATIONS)} (comma-separated), or give --augment alone")
    return ",".join(part for part in AUGMENTATIONS if part in parts)


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


class Augmented(keras.Model):
    """--augment: the discriminator (or critic) with DiffAugment in front, compiled as it was (its loss, its
    optimizer, its metrics). It takes the discriminator's place in the run, so every update augments every image
    the discriminator sees: real ones in its own update, generated ones in its update on them and in the
    generator's through the composite model, which sees the augmentation's gradient (DiffAugment's point). In
    inference (the accuracy reports) images pass unchanged; saving it saves the discriminator alone, which loads
    with plain keras.models.load_model."""

    def __init__(self, discriminator, policy):
        inputs = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in discriminator.inputs]  # the image first
        x = [DiffAugment(policy, name="diff_augment")(inputs[0])] + inputs[1:]  # (a conditional GAN's label: as it is)
        super().__init__(inputs=inputs if len(inputs) > 1 else inputs[0],
                         outputs=discriminator(x if len(x) > 1 else x[0]), name=f"{discriminator.name}_augmented")
        self.discriminator = discriminator
        metrics = keras.saving.deserialize_keras_object(discriminator.get_compile_config().get("metrics"))  # new ones
        self.compile(loss=discriminator.loss, optimizer=discriminator.optimizer, metrics=metrics)

    def save(self, *args, **kwargs):
        return self.discriminator.save(*args, **kwargs)
