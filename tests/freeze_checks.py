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


@pytest.fixture(scope="module", params=["lsgan_mnist", "wgan_mnist7"])
def script(request):
    """The script under test (each has the same function names)."""
    return importlib.import_module(request.param)


@pytest.fixture
def models(script):
    keras.utils.set_random_seed(1)
    d_model = getattr(script, "define_critic", None) or script.define_discriminator
    d_model = d_model()
    g_model = script.define_generator(LATENT)
    gan_model = script.define_gan(g_model, d_model)
    dataset = np.random.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    return g_model, d_model, gan_model, dataset


def test_discriminator_update_changes_discriminator_only(script, models):
    g_model, d_model, gan_model, dataset = models
    g0, d0 = snapshot(g_model), snapshot(d_model)
    script.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert trainable_paths(d_model) <= changed(d0, snapshot(d_model))
    assert changed(g0, snapshot(g_model)) == set(), "a discriminator update touched the generator"


def test_generator_update_changes_generator_only(script, models):
    g_model, d_model, gan_model, dataset = models
    assert len(d_model.trainable_weights) == 10  # kernels, biases, BatchNorm gamma and beta
    g0, d0 = snapshot(g_model), snapshot(d_model)
    script.train_generator(gan_model, LATENT, n_batch=16)
    assert trainable_paths(g_model) <= changed(g0, snapshot(g_model))
    assert changed(d0, snapshot(d_model)) & trainable_paths(d_model) == set()
    # the discriminator can still learn afterwards: nothing was frozen for good
    d1 = snapshot(d_model)
    script.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert trainable_paths(d_model) <= changed(d1, snapshot(d_model))


def loss_of(model, y_pred, target):
    """The model's compiled loss (MSE for the LSGAN, Wasserstein for the WGAN), by hand."""
    loss = keras.losses.get(model.loss)
    y_true = np.full((len(y_pred), 1), target, dtype="float32")
    return float(np.mean(keras.ops.convert_to_numpy(loss(y_true, y_pred))))


def test_generator_update_runs_discriminator_batchnorm_on_batch_statistics(script, models):
    g_model, d_model, gan_model, _ = models
    np.random.seed(7)
    z = script.generate_latent_points(LATENT, 16)
    images = g_model(z, training=True)
    batch_stats = loss_of(gan_model, d_model(images, training=True), script.REAL_LABEL)
    moving_stats = loss_of(gan_model, d_model(images, training=False), script.REAL_LABEL)
    assert abs(batch_stats - moving_stats) > 1e-3 * max(abs(batch_stats), 1e-6)  # the check can tell them apart
    np.random.seed(7)  # train_generator draws the same z
    loss = script.train_generator(gan_model, LATENT, n_batch=16)
    assert loss == pytest.approx(batch_stats, rel=1e-4)


def test_discriminator_update_runs_batchnorm_on_batch_statistics(script, models):
    g_model, d_model, _, dataset = models
    np.random.seed(3)
    real, _ = script.generate_real_samples(dataset, 8)
    expected = loss_of(d_model, d_model(real, training=True), script.REAL_LABEL)
    assert abs(expected - loss_of(d_model, d_model(real, training=False), script.REAL_LABEL)) > 1e-3 * max(abs(expected), 1e-6)
    np.random.seed(3)
    d_loss1, _ = script.train_discriminator(g_model, d_model, dataset, LATENT, half_batch=8)
    assert d_loss1 == pytest.approx(expected, rel=1e-4)


def test_critic_kernels_stay_clipped(script, models):
    if not hasattr(script, "ClipConstraint"):
        pytest.skip("only the WGAN clips")
    g_model, c_model, _, dataset = models
    clipped = [layer.kernel for layer in c_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(clipped) == 2
    assert max(np.abs(keras.ops.convert_to_numpy(k)).max() for k in clipped) > script.CLIP_VALUE  # init is wider
    for _ in range(3):
        script.train_discriminator(g_model, c_model, dataset, LATENT, half_batch=8)
        for kernel in clipped:
            assert np.abs(keras.ops.convert_to_numpy(kernel)).max() <= script.CLIP_VALUE + 1e-7
