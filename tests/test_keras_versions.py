"""Right on every Keras the requirements allow: each recorded loss is its own step's (Keras before
3.15 returned from train_on_batch the mean of every call since compile), and below the floor the
scripts stop before training. CI runs this file on the newest Keras and on the floor's."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gan_runner
import keras
import lsgan_mnist
import wgan_mnist7
from conftest import ROOT, tiny_data

SCRIPTS = {"lsgan_mnist": lsgan_mnist, "wgan_mnist7": wgan_mnist7}
OLDER = "%d.%d.2" % (gan_runner.KERAS_NEEDED[0], gan_runner.KERAS_NEEDED[1] - 1)  # a release below the floor


@pytest.mark.parametrize("name", SCRIPTS)
def test_recorded_losses_are_each_steps_own(name, monkeypatch, tmp_path):
    """Every update's loss computed by hand (the model's loss on its batch, in training mode, with
    the weights before the update) equals what train() records: the LSGAN's three losses a step,
    the WGAN's two critic losses as the mean of its rounds and the generator's."""
    script = SCRIPTS[name]
    keras.utils.set_random_seed(1)
    by_hand, real_update = [], keras.Model.train_on_batch

    def update(model, x, y, *args, **kwargs):
        loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        by_hand.append(float(np.mean(keras.ops.convert_to_numpy(loss(y, model(x, training=True))))))
        return real_update(model, x, y, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "train_on_batch", update)
    d_model = script.define_critic() if name == "wgan_mnist7" else script.define_discriminator()
    g_model = script.define_generator(script.LATENT_DIM)
    gan_model = script.define_gan(g_model, d_model)
    dataset = script.load_real_samples(tiny_data(tmp_path / "data.npz", name))
    extra = dict(n_critic=2) if name == "wgan_mnist7" else {}
    history = script.train(g_model, d_model, gan_model, dataset, script.LATENT_DIM, n_epochs=1, n_batch=16,
                           out_dir=str(tmp_path / "run"), verbose=0, **extra)
    names = script.LOSSES
    assert len(history[names[-1]]) == 6
    if name == "wgan_mnist7":  # a step: (real, fake) x 2 critic rounds, then the generator
        calls = np.array(by_hand).reshape(6, 5)
        expected = np.column_stack([calls[:, [0, 2]].mean(1), calls[:, [1, 3]].mean(1), calls[:, 4]])
    else:
        expected = np.array(by_hand).reshape(6, 3)
    recorded = np.column_stack([history[n] for n in names])
    np.testing.assert_allclose(recorded, expected, rtol=1e-4, atol=1e-6)


def test_below_the_floor_the_command_line_stops_in_one_line(tmp_path):
    """A Keras older than KERAS_NEEDED: one line naming the Keras needed and its pip install,
    exit status 2, nothing trained or written."""
    code = f"import keras, runpy; keras.__version__ = {OLDER!r}; runpy.run_path('lsgan_mnist.py', run_name='__main__')"
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", code, "--out", str(out), "--max-steps", "1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 2
    need = "%d.%d" % gan_runner.KERAS_NEEDED
    expected = f"lsgan_mnist.py: error: needs Keras {need} or newer, not {OLDER}: pip install --upgrade 'keras>={need}'"
    lines = result.stderr.strip().splitlines()  # TensorFlow's own start-up lines come first, and vary by release
    assert lines[-1] == expected and [line for line in lines if line.startswith("lsgan_mnist")] == [expected]
    assert not out.exists()


def test_below_the_floor_a_notebook_cell_gets_one_error_and_no_system_exit(tmp_path):
    """The whole script pasted into one cell (no __file__, __name__ == "__main__")."""
    code = (f"import keras; keras.__version__ = {OLDER!r}\n"
            f"source = open({os.path.join(ROOT, 'lsgan_mnist.py')!r}).read()\n"
            "try:\n"
            "    exec(compile(source, '<cell>', 'exec'), {'__name__': '__main__'})\n"
            "except SystemExit:\n"
            "    print('SystemExit raised')\n"
            "print('the kernel goes on')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SystemExit raised" not in result.stdout
    assert "the kernel goes on" in result.stdout
    assert "error: needs Keras" in result.stderr and "pip install --upgrade" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_the_requirements_floor_is_the_scripts_floor():
    """requirements.txt, the scripts' check and tools/test_floor.sh (which reads requirements.txt) agree."""
    import re

    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as f:
        floor = re.search(r"^keras>=(\d+)\.(\d+)\s", f.read(), re.M)
    assert floor and tuple(int(n) for n in floor.groups()) == gan_runner.KERAS_NEEDED


def test_a_wasserstein_update_reads_the_weights_before_it():
    """Under TensorFlow's graph runtime (every Keras 3 TensorFlow run on a CPU: Keras compiles without XLA there), a
    train step whose loss is linear in the scores had nothing that made the forward pass wait for the update: most
    updates of this two-layer critic read its last kernel after it was updated, for the loss reported and the
    gradients below it (docs/how-the-updates-work.md). Each update here must report the loss of the weights before
    it and move them by exactly the SGD step that loss gives (computed with NumPy)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 64)).astype("float32")
    y = np.where(np.arange(32)[:, None] % 2, 1.0, -1.0).astype("float32")  # Wasserstein targets, half real
    bad = []
    for k in range(8):  # the runtime decides per compiled step: several steps, several calls each
        keras.utils.set_random_seed(k)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16), keras.layers.Dense(1)])
        model.compile(loss=wgan_mnist7.wasserstein_loss, optimizer=keras.optimizers.SGD(learning_rate=0.1))
        for call in range(10):
            w1, b1, w2, b2 = (keras.ops.convert_to_numpy(v).astype("float64") for v in model.trainable_variables)
            h = x @ w1 + b1
            loss = float(np.mean(y * (h @ w2 + b2)))
            dy = y / len(y)  # the loss's gradient in the scores
            dh = dy @ w2.T
            expected = [w1 - 0.1 * x.T @ dh, b1 - 0.1 * dh.sum(0), w2 - 0.1 * h.T @ dy, b2 - 0.1 * dy.sum(0)]
            reported = float(np.ravel(lsgan_mnist.per_batch(model).train_on_batch(x, y))[0])
            after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
            if abs(reported - loss) > 1e-4 * max(1.0, abs(loss)) or not all(
                    np.allclose(a, e, rtol=1e-4, atol=1e-5) for a, e in zip(after, expected)):
                bad.append((k, call, reported, loss))
    assert not bad, f"{len(bad)} of 80 updates read weights already updated (model, call, reported, before): {bad[:3]}"
