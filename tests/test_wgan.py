"""wgan_mnist7.py: what makes it a WGAN, its outputs, and its models in generate.py."""

import os

import numpy as np
import pytest

import keras
import generate
import wgan_mnist7
from conftest import run_cli, tiny_mnist


@pytest.fixture(scope="module")
def wgan_run(tmp_path_factory):
    """A real WGAN run on tiny data: 48 sevens (and 48 other digits), batch 16, 3 steps an epoch."""
    tmp = tmp_path_factory.mktemp("wgan")
    x, _ = tiny_mnist()
    y = np.where(np.arange(len(x)) % 2 == 0, 7, 3).astype("uint8")
    np.savez(tmp / "tiny.npz", x_train=x, y_train=y)
    out = tmp / "run"
    argv = ["--data", str(tmp / "tiny.npz"), "--out", str(out), "--epochs", "2", "--batch-size", "16", "--n-critic", "2"]
    assert wgan_mnist7.main(argv) == 0
    return out


def test_help_shows_the_wgan_defaults(capsys):
    status, out, _ = run_cli(wgan_mnist7.main, ["--help"], capsys)
    text = " ".join(out.split())
    assert status == 0
    for flag, default in [("--epochs", 10), ("--batch-size", 64), ("--n-critic", 5), ("--clip", 0.01),
                          ("--digit", 7), ("--out", "runs/wgan_mnist7")]:
        assert flag in text and f"(default: {default})" in text


def test_published_hyperparameters():
    c_model = wgan_mnist7.define_critic()
    for model in (c_model, wgan_mnist7.define_gan(wgan_mnist7.define_generator(100), c_model)):
        config = model.optimizer.get_config()
        assert isinstance(model.optimizer, keras.optimizers.RMSprop)
        assert config["learning_rate"] == pytest.approx(5e-5)
        assert config["momentum"] == 0.0
        assert model.loss is wgan_mnist7.wasserstein_loss
    assert c_model.layers[-1].activation.__name__ == "linear"
    assert (wgan_mnist7.REAL_LABEL, wgan_mnist7.FAKE_LABEL) == (-1.0, 1.0)


def test_wasserstein_loss_is_the_mean_of_target_times_score():
    y_true = np.array([[-1.0], [-1.0], [1.0], [1.0]], "float32")
    score = np.array([[0.5], [2.0], [-1.0], [3.0]], "float32")
    by_hand = (-0.5 - 2.0 - 1.0 + 3.0) / 4
    assert float(wgan_mnist7.wasserstein_loss(y_true, score)) == pytest.approx(by_hand)


def test_each_generator_update_follows_exactly_n_critic_critic_rounds(monkeypatch):
    keras.utils.set_random_seed(0)
    c_model, g_model = wgan_mnist7.define_critic(), wgan_mnist7.define_generator(100)
    gan_model = wgan_mnist7.define_gan(g_model, c_model)
    c_fake_model = wgan_mnist7.define_discriminator_on_fakes(g_model, c_model)
    calls = []
    for name, model in (("c", c_model), ("c", c_fake_model), ("g", gan_model)):
        original = model.train_on_batch
        monkeypatch.setattr(model, "train_on_batch",
                            lambda x, y, _o=original, _n=name: calls.append((_n, float(y[0, 0]))) or _o(x, y))
    dataset = np.random.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    for _ in range(2):
        wgan_mnist7.train_step(c_model, c_fake_model, gan_model, dataset, 100, 16, n_critic=3)
    one_step = [("c", -1.0), ("c", 1.0)] * 3 + [("g", -1.0)]
    assert calls == one_step * 2


def test_run_on_one_digit_saves_generators_and_critics(wgan_run):
    names = set(os.listdir(wgan_run))
    assert {"model_000003.h5", "model_000006.h5", "critic_000006.h5", "generated_plot_000006.png",
            "history.csv", "plot_line_plot_loss.png", "run.json"} <= names
    header, *rows = (wgan_run / "history.csv").read_text().splitlines()
    assert header == "step,c1,c2,g" and len(rows) == 6


def test_saved_critic_loads_with_its_clip_constraint_and_generate_refuses_it(wgan_run, capsys):
    critic = keras.models.load_model(wgan_run / "critic_000006.h5")  # no custom_objects needed
    constraint = critic.layers[0].kernel_constraint
    assert isinstance(constraint, wgan_mnist7.ClipConstraint) and constraint.clip_value == 0.01
    status, _, err = run_cli(generate.main, [str(wgan_run / "critic_000006.h5"), "--out", str(wgan_run / "x.png")], capsys)
    assert status == 2 and "not a generator" in err and len(err.strip().splitlines()) == 1


def test_generate_renders_the_wgan_generator(wgan_run, capsys):
    out = wgan_run / "grid.png"
    status, text, _ = run_cli(generate.main, [str(wgan_run / "model_000006.h5"), "--grid", "4", "--out", str(out)], capsys)
    assert status == 0 and "16 images" in text and out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--n-critic", "0"], "--n-critic"),
    (["--clip", "0"], "--clip"),
    (["--clip", "-0.01"], "--clip"),
    (["--digit", "12"], "--digit"),
    (["--data", "{tmp}/labels_missing.npz"], "no y_train array"),
    (["--data", "{tmp}/no_sevens.npz"], "no training images of the digit 7"),
])
def test_bad_input(argv, message, tmp_path, capsys):
    x, _ = tiny_mnist(32)
    np.savez(tmp_path / "labels_missing.npz", x_train=x)
    np.savez(tmp_path / "no_sevens.npz", x_train=x, y_train=np.zeros(32, "uint8"))
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--data" not in argv:
        argv += ["--data", str(tmp_path / "no_sevens.npz")]
    status, _, err = run_cli(wgan_mnist7.main, argv + ["--out", str(tmp_path / "out")], capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
