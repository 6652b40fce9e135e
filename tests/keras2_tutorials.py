"""The four tutorials' generators as their readers have them: defined with Keras 2 (the tf_keras
package) in the tutorials' own style (input_dim= on the first layer, LeakyReLU(alpha=0.2), tuple
kernel sizes), given weights that are not the initial ones, saved to .h5 by Keras 2, with Keras 2's
own prediction for fixed latent points beside each file.

    python tests/keras2_tutorials.py OUT_DIR     # OUT_DIR/<name>.h5 and OUT_DIR/<name>.npz (z, images)

Run in a process of its own: tf_keras is Keras 2, and this suite's own process imports Keras 3.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tf_keras as keras2
from tf_keras.initializers import RandomNormal
from tf_keras.layers import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, LeakyReLU,
                             Reshape, UpSampling2D)
from tf_keras.models import Sequential


def lsgan_generator(latent_dim=100):
    init = RandomNormal(stddev=0.02)
    model = Sequential()
    model.add(Dense(256 * 7 * 7, kernel_initializer=init, input_dim=latent_dim))
    model.add(BatchNormalization())
    model.add(Activation("relu"))
    model.add(Reshape((7, 7, 256)))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init))
    model.add(BatchNormalization())
    model.add(Activation("relu"))
    model.add(Conv2DTranspose(64, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init))
    model.add(BatchNormalization())
    model.add(Activation("relu"))
    model.add(Conv2D(1, (7, 7), padding="same", kernel_initializer=init))
    model.add(Activation("tanh"))
    return model


def wgan_generator(latent_dim=50):
    init = RandomNormal(stddev=0.02)
    model = Sequential()
    model.add(Dense(128 * 7 * 7, kernel_initializer=init, input_dim=latent_dim))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Reshape((7, 7, 128)))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init))
    model.add(BatchNormalization())
    model.add(LeakyReLU(alpha=0.2))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init))
    model.add(BatchNormalization())
    model.add(LeakyReLU(alpha=0.2))
    model.add(Conv2D(1, (7, 7), activation="tanh", padding="same", kernel_initializer=init))
    return model


def dcgan_mnist_generator(latent_dim=100):
    model = Sequential()
    model.add(Dense(7 * 7 * 256, input_dim=latent_dim))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Activation("relu"))
    model.add(Reshape((7, 7, 256)))
    model.add(Dropout(0.4))
    model.add(UpSampling2D())
    model.add(Conv2DTranspose(128, 5, padding="same"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Activation("relu"))
    model.add(UpSampling2D())
    model.add(Conv2DTranspose(64, 5, padding="same"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Activation("relu"))
    model.add(Conv2DTranspose(32, 5, padding="same"))
    model.add(BatchNormalization(momentum=0.9))
    model.add(Activation("relu"))
    model.add(Conv2DTranspose(1, 5, padding="same"))
    model.add(Activation("sigmoid"))
    return model


def dcgan_cifar10_generator(latent_dim=100):
    model = Sequential()
    model.add(Dense(256 * 4 * 4, input_dim=latent_dim))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Reshape((4, 4, 256)))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Conv2D(3, (3, 3), activation="tanh", padding="same"))
    return model


# The tutorials' file names for their saved generators.
TUTORIALS = {
    "model_018740": lsgan_generator,
    "generator_model_0970": wgan_generator,
    "dcgan_mnist_generator": dcgan_mnist_generator,
    "generator_model_200": dcgan_cifar10_generator,
}


def trained_like(model, seed):
    """Every weight moved off its initial value, BatchNorm's moving statistics included (as a trained
    model's are), so that a loader that skipped or misplaced any weight draws other images."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1 and np.all(w == 1.0):  # gamma or moving variance: stay positive
            weights.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
        else:
            weights.append((w + rng.normal(0.0, 0.05, w.shape)).astype(w.dtype))
    model.set_weights(weights)


def main(out_dir):
    keras2.utils.set_random_seed(0)
    for k, (name, define) in enumerate(TUTORIALS.items()):
        model = define()
        trained_like(model, k)
        model.save(os.path.join(out_dir, name + ".h5"))
        z = np.random.default_rng(k).standard_normal((16, model.input_shape[-1])).astype("float32")
        np.savez(os.path.join(out_dir, name + ".npz"), z=z, images=model.predict(z, verbose=0),
                 keras_version=keras2.__version__)


if __name__ == "__main__":
    main(sys.argv[1])
