"""keras-io's "Data-efficient GANs with Adaptive Discriminator Augmentation" (examples/generative/gan_ada.py, András
Béres, 2021) in its published configuration, retyped for Keras 3: a peer that benchmarks/minutes.py compares the
collection's recipes with. Not one of the collection's scripts: like its original, its training step is
TensorFlow's (one GradientTape, both gradients from one generator pass), so it runs under KERAS_BACKEND=tensorflow
only. It hands itself to gan_runner.py, so it takes the same --data, --seed, --out and minute flags and saves
generators that generate.py and evaluate.py read.

    python benchmarks/gan_ada.py --data ../shared/data/twemoji64 --max-minutes 15 --save-every-minutes 5

What is the original's, unchanged: its models (DCGAN-like, width 128, depth 4, BatchNorm without scale, no biases,
dropout 0.4, a sigmoid generator in [0, 1], Keras' default initialisers), its non-saturating loss from logits,
batch 128, Adam(2e-4, beta_1 0.5) for both, EMA 0.99 of every generator weight, ADA (flip, translation 0.125,
rotation 0.125, zoom 0.25, each image augmented with probability p, p integrated towards a real accuracy of 0.8 over
1,000 steps), its 64-value latent. What differs: the data is a folder at 64x64 (resized with antialiasing by
image_folder.py, not bounding-box crops of birds), no KID during training, Keras 3's layer names.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # gan_runner.py, beside the scripts

import numpy as np
import keras
import tensorflow as tf
from keras import layers

import gan_runner

SCRIPT, ABOUT = "benchmarks/gan_ada.py", "keras-io's gan_ada configuration, retyped for Keras 3 (a benchmark peer)."
OUT_DIR, DATASET, DATA_KEYS = os.path.join("runs", "gan_ada"), "a folder (--data)", ("x_train",)
LATENT_DIM, LATENT_DISTRIBUTION, OUTPUT_RANGE, IMAGE_SHAPE = 64, "normal", (0.0, 1.0), (64, 64, 3)
LOSSES, GREY_REVERSED = ("d", "g"), False
COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "the discriminator's loss below {}"
EVAL_UNIT, EVAL_SAMPLES, EVAL_METRIC = "epochs", 2000, "InceptionV3 KID against the folder"
WIDTH, DEPTH, DROPOUT, LEARNING_RATE, BETA_1, EMA = 128, 4, 0.4, 2e-4, 0.5, 0.99
MAX_TRANSLATION, MAX_ROTATION, MAX_ZOOM, TARGET_ACCURACY, INTEGRATION_STEPS = 0.125, 0.125, 0.25, 0.8, 1000


def get_generator():
    z = keras.Input(shape=(LATENT_DIM,))
    x = layers.Dense(4 * 4 * WIDTH, use_bias=False)(z)
    x = layers.ReLU()(layers.BatchNormalization(scale=False)(x))
    x = layers.Reshape((4, 4, WIDTH))(x)
    for _ in range(DEPTH - 1):
        x = layers.Conv2DTranspose(WIDTH, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(scale=False)(x))
    image = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid")(x)
    return keras.Model(z, image, name="generator")


def get_discriminator():
    image = keras.Input(shape=IMAGE_SHAPE)
    x = image
    for _ in range(DEPTH):
        x = layers.Conv2D(WIDTH, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.LeakyReLU(negative_slope=0.2)(layers.BatchNormalization(scale=False)(x))
    score = layers.Dense(1)(layers.Dropout(DROPOUT)(layers.Flatten()(x)))
    model = keras.Model(image, score, name="discriminator")
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1))
    return model


class AdaptiveAugmenter(keras.Model):
    """Each image, with probability p, flipped, translated, rotated and zoomed; p follows the real accuracy."""

    def __init__(self):
        super().__init__(name="adaptive_augmenter")
        self.probability = self.add_weight(shape=(), initializer="zeros", trainable=False, name="probability")
        self.augmenter = keras.Sequential([
            keras.Input(shape=IMAGE_SHAPE), layers.RandomFlip("horizontal"),
            layers.RandomTranslation(MAX_TRANSLATION, MAX_TRANSLATION, interpolation="nearest"),
            layers.RandomRotation(MAX_ROTATION), layers.RandomZoom((-MAX_ZOOM, 0.0), (-MAX_ZOOM, 0.0))])

    def call(self, images, training=False):
        if not training:
            return images
        chosen = tf.random.uniform((tf.shape(images)[0], 1, 1, 1)) < self.probability
        return tf.where(chosen, self.augmenter(images, training=True), images)

    def update(self, real_logits):
        accuracy = tf.reduce_mean(0.5 * (1.0 + tf.sign(real_logits)))
        self.probability.assign(tf.clip_by_value(self.probability + (accuracy - TARGET_ACCURACY) / INTEGRATION_STEPS,
                                                 0.0, 1.0))


class GAN_ADA(keras.Model):
    """The original's train_step: one generator pass, both losses, both updates, then p and the average."""

    def __init__(self, generator, ema_generator, discriminator):
        super().__init__(name="gan_ada")
        self.generator, self.ema_generator, self.discriminator = generator, ema_generator, discriminator
        self.augmenter = AdaptiveAugmenter()

    def train_step(self, data):
        real_images = self.augmenter(data[0] if isinstance(data, tuple) else data, training=True)
        n = tf.shape(real_images)[0]
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        with tf.GradientTape(persistent=True) as tape:
            generated = self.augmenter(self.generator(tf.random.normal((n, LATENT_DIM)), training=True), training=True)
            real_logits = self.discriminator(real_images, training=True)
            generated_logits = self.discriminator(generated, training=True)
            g_loss = bce(tf.ones_like(generated_logits), generated_logits)
            d_loss = bce(tf.concat([tf.ones_like(real_logits), tf.zeros_like(generated_logits)], 0),
                         tf.concat([real_logits, generated_logits], 0))
        self.optimizer.apply_gradients(zip(tape.gradient(g_loss, self.generator.trainable_weights),
                                           self.generator.trainable_weights))
        d_weights = self.discriminator.trainable_weights
        self.discriminator.optimizer.apply_gradients(zip(tape.gradient(d_loss, d_weights), d_weights))
        self.augmenter.update(real_logits)
        for weight, ema_weight in zip(self.generator.weights, self.ema_generator.weights):
            ema_weight.assign(EMA * ema_weight + (1 - EMA) * weight)
        return {"d": d_loss, "g": g_loss}


