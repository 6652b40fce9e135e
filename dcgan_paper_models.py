"""The DCGAN paper's 64x64 models (Radford et al. 2016), as pytorch/examples' dcgan/main.py builds them.

Not a script and not the tutorial's models: `dcgan_cifar10.py --image-size 64 --models dcgan-paper` trains them
with its own loop, losses and flags, in place of the tutorial's (docs/dcgan_cifar10.md). What makes them the
paper's: 4x4 kernels, BatchNorm in both models but the discriminator's first layer and the generator's last, ReLU
in the generator and LeakyReLU(0.2) in the discriminator, no dense layer and no biases, kernels drawn from
N(0, 0.02) and BatchNorm's gammas from N(1, 0.02), BatchNorm's momentum and epsilon as PyTorch's (0.1 and 1e-5,
which Keras writes 0.9 and 1e-5), Adam(0.0002, beta_1 0.5).
"""

import keras
from keras import layers

LEARNING_RATE, BETA_1 = 0.0002, 0.5  # pytorch/examples' (and the CIFAR-10 tutorial's)


def batchnorm():
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                     gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


def define_discriminator(in_shape=(64, 64, 3)):
    """64 -> 32 -> 16 -> 8 -> 4 by strided 4x4 convolutions (64, 128, 256, 512 filters), a 4x4 convolution to one
    logit (float32: the loss reads it); compiled as dcgan_cifar10's discriminator (loss from logits), with accuracy."""
    init = keras.initializers.RandomNormal(0.0, 0.02)
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input(shape=in_shape))
    for filters in (64, 128, 256, 512):
        model.add(layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init))
        if filters != 64:
            model.add(batchnorm())
        model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Conv2D(1, 4, padding="valid", use_bias=False, kernel_initializer=init, dtype="float32"))
    model.add(layers.Flatten(dtype="float32"))
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    accuracy = keras.metrics.BinaryAccuracy("accuracy", threshold=0.0)  # a logit over 0: a probability over 0.5
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=optimizer, metrics=[accuracy])
    return model


def define_generator(latent_dim=100):
    """Not compiled (trained through the composite model). The latent point as a 1x1 map, a 4x4 transposed
    convolution to 4x4x512, then 8 -> 16 -> 32 -> 64 by strided 4x4 transposed convolutions (256, 128, 64, 3
    filters), tanh (float32: a loss reads it)."""
    init = keras.initializers.RandomNormal(0.0, 0.02)
    model = keras.Sequential(name="generator")
    model.add(keras.Input(shape=(latent_dim,)))
    model.add(layers.Reshape((1, 1, latent_dim)))
    model.add(layers.Conv2DTranspose(512, 4, padding="valid", use_bias=False, kernel_initializer=init))
    for filters in (256, 128, 64):
        model.add(batchnorm())
        model.add(layers.ReLU())
        model.add(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=init))
    model.add(batchnorm())
    model.add(layers.ReLU())
    model.add(layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init,
                                     activation="tanh", dtype="float32"))
    return model


def define_models(args):
    """(discriminator, generator) for dcgan_cifar10.py's flags; ValueError of one line for flags they cannot take."""
    if args.image_size != 64 or args.batchnorm != "none" or args.upsampling:
        raise ValueError("--models dcgan-paper: the paper's models are 64x64, with their own BatchNorm and transposed "
                         "convolutions: give --image-size 64, without --batchnorm or --upsampling")
    return define_discriminator(), define_generator(args.latent_dim)
