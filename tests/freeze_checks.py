"""Freeze semantics of each script's updates, under whatever Keras backend is active.

Not collected on its own (no test_ prefix): test_backends.py runs this module once per
installed backend, each in a fresh subprocess with KERAS_BACKEND set.
Every check calls the script's own functions and compares variable values before and after.
"""

import importlib

import numpy as np
import pytest

import keras

LATENT = 100


def snapshot(model):
    return {v.path: np.array(keras.ops.convert_to_numpy(v.value)) for v in model.weights}


def changed(before, after):
    return {k for k in before if not np.array_equal(before[k], after[k])}


def trainable_paths(model):
    return {v.path for v in model.trainable_weights}


@pytest.fixture(scope="module")
def lsgan():
    return importlib.import_module("lsgan_mnist")


@pytest.fixture
def models(lsgan):
    keras.utils.set_random_seed(1)
    d_model = lsgan.define_discriminator()
    g_model = lsgan.define_generator(LATENT)
    gan_model = lsgan.define_gan(g_model, d_model)
    dataset = np.random.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    return g_model, d_model, gan_model, dataset


def test_discriminator_update_changes_discriminator_only(lsgan, models):
    g_model, d_model, gan_model, dataset = models
    g0, d0 = snapshot(g_model), snapshot(d_model)
    lsgan.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert trainable_paths(d_model) <= changed(d0, snapshot(d_model))
    assert changed(g0, snapshot(g_model)) == set(), "a discriminator update touched the generator"


def test_generator_update_changes_generator_only(lsgan, models):
    g_model, d_model, gan_model, dataset = models
    assert len(d_model.trainable_weights) == 10  # kernels, biases, BatchNorm gamma and beta
    g0, d0 = snapshot(g_model), snapshot(d_model)
    lsgan.train_generator(gan_model, LATENT, n_batch=16)
    assert trainable_paths(g_model) <= changed(g0, snapshot(g_model))
    assert changed(d0, snapshot(d_model)) & trainable_paths(d_model) == set()
    # the discriminator can still learn afterwards: nothing was frozen for good
    d1 = snapshot(d_model)
    lsgan.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert trainable_paths(d_model) <= changed(d1, snapshot(d_model))


def mse_to(y_pred, target):
    return float(np.mean((keras.ops.convert_to_numpy(y_pred) - target) ** 2))


def test_generator_update_runs_discriminator_batchnorm_on_batch_statistics(lsgan, models):
    g_model, d_model, gan_model, _ = models
    np.random.seed(7)
    z = lsgan.generate_latent_points(LATENT, 16)
    images = g_model(z, training=True)
    batch_stats = mse_to(d_model(images, training=True), 1.0)
    moving_stats = mse_to(d_model(images, training=False), 1.0)
    assert abs(batch_stats - moving_stats) > 1e-3 * max(batch_stats, 1e-6)  # the check can tell them apart
    np.random.seed(7)  # train_generator draws the same z
    loss = lsgan.train_generator(gan_model, LATENT, n_batch=16)
    assert loss == pytest.approx(batch_stats, rel=1e-4)


def test_discriminator_update_runs_batchnorm_on_batch_statistics(lsgan, models):
    g_model, d_model, _, dataset = models
    np.random.seed(3)
    real, _ = lsgan.generate_real_samples(dataset, 8)
    expected = mse_to(d_model(real, training=True), 1.0)
    assert abs(expected - mse_to(d_model(real, training=False), 1.0)) > 1e-3 * max(expected, 1e-6)
    np.random.seed(3)
    d_loss1, _ = lsgan.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert d_loss1 == pytest.approx(expected, rel=1e-4)
