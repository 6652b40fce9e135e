"""Your own images: a folder of them as a training script's data, or evaluate.py's (docs/your-own-images.md).

    python lsgan_mnist.py --data my_digits/                  # grey, 28x28
    python dcgan_cifar10.py --data photos/ --image-size 64   # colour, 64x64

Every image under the folder, recursively (.png, .jpg, .jpeg, .bmp, and a .gif's first frame), in sorted
path order, hidden files and folders (.name, macOS's ._name) left out, is decoded once with Pillow:
its EXIF orientation applied; converted to the script's channels (grey or RGB), transparent pixels
onto white, 16-bit and palette images scaled and mapped; centre-cropped to a square, then resized with
Pillow's antialiased bicubic filter to the model's size. The images are cached as an .npz laid out as
keras.datasets returns its data (x_train: uint8 images; y_train: the digit of the top-level subfolder
named 0-9 an image is in, else -1; or, for a conditional GAN's classes, labels="classes": the index of its
top-level subfolder, named anything, in sorted order as keras.utils.image_dataset_from_directory numbers
them, their names in `classes`, images outside them left out), in the project's cache folder, keyed by
every file's name, size and modification time, by the size and channels and by the labels; the script's
own loader reads that .npz as it reads MNIST's, and scales it as its tutorial does. The folder is only ever read.
"""

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageOps

from gan_utils import cache_dir, save_atomically

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BACKGROUND = (255, 255, 255)  # under transparent pixels: white, as an image viewer shows most of them
RESAMPLE = Image.Resampling.BICUBIC  # antialiased when shrinking (its support widens with the factor)
RECIPE = 1  # the version of what decode() does: another recipe, another cache file
LABELS = ("digits", "classes")  # prepare()'s labels: subfolders named 0-9, or every subfolder a class
NAMED = 3  # unreadable files named in the line that counts them


def list_images(folder):
    """(image paths relative to folder, count of other files) under folder, in sorted path order (as
    '/'-separated strings), hidden files and folders left out."""
    images, others = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if name.lower().endswith(EXTENSIONS):
                images.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
            else:
                others += 1
    return sorted(images), others


def label_of(relative):
    """The digit of the top-level subfolder named 0-9 the image is in, else -1."""
    top = relative.split("/")[0] if "/" in relative else ""
    return int(top) if len(top) == 1 and top.isdigit() else -1


def class_of(relative):
    """The top-level subfolder the image is in, or None for an image at the top level."""
    return relative.split("/")[0] if "/" in relative else None


def flattened(image):
    """The image as 8-bit grey ("L") or RGB, transparent pixels on BACKGROUND: 16-bit grey scaled
    (Pillow's own conversion would clip it), palettes mapped, CMYK and the rest converted."""
    if image.mode.startswith("I"):  # 16-bit grey PNGs open as "I;16" (or "I"): 0..65535
        grey = np.rint(np.asarray(image, dtype="float64") / 257.0).clip(0, 255).astype("uint8")
        return Image.fromarray(grey, "L")
    if image.mode in ("1", "L", "RGB") and "transparency" not in image.info:
        return image.convert("L") if image.mode == "1" else image
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND + (255,)), rgba).convert("RGB")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def decode(path, size, channels):
    """The image at path as uint8 (size, size, channels): see the module's docstring."""
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft(image.mode, (size, size))  # decode at a scale no smaller than needed: phone photos load fast
        image = flattened(ImageOps.exif_transpose(image))  # a GIF's first frame: Image.open starts there
        image = image.convert("L" if channels == 1 else "RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        if image.size != (size, size):
            image = image.resize((size, size), RESAMPLE)
        return np.asarray(image, dtype="uint8").reshape(size, size, channels)


def reason(err):
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:80]


