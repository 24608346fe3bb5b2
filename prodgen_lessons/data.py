"""Product images for the course: Fashion-MNIST, a shop's own catalogue, and tf.data pipelines.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) holds 70,000 real Zalando product photos, 28x28
grayscale, in 10 categories; MIT licence. `load_fashion_mnist()` looks for the four IDX files in
this order and says which source it used:

1. an explicit ``data_dir`` argument, or ``$PRODGEN_DATA_DIR``;
2. the Keras cache ``~/.keras/datasets/fashion-mnist/``;
3. ``/usr/share/datasets/fashion-mnist/`` (Debian/Ubuntu package ``dataset-fashion-mnist``);
4. a download from the official mirror into the Keras cache, only when ``allow_download=True``;
5. the small sample bundled with this package, with a warning that says how to get the full set.

Every file is checked (magic number, dimensions, size, SHA-256 of the decompressed bytes): a
truncated, corrupt or tampered file raises `DataError` naming the file; it is never used silently.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np

CATEGORIES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CATEGORIES_ZH = ("T恤/上衣", "裤子", "套头衫", "连衣裙", "外套",
                 "凉鞋", "衬衫", "运动鞋", "包", "短靴")
NUM_CLASSES = len(CATEGORIES)

# SHA-256 of the *decompressed* files (the .gz headers differ between mirrors, the payloads do not).
FILES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_FILE = Path(__file__).parent / "assets" / "fashion_mnist_sample.npz"
GET_FULL_SET = ("install the full set with `sudo apt-get install dataset-fashion-mnist` "
                "(Debian/Ubuntu), or call load_fashion_mnist(allow_download=True)")


class DataError(ValueError):
    """A data file or folder is missing, corrupt or not what it claims to be."""


@dataclasses.dataclass(frozen=True)
class FashionMNIST:
    x_train: np.ndarray  # (n, 28, 28) uint8
    y_train: np.ndarray  # (n,) uint8
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def __repr__(self):
        return (f"FashionMNIST(train={len(self.x_train)}, test={len(self.x_test)}, "
                f"source={self.source!r})")


# --------------------------------------------------------------------------- categories

def category_index(category) -> int:
    """Index of a category given by index, English name or Chinese name (case-insensitive)."""
    if isinstance(category, (int, np.integer)) and not isinstance(category, bool):
        if 0 <= category < NUM_CLASSES:
            return int(category)
        raise ValueError(f"category index {category} is out of range: use 0..{NUM_CLASSES - 1}")
    if isinstance(category, str):
        key = category.strip().lower()
        for i, (en, zh) in enumerate(zip(CATEGORIES, CATEGORIES_ZH)):
            # "T-shirt/top" also answers to "t-shirt" and "top".
            if key in (en.lower(), zh, *en.lower().split("/")):
                return i
        if key.isdigit():
            return category_index(int(key))
    valid = ", ".join(f"{i}={en} ({zh})" for i, (en, zh) in enumerate(zip(CATEGORIES, CATEGORIES_ZH)))
    raise ValueError(f"unknown category {category!r}; valid categories are: {valid}")


def category_name(index, lang="en") -> str:
    names = {"en": CATEGORIES, "zh": CATEGORIES_ZH}
    if lang not in names:
        raise ValueError(f"unknown language {lang!r}: use 'en' or 'zh'")
    return names[lang][category_index(index)]


# --------------------------------------------------------------------------- IDX files

MAX_IDX_BYTES = 1 << 30  # 1 GiB; the largest Fashion-MNIST file holds 47 MB


def read_idx(path, expected_sha256=None, max_bytes=MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (optionally .gz) into a uint8 array, checking its header and digest.

    The header is read first and at most one byte more than it announces: a .gz file that
    inflates to more (a gzip bomb) is refused without decompressing the rest.
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw, header, shape = _read_idx_bytes(f, path, max_bytes)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read or decompress ({err})") from err
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(f"{path}: SHA-256 {digest} does not match the published "
                            f"{expected_sha256}: the file is corrupt or was altered")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_bytes(f, path, max_bytes):
    """(raw bytes, header length, shape) of an open IDX stream."""
    raw = f.read(8)
    if len(raw) < 8:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise DataError(f"{path}: magic number {magic} is neither 2049 (labels) nor 2051 (images)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    raw += f.read(header - len(raw))
    if len(raw) < header:
        raise DataError(f"{path}: header says {ndim} dimensions but the file ends at byte {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(shape)
    if expected > max_bytes:
        raise DataError(f"{path}: header says shape {shape} ({expected:,} bytes), more than the "
                        f"{max_bytes:,} bytes this reader accepts: corrupt or not an IDX file")
    chunks, size = [raw], len(raw)
    while size <= expected:  # one byte past the announced end is enough to know there is more
        chunk = f.read(min(1 << 20, expected + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > expected:
        raise DataError(f"{path}: holds more than the {expected:,} bytes its header announces "
                        f"(shape {shape}); stopped reading: corrupt, or a gzip bomb")
    if size < expected:
        raise DataError(f"{path}: header says shape {shape} ({expected} bytes) but the file has "
                        f"{size} bytes: truncated or corrupt")
    return b"".join(chunks), header, shape


def write_idx(path, array) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed if the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim
    raw = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw += array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def _find(directory: Path, name: str):
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _load_dir(directory: Path, verify=True) -> dict:
    arrays = {}
    for name, digest in FILES.items():
        path = _find(directory, name)
        if path is None:
            raise DataError(f"{directory}: {name}[.gz] is missing")
        arrays[name] = read_idx(path, digest if verify else None)
    for split in ("train", "t10k"):
        n_img, n_lab = len(arrays[f"{split}-images-idx3-ubyte"]), len(arrays[f"{split}-labels-idx1-ubyte"])
        if n_img != n_lab:
            raise DataError(f"{directory}: {n_img} {split} images but {n_lab} labels")
    return arrays


def _has_files(directory: Path) -> bool:
    return directory.is_dir() and any(_find(directory, n) for n in FILES)


def _download(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = directory / (name + ".gz")
        if not target.exists():
            tmp = target.with_suffix(".part")
            urllib.request.urlretrieve(MIRROR + name + ".gz", tmp)
            os.replace(tmp, target)  # never leave a half-written file under the final name


def load_fashion_mnist(data_dir=None, allow_download=False, verify=True) -> FashionMNIST:
    """The full Fashion-MNIST set as uint8 arrays, from the first source found (see module doc).

    A source that exists but holds a bad file raises `DataError` rather than falling through:
    a damaged copy should be repaired, not silently replaced by another.
    """
    explicit = data_dir or os.environ.get("PRODGEN_DATA_DIR")
    if explicit:
        directory = Path(explicit).expanduser()
        if not _has_files(directory):
            raise DataError(f"{directory}: no Fashion-MNIST files there; expected "
                            + ", ".join(f"{n}[.gz]" for n in FILES))
        candidates = [directory]
    else:
        candidates = [d for d in (KERAS_CACHE, DEBIAN_DIR) if _has_files(d)]
        if not candidates and allow_download:
            _download(KERAS_CACHE)
            candidates = [KERAS_CACHE]
    if not candidates:
        warnings.warn("Fashion-MNIST not found; using the 1,200-image sample bundled with "
                      f"prodgen_lessons. For the 70,000 images, {GET_FULL_SET}.", stacklevel=2)
        return load_sample()
    directory = candidates[0]
    a = _load_dir(directory, verify=verify)
    return FashionMNIST(a["train-images-idx3-ubyte"], a["train-labels-idx1-ubyte"],
                        a["t10k-images-idx3-ubyte"], a["t10k-labels-idx1-ubyte"], str(directory))


def load_sample() -> FashionMNIST:
    """The bundled sample: 100 training and 20 test images per category of real Fashion-MNIST."""
    if not SAMPLE_FILE.is_file():
        raise DataError(f"{SAMPLE_FILE} is missing: reinstall prodgen-lessons")
    with np.load(SAMPLE_FILE, allow_pickle=False) as z:
        return FashionMNIST(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                            f"bundled sample ({SAMPLE_FILE.name})")


def make_sample(full: FashionMNIST, per_class_train=100, per_class_test=20, seed=0) -> dict:
    """Pick a class-balanced sample of `full` (used once to create the bundled file)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, x, y, k in (("train", full.x_train, full.y_train, per_class_train),
                           ("test", full.x_test, full.y_test, per_class_test)):
        idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                                      for c in range(NUM_CLASSES)]))
        out[f"x_{split}"], out[f"y_{split}"] = x[idx], y[idx]
    return out


