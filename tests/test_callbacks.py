"""train() speaks Keras' callback protocol, so Keras' own callbacks work in it unchanged; the
command line's callbacks (--tensorboard) on top; and the offline download as one line."""

import csv
import glob
import io
import os
import re

import numpy as np
import pytest
from matplotlib.image import imread

import gan_runner
import keras
import lsgan_mnist
from conftest import run_cli, tiny_data, tiny_mnist


@pytest.fixture
def lsgan():
    """Seeded LSGAN models and 64 tiny images scaled as load_real_samples scales them."""
    keras.utils.set_random_seed(0)
    d_model = lsgan_mnist.define_discriminator()
    g_model = lsgan_mnist.define_generator(100)
    x, _ = tiny_mnist(64)
    return g_model, d_model, lsgan_mnist.define_gan(g_model, d_model), (x[..., None] - 127.5) / 127.5


class Recorder(keras.callbacks.Callback):
    """Records the protocol's calls; stops the run at step `stop_at`."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.calls, self.stop_at, self.steps = [], stop_at, 0

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.calls.append(f"batch_end {batch} {','.join(sorted(logs))}")
        if self.steps == self.stop_at:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_train_calls_the_protocol_in_order_and_a_callback_can_stop_it(lsgan, tmp_path):
    g_model, d_model, gan_model, dataset = lsgan
    recorder = Recorder(stop_at=6)  # 64 images, batch 16: 4 steps an epoch; stop at the 2nd of epoch 2
    history = lsgan_mnist.train(g_model, d_model, gan_model, dataset, 100, n_epochs=3, n_batch=16,
                                callbacks=[recorder], out_dir=tmp_path, verbose=0)
    logs = "d1,d2,g,loss"
    assert recorder.calls == (["train_begin", "epoch_begin 0"] + [f"batch_end {b} {logs}" for b in range(4)]
                              + ["epoch_end 0", "epoch_begin 1", f"batch_end 0 {logs}", f"batch_end 1 {logs}",
                                 "epoch_end 1", "train_end"])
    assert recorder.model is gan_model and len(history["g"]) == 6
    assert gan_model.history.epoch == [0, 1]  # Keras' History, added as fit() adds it
    # The first epoch's report was made; the stopped one's was not; the loss plot always is.
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith((".png", ".h5"))) == [
        "generated_plot_000004.png", "model_000004.h5", "plot_line_plot_loss.png"]


def test_keras_csv_logger_writes_a_row_an_epoch_of_the_epoch_means(lsgan, tmp_path):
    g_model, d_model, gan_model, dataset = lsgan
    path = tmp_path / "epochs.csv"
    history = lsgan_mnist.train(g_model, d_model, gan_model, dataset, 100, n_epochs=3, n_batch=16,
                                callbacks=[keras.callbacks.CSVLogger(str(path))], out_dir=tmp_path, verbose=0)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    for epoch, row in enumerate(rows):
        for name in ("d1", "d2", "g"):
            assert float(row[name]) == pytest.approx(np.mean(history[name][4 * epoch : 4 * epoch + 4]), rel=1e-5)
        assert float(row["loss"]) == pytest.approx(sum(float(row[n]) for n in ("d1", "d2", "g")), rel=1e-5)


def test_keras_terminate_on_nan_stops_the_loop_at_the_first_nan(lsgan, tmp_path, capsys):
    g_model, d_model, gan_model, dataset = lsgan
    broken = np.full_like(dataset, np.nan)  # every real image NaN: the first step's losses are NaN
    history = lsgan_mnist.train(g_model, d_model, gan_model, broken, 100, n_epochs=3, n_batch=16,
                                callbacks=[keras.callbacks.TerminateOnNaN()], out_dir=tmp_path, verbose=0)
    assert len(history["g"]) == 1 and np.isnan(history["d1"][0])
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert not glob.glob(str(tmp_path / "model_*.h5"))  # no report of a broken generator


def tensorboard_events(folder):
    """{tag: {step: value}} of every summary written under folder (scalars as floats, images as
    their PNG bytes)."""
    import tensorflow as tf

    events = {}
    for path in glob.glob(os.path.join(folder, "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                content = tf.make_ndarray(value.tensor)
                events.setdefault(value.tag, {})[event.step] = content[-1] if content.dtype == object else float(content)
    return events


def test_tensorboard_logs_every_steps_losses_and_a_grid_each_epoch_also_after_resume(tmp_path, capsys):
    board, out = tmp_path / "board", tmp_path / "run"
    argv = ["--data", tiny_data(tmp_path / "data.npz", "lsgan_mnist"), "--out", str(out), "--batch-size", "16",
            "--tensorboard", str(board), "--seed", "2"]
    assert run_cli(lsgan_mnist.main, argv + ["--epochs", "2"], capsys)[0] == 0  # 96 images: 6 steps an epoch
    assert run_cli(lsgan_mnist.main, argv + ["--epochs", "3", "--resume"], capsys)[0] == 0
    events = tensorboard_events(board)
    history = np.genfromtxt(out / "history.csv", delimiter=",", names=True)
    for name in ("d1", "d2", "g"):
        logged = events[f"batch_{name}"]
        assert sorted(logged) == list(range(1, 19))  # the resumed run's steps go on from 13
        np.testing.assert_allclose([logged[s] for s in range(1, 19)], history[name], rtol=1e-5)
    assert sorted(events["epoch_loss"]) == [0, 1, 2]
    spreads = np.genfromtxt(out / "diversity.csv", delimiter=",", names=True)["diversity"]  # the collapse guard's
    np.testing.assert_allclose([events["epoch_diversity"][e] for e in range(3)], spreads, atol=1e-4)
    grids = events["generated"]
    assert sorted(grids) == [6, 12, 18]
    picture = imread(io.BytesIO(grids[18]), format="png")
    assert picture.shape[:2] == (2 * (10 * 29 + 1),) * 2  # the 10x10 grid of 28x28 samples
    assert len({grids[s] for s in grids}) == 3  # the generator changed between epochs


@pytest.mark.keras_independent
def test_no_network_and_no_data_is_one_line_that_names_data(tmp_path, capsys, monkeypatch):
    """Keras' own download, pointed at a closed local port: the real failure, without a network."""
    import keras.src.datasets.mnist as keras_mnist

    real_get_file = keras_mnist.get_file

    def unreachable(fname, origin, **kwargs):
        return real_get_file(fname, origin="http://127.0.0.1:9/mnist.npz", cache_dir=str(tmp_path / "cache"))

    monkeypatch.setattr(keras_mnist, "get_file", unreachable)
    status, _, err = run_cli(lsgan_mnist.main, ["--out", str(tmp_path / "run")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("lsgan_mnist.py: error: could not download MNIST through Keras (") and "--data PATH" in err
    assert not (tmp_path / "run").exists()


def test_the_progress_bar_counts_the_steps_the_run_makes(tmp_path, capsys):
    """--max-steps, a resumed run and a last partial epoch: each epoch's line counts its own steps
    (Keras' own bar would say 6/6 for each: an epoch here is 96 // 16 = 6 steps)."""
    data = tiny_data(tmp_path / "data.npz", "lsgan_mnist")
    args = ["--data", data, "--out", str(tmp_path / "run"), "--batch-size", "16", "--seed", "1"]

    def epoch_lines(out):  # "4/4 - 1s - 250ms/step - d1: ...": the count, whatever the time per step
        return [line.split(" - ")[0] for line in out.splitlines() if re.match(r"\d+/\d+ - .*s/step", line)]

    status, out, _ = run_cli(lsgan_mnist.main, args + ["--max-steps", "4"], capsys)
    assert status == 0 and epoch_lines(out) == ["4/4"]
    status, out, _ = run_cli(lsgan_mnist.main, args + ["--max-steps", "9", "--resume"], capsys)
    assert status == 0 and epoch_lines(out) == ["2/2", "3/3"]  # steps 5-6 of epoch 1, then 7-9 of epoch 2


def test_train_ends_its_callbacks_when_a_step_raises(lsgan, tmp_path, monkeypatch):
    """An error inside train() (out of memory on a GPU, say) still ends the callbacks: the signal
    handlers StopOnSignal installed are put back, as a notebook's next interrupt needs them."""
    import signal

    g_model, d_model, gan_model, dataset = lsgan
    before = signal.getsignal(signal.SIGINT)
    calls = []

    def broken_step(*args):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("out of memory")
        return 1.0, 1.0, 1.0

    monkeypatch.setattr(lsgan_mnist, "train_step", broken_step)
    signals = gan_runner.StopOnSignal()
    with pytest.raises(MemoryError):
        lsgan_mnist.train(g_model, d_model, gan_model, dataset, 100, n_epochs=1, n_batch=16, verbose=0,
                          callbacks=[signals], out_dir=str(tmp_path))
    assert signal.getsignal(signal.SIGINT) is before and signals.previous == {}