def prepare(folder, shape, cache=None, log=print, labels="digits"):
    """The path of the cached .npz of folder's images at shape (height, width, channels), made once:
    decoded on every core, unreadable files skipped and counted in one line; labelled by `labels` (the module's
    docstring). ValueError (one line): not a folder, an empty one, no images in it, or none readable; for
    "classes", fewer than two subfolders with images."""
    size, channels = shape[0], shape[-1]
    if labels not in LABELS:
        raise ValueError(f"labels={labels!r}: choose from {', '.join(LABELS)}")
    if shape[0] != shape[1] or channels not in (1, 3):
        raise ValueError(f"images of shape {shape}: square, grey or RGB only")
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: no such folder")
    relatives, others = list_images(folder)
    if not relatives:
        what = "empty" if not others else f"no images in it ({others} other files)"
        raise ValueError(f"{folder}: {what}; images are {', '.join(EXTENSIONS)}, hidden files and folders left out")
    classes, outside = [], 0
    if labels == "classes":  # as image_dataset_from_directory: the subfolders are the classes, in sorted order
        outside = sum(class_of(relative) is None for relative in relatives)
        relatives = [relative for relative in relatives if class_of(relative) is not None]
        classes = sorted({class_of(relative) for relative in relatives})
        if len(classes) < 2:
            raise ValueError(f"{folder}: {'one subfolder' if classes else 'no subfolders'} of images; a conditional "
                             "GAN learns two classes or more, each a subfolder (cats/, dogs/, ...)")
    listing = []
    for relative in relatives:
        status = os.stat(os.path.join(folder, relative))
        listing.append([relative, status.st_size, status.st_mtime_ns])
    recipe = [RECIPE, list(shape), BACKGROUND, listing] + ([labels] if labels != "digits" else [])
    key = hashlib.sha1(json.dumps(recipe).encode()).hexdigest()[:16]
    path = os.path.join(cache or cache_dir(), f"folder-{key}.npz")
    left = (f" in {len(classes)} classes" + (f" ({outside} image{'s' * (outside > 1)} outside their subfolders left "
                                             "out)" if outside else "")) if classes else ""
    if os.path.isfile(path):
        with np.load(path) as cached:
            n, skipped = len(cached["y_train"]), json.loads(str(cached["skipped"]))
        log(f"{folder}: {n} images at {size}x{size}{left}, decoded before (cache {path})" + said(skipped))
        return path
    start = time.monotonic()
    paths = [os.path.join(folder, relative) for relative in relatives]
    x = np.zeros((len(paths), size, size, channels), dtype="uint8")
    ok = np.zeros(len(paths), dtype=bool)
    skipped = []

    def one(k):
        try:
            x[k] = decode(paths[k], size, channels)
            ok[k] = True
        except Exception as err:  # Pillow's UnidentifiedImageError, OSError (truncated), DecompressionBombError...
            return f"{relatives[k]} ({reason(err)})"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow decodes without the GIL
        skipped = [message for message in pool.map(one, range(len(paths))) if message]
    if not ok.any():
        raise ValueError(f"{folder}: none of its {len(paths)} images could be read: " + named(skipped))
    label = (lambda relative: classes.index(class_of(relative))) if classes else label_of
    y = np.array([label(relative) for relative in relatives], dtype="int64")[ok]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    x = x if ok.all() else x[ok]  # (a copy only when some file was skipped)
    save_atomically(path, lambda tmp: np.savez(tmp, x_train=x, y_train=y, skipped=json.dumps(skipped),
                                               **({"classes": np.array(classes)} if classes else {})))
    log(f"{folder}: {len(x)} images decoded at {size}x{size}{left} in {time.monotonic() - start:.1f} s, "
        f"cached in {path}" + said(skipped))
    return path


def named(skipped):
    more = f", and {len(skipped) - NAMED} more" if len(skipped) > NAMED else ""
    return ", ".join(skipped[:NAMED]) + more


def said(skipped):
    return f"; {len(skipped)} unreadable files skipped: {named(skipped)}" if skipped else ""