# --------------------------------------------------------------------------- a shop's own photos

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def load_image_folder(path, size=64, channels=3, skip_broken=False):
    """Read ``path/<category>/*.jpg|png|webp|bmp`` into uint8 arrays (n, size, size, channels).

    Photos are turned upright by their EXIF orientation, transparent ones laid on white and
    16-bit ones scaled to 8 bits. Returns ``(images, labels, class_names)``, plus the list of
    skipped files when ``skip_broken=True`` (otherwise an unreadable image, or one too large to
    decode safely, raises `DataError` naming it). What it does not use (other files, nested
    folders) is listed in a warning; hidden files are ignored. A category folder left without a
    readable image is an error.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    if not isinstance(size, int) or not 64 <= size <= 256:
        raise ValueError(f"size={size!r}: use a whole number of pixels from 64 to 256")
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r}: use 1 (grayscale) or 3 (RGB)")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected {root}/<category>/<image>.jpg")
    entries = sorted(e for e in root.iterdir() if not e.name.startswith("."))
    class_dirs = [d for d in entries if d.is_dir()]
    if not class_dirs:
        raise DataError(f"{root}: no category sub-folders; expected {root}/<category>/<image>.jpg")
    images, labels, skipped = [], [], []
    unused = [e for e in entries if not e.is_dir()]
    for label, class_dir in enumerate(class_dirs):
        found = 0
        for file in sorted(f for f in class_dir.iterdir() if not f.name.startswith(".")):
            if file.is_dir() or file.suffix.lower() not in IMAGE_SUFFIXES:
                unused.append(file)
                continue
            try:
                array = _read_image(file, size, channels)
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError,
                    Image.DecompressionBombError) as err:  # Pillow's plugins raise all of these
                if not skip_broken:
                    raise DataError(f"{file}: unreadable image ({err}); pass skip_broken=True "
                                    "to skip and count such files") from err
                skipped.append(str(file))
                continue
            images.append(array)
            labels.append(label)
            found += 1
        if not found:
            raise DataError(f"{class_dir}: no readable {'/'.join(IMAGE_SUFFIXES)} images in this "
                            "category folder; add some or remove the folder")
    if unused:
        shown = ", ".join(str(f.relative_to(root)) for f in unused[:20])
        warnings.warn(f"{root}: {len(unused)} entries not used (only {'/'.join(IMAGE_SUFFIXES)} files "
                      f"directly inside a category folder are read): {shown}"
                      + (", ..." if len(unused) > 20 else ""), stacklevel=2)
    result = (np.stack(images), np.asarray(labels, np.int32), [d.name for d in class_dirs])
    return (*result, skipped) if skip_broken else result


def _read_image(file, size, channels):
    """One image file as uint8 (size, size, channels): upright, on white, 8 bits per channel."""
    from PIL import Image, ImageOps

    with Image.open(file) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode.startswith("I"):  # 16-bit grayscale ("I;16", "I"): convert("L") would clip at 255
            im = Image.fromarray((np.asarray(im, np.float64) / 257).round().clip(0, 255).astype(np.uint8))
        elif im.has_transparency_data:
            im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
        im = im.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).reshape(size, size, channels)


# --------------------------------------------------------------------------- tf.data

SCALES = {"unit": (1 / 255.0, 0.0), "tanh": (2 / 255.0, -1.0)}


def scale_images(images, scale="tanh"):
    """uint8 pixels to float32: "unit" -> [0, 1] (VAE, classifier), "tanh" -> [-1, 1] (GANs)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use 'unit' for [0, 1] or 'tanh' for [-1, 1]")
    mul, add = SCALES[scale]
    return np.asarray(images, np.float32) * mul + add