def define_gan(g_model, d_model):
    raise ValueError("--augment: gan_ada augments by itself (ADA)")


def define_run(args):
    if keras.backend.backend() != "tensorflow":
        raise ValueError("benchmarks/gan_ada.py: its training step is TensorFlow's: run with KERAS_BACKEND=tensorflow")
    generator, discriminator = get_generator(), get_discriminator()
    ema_generator = keras.models.clone_model(generator)
    ema_generator.set_weights(generator.get_weights())
    gan = GAN_ADA(generator, ema_generator, discriminator)
    gan.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1))
    gan.optimizer.build(generator.trainable_weights)
    return (ema_generator, discriminator, gan), dict(n_epochs=args.epochs, n_batch=args.batch_size)


def train(ema_generator, discriminator, gan, dataset, latent_dim, n_epochs=1000, n_batch=128, callbacks=None,
          history=None, out_dir=".", verbose="auto"):
    steps = len(dataset) // n_batch
    callbacks = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=gan,
                                             verbose=verbose, epochs=n_epochs, steps=steps, total_steps=steps * n_epochs)
    gan.stop_training = False
    callbacks.on_train_begin()
    try:
        step = len(history["g"])
        while step < steps * n_epochs and not gan.stop_training:
            epoch = step // steps
            callbacks.on_epoch_begin(epoch)
            order = np.random.permutation(len(dataset))  # the original's shuffled batches, without replacement
            for batch in range(step % steps, steps):
                callbacks.on_train_batch_begin(batch)
                logs = {k: float(v) for k, v in gan.train_on_batch(dataset[order[batch * n_batch:(batch + 1) * n_batch]],
                                                                   return_dict=True).items() if k in LOSSES}
                for name in LOSSES:
                    history[name].append(logs[name])
                step += 1
                callbacks.on_train_batch_end(batch, dict(logs, loss=sum(logs.values())))
                if gan.stop_training:
                    break
            callbacks.on_epoch_end(epoch, dict(logs, loss=sum(logs.values())))
    finally:
        callbacks.on_train_end()
    return history


def load_real_samples(path):
    with np.load(path) as data:
        return np.asarray(data["x_train"], "float32") / 255.0


def generate_latent_points(latent_dim, n):
    return np.random.randn(n, latent_dim).astype("float32")


def looks_collapsed(logs, threshold):
    return logs["d"] < threshold


def define_scorer(args):
    raise ValueError("--eval-every: give --data FOLDER")


def add_flags(p):
    p.add_argument("--epochs", type=gan_runner.positive, default=10, help="the original's 10")
    p.add_argument("--batch-size", type=gan_runner.positive, default=128)


if __name__ == "__main__":
    sys.exit(gan_runner.main(globals()))
