"""Folders of images as users have them, made from the data sets, for docs/your-own-images.md's runs.

    python benchmarks/make_folders.py photos photos/ --from cifar10_subset.npz   # JPEGs of varied sizes and shapes
    python benchmarks/make_folders.py digits digits/ --from mnist.npz --n 50000   # 28x28 grey PNGs
    python benchmarks/make_folders.py big big/ --n 100000 --size 64                # smooth colour JPEGs, for memory

photos: each colour image upscaled (bicubic) to a side of 96 to 384 pixels and cropped to a random
window of 60% to 100% of each side, saved as a JPEG (quality 90; every 50th with an EXIF orientation and
its pixels stored turned, as phones do), in subfolders of 1,000; beside them, the junk a user's folder
holds: a .DS_Store, macOS's ._ copies, a text file, a truncated JPEG. digits: the first --n training
digits as PNGs, as they are. big: --n images of --size pixels, smooth random colour gradients.
The output folder must not exist.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image


def photos(out, x, rng):
    for k, image in enumerate(x):
        side = int(rng.integers(96, 385))
        big = Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC)
        w, h = (int(side * rng.uniform(0.6, 1.0)) for _ in range(2))
        left, top = int(rng.integers(0, side - w + 1)), int(rng.integers(0, side - h + 1))
        picture = big.crop((left, top, left + w, top + h))
        folder = os.path.join(out, f"batch_{k // 1000}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"IMG_{k:05d}.jpg")
        if k % 50 == 0:  # stored turned a quarter, with the EXIF tag that turns it back
            exif = Image.Exif()
            exif[0x0112] = 6
            picture.transpose(Image.Transpose.ROTATE_90).save(path, quality=90, exif=exif.tobytes())
        else:
            picture.save(path, quality=90)
    with open(os.path.join(out, "batch_0", "IMG_00000.jpg"), "rb") as f:
        whole = f.read()
    for name, data in ((".DS_Store", b"\0\0\0\1Bud1"), ("batch_0/._IMG_00001.jpg", b"\0\5\26\7resource fork"),
                       ("notes.txt", b"holiday photos"), ("batch_0/IMG_truncated.jpg", whole[: len(whole) // 3])):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def digits(out, x):
    os.makedirs(out)
    for k, image in enumerate(x):
        Image.fromarray(image).save(os.path.join(out, f"{k:05d}.png"))


def big(out, n, size, rng):
    grid = np.linspace(0.0, 1.0, size, dtype="float32")
    for k in range(n):
        corners = rng.uniform(0, 255, (2, 2, 3)).astype("float32")
        top = corners[0, 0] * (1 - grid[:, None]) + corners[0, 1] * grid[:, None]
        bottom = corners[1, 0] * (1 - grid[:, None]) + corners[1, 1] * grid[:, None]
        image = top[None] * (1 - grid[:, None, None]) + bottom[None] * grid[:, None, None]
        folder = os.path.join(out, f"{k // 10000:02d}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image.astype("uint8")).save(os.path.join(folder, f"{k:06d}.jpg"), quality=90)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("photos", "digits", "big"))
    p.add_argument("out", help="the folder to make (it must not exist)")
    p.add_argument("--from", dest="source", help="the .npz to take images from (photos, digits)")
    p.add_argument("--n", type=int, default=None, help="how many images (default: all; big: 100000)")
    p.add_argument("--size", type=int, default=64, help="big: the images' side")
    a = p.parse_args(argv)
    if os.path.exists(a.out):
        sys.exit(f"{a.out}: exists; name a new folder")
    rng = np.random.default_rng(0)
    if a.kind == "big":
        return big(a.out, a.n or 100000, a.size, rng)
    with np.load(a.source) as data:
        x = data["x_train"][: a.n]
    return photos(a.out, x, rng) if a.kind == "photos" else digits(a.out, x)


if __name__ == "__main__":
    main()