def to_uint8(images, scale="unit"):
    """Inverse of `scale_images`, clipped: float images back to uint8 pixels."""
    mul, add = SCALES[scale]
    return np.clip(np.round((np.asarray(images) - add) / mul), 0, 255).astype(np.uint8)


def make_dataset(images, labels=None, batch_size=128, scale="tanh", pad_to=None, shuffle=True,
                 seed=0, cache=True, drop_remainder=True, augment=None):
    """A tf.data pipeline of float32 (B, H, W, C) images (and int32 labels), deterministic under `seed`.

    pad_to=32 zero-pads 28x28 images to 32x32 (the background value of the chosen scale).
    `augment` is a Keras layer (e.g. `augmentation()`) applied per batch, training only.
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels (0..255), got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (n, H, W) or (n, H, W, 1|3), got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: use a positive whole number")
    x = scale_images(images, scale)
    if pad_to is not None:
        h, w = x.shape[1:3]
        if pad_to < max(h, w):
            raise ValueError(f"pad_to={pad_to} is smaller than the images ({h}x{w})")
        top, left = (pad_to - h) // 2, (pad_to - w) // 2
        x = np.pad(x, ((0, 0), (top, pad_to - h - top), (left, pad_to - w - left), (0, 0)),
                   constant_values=SCALES[scale][1])
    tensors = x if labels is None else (x, np.asarray(labels, np.int32))
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(x), 60_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        if labels is None:
            ds = ds.map(lambda b: augment(b, training=True))
        else:
            ds = ds.map(lambda b, y: (augment(b, training=True), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def augmentation(flip=True, rotation=0.05, zoom=0.1, crop=0.0, translation=0.1, brightness=0.2,
                 contrast=0.2, seed=0, value_range=(-1.0, 1.0), image_size=28):
    """The augmentations of the article's section 2.3 as Keras preprocessing layers.

    Fractions follow Keras: rotation in turns (0.05 = 18 degrees), zoom/translation as a
    fraction of the image size, crop as the fraction cut away before resizing back to
    `image_size`, brightness/contrast as a factor. 0 or False switches one off.
    """
    import keras
    from keras import layers

    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))  # shoes point both ways
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="constant",
                                           fill_value=value_range[0], seed=seed + 1))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode="constant", fill_value=value_range[0],
                                       seed=seed + 2))
    if crop:
        keep = int(round(image_size * (1 - crop)))
        steps += [layers.RandomCrop(keep, keep, seed=seed + 6), layers.Resizing(image_size, image_size)]
    if translation:
        steps.append(layers.RandomTranslation(translation, translation, fill_mode="constant",
                                              fill_value=value_range[0], seed=seed + 3))
    if brightness:
        steps.append(layers.RandomBrightness(brightness, value_range=value_range, seed=seed + 4))
    if contrast:
        # Keras clips contrast output to value_range (default 0..255, which would turn a
        # [-1, 1] background of -1 into 0): pass the data's range.
        steps.append(layers.RandomContrast(contrast, value_range=value_range, seed=seed + 5))
    return keras.Sequential(steps, name="augmentation")
