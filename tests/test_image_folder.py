"""Your own images: --data FOLDER in every script, decoded once (image_folder.py) as a user's folder
really looks (odd sizes, phone JPEGs, PNGs with alpha, junk files), the CIFAR-10 DCGAN at 64 and
128, single images out of generate.py, scores against the folder in evaluate.py."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import dcgan_cifar10
import dcgan_mnist
import dcgan_paper_models
import evaluate
import gan_runner
import generate
import image_folder
import keras
import lsgan_mnist
import wgan_mnist7
from conftest import ROOT, backend_env, run_cli, stand_in_inception, tiny_data, tiny_mnist

SCRIPTS = {m.__name__: m for m in (lsgan_mnist, wgan_mnist7, dcgan_mnist, dcgan_cifar10)}


def snapshot(folder):
    """{relative path: (size, mtime, sha1)} of every file and folder under folder, hidden ones too."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            status = os.stat(path)
            digest = hashlib.sha1(open(path, "rb").read()).hexdigest() if os.path.isfile(path) else "dir"
            found[os.path.relpath(path, folder)] = (status.st_size, status.st_mtime_ns, digest)
    return found


def png(path, array, **params):
    """An image file of array (its format from the path's extension), folders made as needed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **params)


@pytest.fixture
def messy(tmp_path):
    """A folder as a user's looks: every kind the loader must read, and what it must leave out."""
    folder = tmp_path / "messy"
    folder.mkdir()
    grey = np.full((40, 30), 100, "uint8")
    png(folder / "a_grey.png", grey)
    png(folder / "b_rgb.png", np.dstack([np.full((30, 30), v, "uint8") for v in (255, 0, 0)]))  # red
    rgba = np.zeros((30, 30, 4), "uint8")
    rgba[..., 3] = 0  # fully transparent: the white background shows
    png(folder / "c_rgba.png", rgba)
    palette = Image.new("P", (30, 30), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # colour 1 is blue
    palette.save(folder / "d_palette.png")
    sixteen = np.full((30, 30), 65535, "uint16")
    sixteen[:15] = 32896  # 128 * 257
    Image.fromarray(sixteen).save(folder / "e_16bit.png")  # mode I;16
    Image.new("CMYK", (30, 30), (0, 0, 0, 0)).save(folder / "f_cmyk.jpg")  # no ink: white
    # EXIF orientation 6 (rotate 90 clockwise to view): stored wide (left half black, right white),
    # seen tall: top half black, bottom half white.
    stored = np.zeros((30, 60, 3), "uint8")
    stored[:, 30:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(folder / "g_exif.jpg", exif=exif.tobytes(), quality=95)
    frames = [Image.new("L", (30, 30), 200), Image.new("L", (30, 30), 20)]
    frames[0].save(folder / "h_anim.gif", save_all=True, append_images=frames[1:])  # first frame: 200
    whole = io.BytesIO()
    Image.fromarray(grey).save(whole, format="PNG")
    (folder / "i_truncated.png").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    (folder / "j_text.jpg").write_text("not an image")
    (folder / "notes.txt").write_text("a text file: not an image, left alone")
    png(folder / ".hidden.png", grey)
    png(folder / "._a_grey.png", grey)  # macOS's resource fork copy
    png(folder / ".thumbnails" / "t.png", grey)
    png(folder / "nested" / "deeper" / "k_nested.bmp", grey)
    (folder / "empty_subfolder").mkdir()
    return folder


def test_a_messy_folder_is_read_as_a_user_expects(messy, tmp_path, capsys):
    before = snapshot(messy)
    lines = []
    path = image_folder.prepare(str(messy), (28, 28, 3), cache=str(tmp_path / "cache"), log=lines.append)
    assert snapshot(messy) == before  # the user's folder is only read
    with np.load(path) as data:
        x, y = data["x_train"], data["y_train"]
    assert x.shape == (9, 28, 28, 3) and x.dtype == np.uint8 and (y == -1).all()
    grey, red, rgba, palette, sixteen, cmyk, exif, gif, nested = x
    assert (grey == 100).all()  # cropped to 30x30 from 40x30, then resized: still flat grey
    assert (red == [255, 0, 0]).all()
    assert (rgba == 255).all()  # transparent onto white
    assert (palette == [0, 0, 255]).all()
    assert (sixteen[:12] == 128).all() and (sixteen[17:] == 255).all()  # 16 bits scaled, not clipped
    assert (cmyk >= 254).all()
    assert exif[:10].max() < 30 and exif[-10:].min() > 225  # rotated as the camera meant: dark on top
    assert (gif == 200).all() and (nested == 100).all()
    assert len(lines) == 1 and lines[0].startswith(f"{messy}: 9 images decoded at 28x28 in ")
    assert "; 2 unreadable files skipped: i_truncated.png (" in lines[0] and ", j_text.jpg (" in lines[0]
    names, others = image_folder.list_images(str(messy))
    assert names[0] == "a_grey.png" and names[-1] == "nested/deeper/k_nested.bmp" and others == 1
    assert not [n for n in names if "hidden" in n or "._" in n or "thumbnails" in n]


def test_grey_for_the_mnist_scripts_and_labels_from_digit_subfolders(tmp_path):
    folder = tmp_path / "digits"
    png(folder / "3" / "x.png", np.dstack([np.full((50, 50), v, "uint8") for v in (255, 255, 255)]))
    png(folder / "7" / "inner" / "y.png", np.zeros((64, 32), "uint8"))
    png(folder / "misc" / "z.png", np.zeros((28, 28), "uint8"))
    with np.load(image_folder.prepare(str(folder), (28, 28, 1), cache=str(tmp_path / "c"), log=print)) as data:
        assert data["x_train"].shape == (3, 28, 28, 1) and data["y_train"].tolist() == [3, 7, -1]
        assert (data["x_train"][0] == 255).all()


def test_a_folder_of_28x28_grey_pngs_gives_exactly_the_npz_and_the_same_seeded_losses(tmp_path, capsys):
    x, y = tiny_mnist()
    folder = tmp_path / "pngs"
    for k, image in enumerate(x):
        png(folder / f"{k:03d}.png", image)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y)
    with np.load(image_folder.prepare(str(folder), (28, 28, 1), log=print)) as data:
        assert np.array_equal(data["x_train"][..., 0], x)
    common = ["--batch-size", "16", "--max-steps", "3", "--seed", "4"]
    for source, out in ((tmp_path / "data.npz", "a"), (folder, "b")):
        status, _, err = run_cli(lsgan_mnist.main, common + ["--data", str(source), "--out", str(tmp_path / out)],
                                 capsys)
        assert status == 0, err
    assert (tmp_path / "a" / "history.csv").read_text() == (tmp_path / "b" / "history.csv").read_text()
    assert json.loads((tmp_path / "a" / "run.json").read_text())["grey_reversed"] is True
    assert json.loads((tmp_path / "b" / "run.json").read_text())["grey_reversed"] is False  # photos as they are
    assert lsgan_mnist.GREY_REVERSED is True  # told to train(), never written into the script


@pytest.mark.parametrize("make, message", [
    (lambda f: None, "empty"),
    (lambda f: (f / "readme.txt").write_text("hi"), "no images in it (1 other files)"),
    (lambda f: (f / "a.png").write_text("not a png"), "none of its 1 images could be read: a.png ("),
    (lambda f: [png(f / f"{k}.png", np.zeros((28, 28), "uint8")) for k in range(3)], "3 images, fewer than one batch"),
])
def test_a_bad_folder_is_one_line_and_exit_2(make, message, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    make(folder)
    status, _, err = run_cli(lsgan_mnist.main, ["--data", str(folder), "--out", str(tmp_path / "run")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_a_decompression_bomb_is_skipped_and_named(tmp_path, monkeypatch):
    """Pillow's guard stays on (here lowered, to make a bomb of a small file): skipped and named, no crash."""
    folder = tmp_path / "bombs"
    png(folder / "big.png", np.zeros((100, 100), "uint8"))
    png(folder / "small.png", np.zeros((20, 20), "uint8"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 10,000 pixels: over twice that, an error
    lines = []
    with np.load(image_folder.prepare(str(folder), (28, 28, 1), cache=str(tmp_path / "c"), log=lines.append)) as d:
        assert len(d["x_train"]) == 1
    assert "1 unreadable files skipped: big.png (Image size (10000 pixels) exceeds limit" in lines[0]


def test_a_second_start_reads_the_cache_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch):
    folder = tmp_path / "pngs"
    x, _ = tiny_mnist(40)
    for k, image in enumerate(x):
        png(folder / f"{k:03d}.png", image)
    cache, lines = str(tmp_path / "cache"), []
    first = image_folder.prepare(str(folder), (28, 28, 1), cache=cache, log=lines.append)
    monkeypatch.setattr(image_folder, "decode", lambda *a: pytest.fail("decoded again"))
    start = time.monotonic()
    assert image_folder.prepare(str(folder), (28, 28, 1), cache=cache, log=lines.append) == first
    assert time.monotonic() - start < 2 and "decoded before" in lines[1]
    monkeypatch.undo()
    png(folder / "000.png", 255 - x[0])  # other pixels: its size or modification time changes the key
    os.utime(folder / "000.png", ns=(1, 1))
    second = image_folder.prepare(str(folder), (28, 28, 1), cache=cache, log=lines.append)
    assert second != first and "decoded at 28x28" in lines[2]
    assert image_folder.prepare(str(folder), (32, 32, 3), cache=cache, log=lines.append) not in (first, second)


def test_resume_refuses_a_folder_whose_images_changed(tmp_path, capsys):
    folder = tmp_path / "pngs"
    x, _ = tiny_mnist(32)
    for k, image in enumerate(x):
        png(folder / f"{k:03d}.png", image)
    args = ["--data", str(folder), "--out", str(tmp_path / "run"), "--batch-size", "16"]
    assert run_cli(lsgan_mnist.main, args + ["--max-steps", "1"], capsys)[0] == 0
    png(folder / "005.png", 255 - x[5])
    status, _, err = run_cli(lsgan_mnist.main, args + ["--max-steps", "2", "--resume"], capsys)
    assert status == 2 and "made with the data (--data)" in err


def test_the_wgan_learns_the_digit_subfolder_of_digit_and_refuses_a_folder_without_them(tmp_path, capsys):
    x, _ = tiny_mnist(64)
    for k, image in enumerate(x):
        png(tmp_path / "labelled" / ("3" if k % 2 else "7") / f"{k:03d}.png", image)
        png(tmp_path / "plain" / f"{k:03d}.png", image)
    common = ["--batch-size", "16", "--n-critic", "1", "--max-steps", "1"]
    status, out, err = run_cli(wgan_mnist7.main, common + ["--data", str(tmp_path / "labelled"), "--digit", "3",
                                                           "--out", str(tmp_path / "r3")], capsys)
    assert status == 0, err
    status, _, err = run_cli(wgan_mnist7.main, common + ["--data", str(tmp_path / "labelled"), "--digit", "5",
                                                        "--out", str(tmp_path / "r5")], capsys)
    assert status == 2 and err.strip() == f"wgan_mnist7.py: error: {tmp_path / 'labelled'}: no training images of the digit 5"
    status, _, err = run_cli(wgan_mnist7.main, common + ["--data", str(tmp_path / "plain"), "--out", str(tmp_path / "p")],
                             capsys)
    assert status == 2 and "no subfolders named 0-9, whose names label the images for wgan_mnist7.py" in err


@pytest.mark.parametrize("size, blocks", [(32, 3), (64, 4), (128, 5)])
def test_the_cifar10_dcgan_grows_a_block_in_each_model_for_each_doubling(size, blocks):
    d_model = dcgan_cifar10.define_discriminator((size, size, 3))
    g_model = dcgan_cifar10.define_generator(100, image_size=size)
    strided = [layer for layer in d_model.layers if isinstance(layer, keras.layers.Conv2D) and layer.strides == (2, 2)]
    assert len(strided) == blocks and strided[-1].output.shape[1:3] == (4, 4)  # down to 4x4, as at 32
    up = [layer for layer in g_model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(up) == blocks and g_model.output_shape == (None, size, size, 3)
    assert [layer.output.shape[1] for layer in up] == [8 * 2**k for k in range(blocks)]
    assert (d_model.count_params(), g_model.count_params()) == {32: (522497, 1466115),  # the published models
                                                                64: (1112577, 1728387), 128: (1702657, 1990659)}[size]


def test_image_size_64_trains_on_a_folder_and_generate_draws_its_samples(tmp_path, capsys):
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for k in range(20):  # odd sizes and shapes, as JPEGs
        png(folder / f"{k:02d}.jpg", rng.integers(0, 256, (50 + 7 * k, 90 - 2 * k, 3)).astype("uint8"), quality=90)
    out = tmp_path / "run"
    argv = ["--data", str(folder), "--image-size", "64", "--batch-size", "8", "--max-steps", "2", "--out", str(out)]
    status, _, err = run_cli(dcgan_cifar10.main, argv, capsys)
    assert status == 0, err
    info = json.loads((out / "run.json").read_text())
    assert info["image_shape"] == [64, 64, 3] and "grey_reversed" not in info
    status, _, err = run_cli(dcgan_cifar10.main, argv[:2] + argv[4:6] + ["--max-steps", "3", "--out", str(out),
                                                                          "--resume"], capsys)
    assert status == 2 and "made with --image-size 64, not 32" in err
    status, stdout, _ = run_cli(generate.main, [str(out / "model_000002.h5"), "--grid", "3", "--out",
                                                str(tmp_path / "grid.png")], capsys)
    assert status == 0 and "9 images of (64, 64, 3)" in stdout
    status, _, err = run_cli(dcgan_cifar10.main, ["--data", tiny_data(tmp_path / "c.npz", "dcgan_cifar10"),
                                                  "--image-size", "64", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "CIFAR-10's images are 32x32; give a folder" in err


def test_the_dcgan_papers_models_are_pytorch_examples_and_not_the_tutorials():
    """--models dcgan-paper: pytorch/examples' dcgan/main.py at 64x64 (nz 100, ngf = ndf = 64): its parameter
    counts (the moving statistics aside), 4x4 kernels without biases, sizes doubling from 4x4, weights N(0, 0.02)."""
    d_model, g_model = dcgan_paper_models.define_discriminator(), dcgan_paper_models.define_generator(100)
    trainable = [sum(int(np.prod(v.shape)) for v in m.trainable_weights) for m in (d_model, g_model)]
    assert trainable == [2_765_568, 3_576_704]
    assert d_model.output_shape == (None, 1) and g_model.output_shape == (None, 64, 64, 3)
    up = [layer for layer in g_model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [layer.output.shape[1] for layer in up] == [4, 8, 16, 32, 64]
    assert [layer.filters for layer in up] == [512, 256, 128, 64, 3]
    convs = up + [layer for layer in d_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.kernel_size == (4, 4) and not layer.use_bias for layer in convs)
    assert 0.018 < float(np.std(keras.ops.convert_to_numpy(up[1].kernel))) < 0.022
    norms = [layer for layer in d_model.layers + g_model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 7 and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)


def test_models_dcgan_paper_trains_on_a_folder_at_64_and_refuses_other_sizes(tmp_path, capsys):
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for k in range(12):
        png(folder / f"{k:02d}.png", rng.integers(0, 256, (40 + 5 * k, 70, 3)).astype("uint8"))
    out = tmp_path / "run"
    common = ["--data", str(folder), "--batch-size", "8", "--max-steps", "2"]
    status, _, err = run_cli(dcgan_cifar10.main, common + ["--image-size", "64", "--models", "dcgan-paper",
                                                           "--out", str(out)], capsys)
    assert status == 0, err
    status, stdout, _ = run_cli(generate.main, [str(out / "model_000002.h5"), "--grid", "2", "--out",
                                                str(tmp_path / "grid.png")], capsys)
    assert status == 0 and "4 images of (64, 64, 3)" in stdout
    status, _, err = run_cli(dcgan_cifar10.main, common + ["--image-size", "64", "--out", str(out), "--resume"], capsys)
    assert status == 2 and "made with --models dcgan-paper, not tutorial" in err
    for wrong in (["--image-size", "32"], ["--image-size", "64", "--batchnorm", "both"],
                  ["--image-size", "64", "--upsampling"]):
        argv = common + ["--models", "dcgan-paper"] + wrong + ["--out", str(tmp_path / "o")]
        status, _, err = run_cli(dcgan_cifar10.main, argv, capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1
        assert "--models dcgan-paper: the paper's models are 64x64" in err and not (tmp_path / "o").exists()


def test_dcgan_cifar10_without_the_paper_models_module_trains_the_tutorials_and_refuses_dcgan_paper(tmp_path):
    """Copied without dcgan_paper_models.py: every other flag works; --models dcgan-paper is one line, exit 2."""
    for module in ("dcgan_cifar10", "gan_runner", "gan_utils", "augmentation", "image_folder", "sample_measures"):
        shutil.copy(os.path.join(ROOT, module + ".py"), tmp_path / (module + ".py"))
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for k in range(8):
        png(folder / f"{k}.png", rng.integers(0, 256, (40, 50, 3)).astype("uint8"))
    common = [sys.executable, "dcgan_cifar10.py", "--data", "photos", "--image-size", "64", "--batch-size", "4",
              "--max-steps", "1"]
    env = backend_env("tensorflow")
    del env["PYTHONPATH"]  # the copies only, not this checkout
    ok = subprocess.run(common + ["--out", "a"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    refused = subprocess.run(common + ["--models", "dcgan-paper", "--out", "b"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and not (tmp_path / "b").exists()
    assert refused.stderr.strip().splitlines()[-1] == "dcgan_cifar10.py: error: No module named 'dcgan_paper_models'"


def test_generate_writes_n_single_pngs_of_the_models_size_and_never_over_files(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    lsgan_mnist.define_generator(100).save(run / "model_000001.h5")
    (run / "run.json").write_text(json.dumps(dict(latent_distribution="normal", output_range=[-1, 1])))
    images = tmp_path / "images"
    status, stdout, _ = run_cli(generate.main, [str(run / "model_000001.h5"), "--n", "50", "--images", str(images),
                                                "--seed", "1"], capsys)
    assert status == 0 and "wrote 50 images of (28, 28, 1)" in stdout
    names = sorted(os.listdir(images))
    assert names[0] == "000001.png" and len(names) == 50
    with Image.open(images / names[0]) as first:
        assert first.size == (28, 28) and first.mode == "L"
    status, _, err = run_cli(generate.main, [str(run / "model_000001.h5"), "--n", "2", "--images", str(images)],
                             capsys)
    assert status == 2 and "not an empty folder" in err and len(os.listdir(images)) == 50


def test_generate_draws_grey_as_the_run_did(tmp_path, capsys):
    """Reversed for MNIST's digits (run.json says so, or says nothing), as they are for a folder's photos."""
    run = tmp_path / "run"
    run.mkdir()
    lsgan_mnist.define_generator(100).save(run / "model_000001.h5")
    pictures = {}
    for reverse in (True, False):
        (run / "run.json").write_text(json.dumps(dict(grey_reversed=reverse)))
        assert run_cli(generate.main, [str(run / "model_000001.h5"), "--grid", "2", "--seed", "1", "--out",
                                       str(tmp_path / f"{reverse}.png")], capsys)[0] == 0
        pictures[reverse] = np.asarray(Image.open(tmp_path / f"{reverse}.png").convert("L"), "float64")
    inner = (slice(4, 30), slice(4, 30))  # one sample, inside the grid's white border
    np.testing.assert_allclose(pictures[True][inner] + pictures[False][inner], 255, atol=1.5)


def test_evaluate_scores_against_a_folder_with_no_dataset_named(tmp_path, capsys):
    folder = tmp_path / "photos"
    rng = np.random.default_rng(1)
    for k in range(30):
        png(folder / f"{k:02d}.png", rng.integers(0, 256, (40, 36, 3)).astype("uint8"))
    dcgan_cifar10.define_generator(100).save(tmp_path / "model_000001.h5")
    argv = [str(tmp_path / "model_000001.h5"), "--data", str(folder), "--inception-weights", "random", "--n", "20",
            "--cache", str(tmp_path / "cache")]
    status, stdout, err = run_cli(evaluate.main, argv, capsys)
    assert status == 0, err
    assert f"{folder}: 30 images decoded at 32x32" in stdout and "best by KID" in stdout
    status, _, err = run_cli(evaluate.main, argv + ["--dataset", "cifar10"], capsys)
    assert status == 2 and "not both" in err
    status, _, err = run_cli(evaluate.main, argv[:1] + ["--cache", str(tmp_path / "cache")], capsys)
    assert status == 2 and "give --dataset NAME" in err


def test_eval_every_on_a_folder_scores_against_it(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "pngs"
    x, _ = tiny_mnist(32)
    for k, image in enumerate(x):
        png(folder / f"{k:03d}.png", image)
    monkeypatch.setattr(lsgan_mnist, "EVAL_SAMPLES", 20)
    monkeypatch.setattr(evaluate, "define_inception", stand_in_inception(32))  # InceptionV3 needs a download
    argv = ["--data", str(folder), "--out", str(tmp_path / "run"), "--batch-size", "16", "--epochs", "2",
            "--eval-every", "1"]
    status, stdout, err = run_cli(lsgan_mnist.main, argv, capsys)
    assert status == 0, err
    assert "best generator by kid: model_000004.h5" in stdout or "best generator by kid: model_000002.h5" in stdout
    assert "kid" in (tmp_path / "run" / "eval_history.csv").read_text().splitlines()[0]
