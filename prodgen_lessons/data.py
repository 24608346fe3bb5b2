"""Product images for the course: one `Catalogue` type for every source, and tf.data pipelines.

A `Catalogue` holds a product catalogue's category names (with Chinese names where known), its
image shape, a train/test split and where it came from. Three sources make one:

- `load_fashion_mnist()`: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 70,000 real Zalando product
  photos, 28x28 grayscale, 10 categories, MIT licence. It looks for the four IDX files in this
  order and says which source it used:
  1. an explicit ``data_dir`` argument, or ``$PRODGEN_DATA_DIR``;
  2. the Keras cache ``~/.keras/datasets/fashion-mnist/``;
  3. ``/usr/share/datasets/fashion-mnist/`` (Debian/Ubuntu package ``dataset-fashion-mnist``);
  4. a download from the official mirror into the Keras cache, only when ``allow_download=True``;
  5. the small sample bundled with this package (`load_sample()`), with a warning that says how
     to get the full set.
  Every file is checked (magic number, dimensions, size, SHA-256 of the decompressed bytes): a
  truncated, corrupt or tampered file raises `DataError` naming the file; it is never used silently.
- `load_catalogue(folder)`: a shop's photos, one sub-folder per category (any script: ``运动鞋/``),
  optionally split into ``train/`` and ``test/``. Files are listed and their headers checked up
  front; pixels are decoded while training streams them (`Catalogue.dataset`), so memory does not
  grow with the catalogue.
- `write_colour_variants(folder)`: Fashion-MNIST products recoloured in a palette of named
  product colours, written as such a folder: a colour catalogue to teach with, whose colour the
  pixels measure exactly (`colour_of`).

Pixel conventions: images are stored as uint8; `scale_images` turns them into float32 in [0, 1]
("unit": VAE, classifier) or [-1, 1] ("tanh": GANs), `as_float` converts between those ranges and
`to_uint8` back to pixels.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import threading
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
# Their shapes, checked from the header before a byte more is read (the digest needs it all).
SHAPES = {"train-images-idx3-ubyte": (60000, 28, 28), "train-labels-idx1-ubyte": (60000,),
          "t10k-images-idx3-ubyte": (10000, 28, 28), "t10k-labels-idx1-ubyte": (10000,)}
MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_FILE = Path(__file__).parent / "assets" / "fashion_mnist_sample.npz"
GET_FULL_SET = ("install the full set with `sudo apt-get install dataset-fashion-mnist` "
                "(Debian/Ubuntu), or call load_fashion_mnist(allow_download=True)")


class DataError(ValueError):
    """A data file or folder is missing, corrupt or not what it claims to be."""


# --------------------------------------------------------------------------- categories

def category_index(category, class_names=CATEGORIES, class_names_zh=CATEGORIES_ZH) -> int:
    """Index of a category given by index, name or Chinese name (case-insensitive).

    Defaults to Fashion-MNIST's categories; `Catalogue.category_index` asks its own."""
    n = len(class_names)
    if isinstance(category, (int, np.integer)) and not isinstance(category, bool):
        if 0 <= category < n:
            return int(category)
        raise ValueError(f"category index {category} is out of range: use 0..{n - 1}")
    if isinstance(category, str):
        if category in class_names:  # a folder's own name wins over aliases and indices ("7/", "运动鞋/")
            return list(class_names).index(category)
        key = category.strip().lower().replace("/", "-")  # "/" cannot be in a folder's name
        zh = class_names_zh or (None,) * n
        for i, (en, cn) in enumerate(zip(class_names, zh)):
            # "T-shirt/top" also answers to "t-shirt", "top" and "T-shirt-top" (its folder name).
            if key in (en.lower().replace("/", "-"), (cn or "").lower().replace("/", "-"), *en.lower().split("/")):
                return i
        if key.isdigit():
            return category_index(int(key), class_names, class_names_zh)
    valid = ", ".join(f"{i}={en}" + (f" ({cn})" if cn and cn != en else "")
                      for i, (en, cn) in enumerate(zip(class_names, class_names_zh or (None,) * n)))
    raise ValueError(f"unknown category {category!r}; valid categories are: {valid}")


def category_name(index, lang="en", class_names=CATEGORIES, class_names_zh=CATEGORIES_ZH) -> str:
    """The English ("en") or Chinese ("zh") name of a category (Chinese falls back to the name)."""
    if lang not in ("en", "zh"):
        raise ValueError(f"unknown language {lang!r}: use 'en' or 'zh'")
    i = category_index(index, class_names, class_names_zh)
    return (class_names_zh or class_names)[i] or class_names[i] if lang == "zh" else class_names[i]


def _known_chinese_name(name):
    """The Chinese name of a category folder: the name itself when it is written in Chinese, the
    translation of a Fashion-MNIST category's full English name (the folders of
    `write_colour_variants`), else None. Never through an index: folder "7" is not Sneaker."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return name
    folder = {en.lower().replace("/", "-"): zh for en, zh in zip(CATEGORIES, CATEGORIES_ZH)}
    return folder.get(name.strip().lower().replace("/", "-"))


def _folder_chinese_names(names):
    """`_known_chinese_name` of each folder, less those that would name two categories (folder
    Sneaker/ beside 运动鞋/ gets none): every category keeps one meaning."""
    zh = [_known_chinese_name(n) for n in names]
    taken = [*names, *zh]
    return tuple(cn if cn == en or taken.count(cn) == 1 else None for en, cn in zip(names, zh))


# --------------------------------------------------------------------------- pixels and checks

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


def as_float(images, scale="unit", given=None, name="images"):
    """Images as float32 (N, H, W, C) in the range `scale` names ("unit": [0, 1], "tanh": [-1, 1]).

    uint8 pixels are scaled; float images are taken to be in the range `given` names ("unit" or
    "tanh"; None: "tanh" when they hold values below 0) and must lie in it. (N, H, W) gains a
    channel axis."""
    for s in (scale, given or "unit"):
        if s not in SCALES:
            raise ValueError(f"scale={s!r}: use 'unit' for [0, 1] or 'tanh' for [-1, 1]")
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be images (N, H, W) or (N, H, W, C), got shape {np.shape(images)}")
    if x.dtype == np.uint8:
        return scale_images(x, scale)
    x = x.astype(np.float32)
    if given is None:
        given = "tanh" if x.size and x.min() < -1e-3 else "unit"
    low = SCALES[given][1]
    if x.size and (x.min() < low - 1e-3 or x.max() > 1 + 1e-3):
        raise ValueError(f"{name} must be uint8 or float in [{low:.0f}, 1], got range "
                         f"[{x.min():.3f}, {x.max():.3f}]" + ("; for tanh outputs in [-1, 1] pass "
                                                              "(images + 1) / 2" if given == "unit" else ""))
    if given != scale:
        x = (x + 1.0) / 2.0 if scale == "unit" else x * 2.0 - 1.0
    return np.clip(x, SCALES[scale][1], 1.0)


def check_image_shape(image_shape, min_side=1):
    """(height, width, channels) as a tuple of ints, channels 1 or 3; else a ValueError saying so."""
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = None
    if not shape or len(shape) != 3 or shape[-1] not in (1, 3) or min(shape[:2]) < min_side:
        raise ValueError(f"image_shape must be (height, width, channels) with channels 1 or 3 and "
                         f"sides of at least {min_side}, got {image_shape!r}")
    return shape


def check_labels(labels, n, num_classes):
    """Labels as int32 (n,), each in 0..num_classes-1; else a ValueError naming the problem."""
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the images, got {y.shape}")
    if y.size and (not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be whole numbers from 0 to {num_classes - 1}, "
                         f"got {y.min()}..{y.max()}")
    return y.astype(np.int32)


# --------------------------------------------------------------------------- IDX files

MAX_IDX_BYTES = 1 << 30  # 1 GiB; the largest Fashion-MNIST file holds 47 MB


def read_idx(path, expected_sha256=None, max_bytes=MAX_IDX_BYTES, expected_shape=None) -> np.ndarray:
    """Read an IDX file (optionally .gz) into a uint8 array, checking its header and digest.

    The header is read first and checked against `expected_shape` (its images' shape, at most its
    count) and an uncompressed file's length, so a header that lies costs no memory; then at most
    one byte more than it announces is read: a .gz file that inflates to more (a gzip bomb) is
    refused without decompressing the rest.
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw, header, shape = _read_idx_bytes(f, path, max_bytes, expected_shape)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read or decompress ({err})") from err
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(f"{path}: SHA-256 {digest} does not match the published "
                            f"{expected_sha256}: the file is corrupt or was altered")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_bytes(f, path, max_bytes, expected_shape=None):
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
    # its images' shape, and at most its count (a smaller set of the same files is fine)
    if expected_shape is not None and (len(shape) != len(expected_shape) or shape[1:] != tuple(expected_shape[1:])
                                       or shape[0] > expected_shape[0]):
        raise DataError(f"{path}: header says shape {shape}, but Fashion-MNIST's {path.name.removesuffix('.gz')} "
                        f"is {tuple(expected_shape)}: corrupt, or not Fashion-MNIST")
    length = None if isinstance(f, gzip.GzipFile) else os.fstat(f.fileno()).st_size
    if length is not None and length < expected:  # known before reading: no allocation
        raise DataError(f"{path}: header says shape {shape} ({expected:,} bytes) but the file has "
                        f"{length:,} bytes: truncated or corrupt")
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
        arrays[name] = read_idx(path, digest if verify else None, expected_shape=SHAPES[name] if verify else None)
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


# --------------------------------------------------------------------------- the catalogue type

IN_MEMORY_LIMIT = 2 * 1024**3  # bytes of pixels `x_train` / `x_test` decode at most from files


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One split of a catalogue: int32 labels, and either uint8 pixels in memory or image files."""

    labels: np.ndarray
    pixels: np.ndarray | None = None   # (n, H, W) or (n, H, W, C)
    files: tuple | None = None         # read (and resized) when needed

    def __len__(self):
        return len(self.labels)

    def select(self, index):
        """The images at `index` (a slice, or a boolean mask over the split)."""
        return Split(self.labels[index], None if self.pixels is None else self.pixels[index],
                     None if self.files is None else tuple(np.asarray(self.files, dtype=object)[index]))


class Catalogue:
    """A product catalogue from any source: category names, image shape, a train/test split.

    Models, training, metrics, plots, widgets and the CLI take a Catalogue and never ask where it
    came from. `dataset(split)` streams batches through tf.data; `take(split, n)` decodes a sample
    into memory; `x_train`, `y_train`, `x_test`, `y_test` give whole splits as arrays (refused for a
    folder too large to hold). Files found unreadable are an error naming them, or, when the
    catalogue was loaded with ``skip_broken=True``, skipped and listed in `skipped`. What a folder
    held but the catalogue does not use is listed in `unused`.
    """

    def __init__(self, class_names, image_shape, train, test, source, class_names_zh=None,
                 unused=(), skipped=(), skip_broken=False, origin=None):
        self.class_names = tuple(str(n) for n in class_names)
        self.class_names_zh = tuple(class_names_zh) if class_names_zh else _folder_chinese_names(self.class_names)
        self.image_shape = check_image_shape(image_shape)
        self.train, self.test = train, test
        self.source = str(source)
        self.origin = origin  # what `load_catalogue` takes to load it again (None: it cannot)
        self.unused = tuple(unused)
        self.skip_broken = bool(skip_broken)
        self.skipped = list(skipped)
        self.read_error = None  # the DataError that stopped a stream, for the caller to re-raise
        self._lock = threading.Lock()
        self._decoded = {}

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test, source, class_names=CATEGORIES,
                    class_names_zh=CATEGORIES_ZH, origin=None):
        """A catalogue of uint8 images (n, H, W[, C]) held in memory."""
        x_train, x_test = np.asarray(x_train), np.asarray(x_test)
        for name, x in (("x_train", x_train), ("x_test", x_test)):
            if x.dtype != np.uint8 or x.ndim not in (3, 4):
                raise ValueError(f"{name} must be uint8 images (n, H, W[, C]), got {x.dtype} {x.shape}")
        shape = x_train.shape[1:] if x_train.ndim == 4 else (*x_train.shape[1:], 1)
        k = len(class_names)
        return cls(class_names, shape, Split(check_labels(y_train, len(x_train), k), x_train),
                   Split(check_labels(y_test, len(x_test), k), x_test), source, class_names_zh, origin=origin)

    def __repr__(self):
        h, w, c = self.image_shape
        return (f"Catalogue({self.num_classes} categories, train={len(self.train):,}, "
                f"test={len(self.test):,}, {h}x{w}x{c}, source={self.source!r})")

    # --- categories
    @property
    def num_classes(self):
        return len(self.class_names)

    def category_index(self, category) -> int:
        return category_index(category, self.class_names, self.class_names_zh)

    def category_name(self, index, lang="en") -> str:
        return category_name(index, lang, self.class_names, self.class_names_zh)

    def counts(self, split="train"):
        """Images per category in `split`, as an int array (num_classes,)."""
        return np.bincount(self._split(split).labels, minlength=self.num_classes)

    def thin_test_split(self, at_least):
        """Why the test split is too small to measure a model on (fewer than `at_least` images, or
        a category without any), as a sentence; None when it is not."""
        empty = [n for n, c in zip(self.class_names, self.counts("test")) if not c]
        if len(self.test) >= at_least and not empty:
            return None
        none = f", none of {', '.join(empty[:10])}{', ...' if len(empty) > 10 else ''}" if empty else ""
        return (f"the test split of {self.source} holds {len(self.test):,} image(s){none}; measuring a model "
                f"needs at least {at_least} and one of every category: add photos (a folder holds out about "
                "a tenth of each category of 2 or more) or a test/ folder")

    def describe(self):
        """What a checkpoint needs to know of its data (class names, image shape, source)."""
        return dict(source=self.source, origin=self.origin, class_names=list(self.class_names),
                    class_names_zh=list(self.class_names_zh), image_shape=list(self.image_shape),
                    in_memory=self.in_memory)

    # --- images
    @property
    def in_memory(self):
        return self.train.pixels is not None

    def _split(self, split):
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}: use 'train' or 'test'")
        return self.train if split == "train" else self.test

    def _whole(self, split):
        s = self._split(split)
        if s.pixels is not None:
            return s.pixels
        if split not in self._decoded:
            need = len(s) * math.prod(self.image_shape)
            if need > IN_MEMORY_LIMIT:
                raise DataError(f"{self.source}: its {len(s):,} {split} images would take {need / 1e9:.1f} GB "
                                f"in memory; stream them with .dataset({split!r}) or decode a sample "
                                f"with .take({split!r}, n)")
            self._decoded[split] = self.take(split)
        return self._decoded[split][0]

    x_train = property(lambda self: self._whole("train"), doc="training images, uint8")
    x_test = property(lambda self: self._whole("test"), doc="test images, uint8")
    # With skip_broken, labels follow the images that decoded.
    y_train = property(lambda self: self._decoded["train"][1] if "train" in self._decoded else self.train.labels)
    y_test = property(lambda self: self._decoded["test"][1] if "test" in self._decoded else self.test.labels)

    def subset(self, n_train):
        """The same catalogue with only its first `n_train` training images."""
        train = self.train.select(slice(n_train))
        return Catalogue(self.class_names, self.image_shape, train, self.test,
                         f"{self.source} (first {len(train):,})", self.class_names_zh, self.unused,
                         self.skipped, self.skip_broken)

    def without(self, *categories):
        """The same catalogue without the images of `categories` (names or indices), in both splits:
        a model pre-trained on it has never seen them (transfer learning, chapter 6). The category
        names stay, so labels keep their meaning."""
        drop = [self.category_index(c) for c in categories]
        train, test = (s.select(~np.isin(s.labels, drop)) for s in (self.train, self.test))
        names = ", ".join(self.class_names[i] for i in drop)
        return Catalogue(self.class_names, self.image_shape, train, test,
                         f"{self.source} (without {names})", self.class_names_zh, self.unused, self.skipped,
                         self.skip_broken)

    def read(self, file):
        """One image file at this catalogue's shape; None when it is unreadable and skip_broken."""
        try:
            return read_image(file, self.image_shape[0], self.image_shape[2])
        except DataError as err:
            if not self.skip_broken:
                self.read_error = err
                raise
            with self._lock:
                if str(file) not in self.skipped:
                    self.skipped.append(str(file))
            return None

    def take(self, split="train", n=None, seed=0, category=None):
        """(uint8 images (m, H, W, C), labels (m,)): all of `split`, or `n` of them drawn with
        `seed`, optionally of one category only. Files are decoded in parallel threads."""
        s = self._split(split)
        idx = np.arange(len(s))
        if category is not None:
            idx = idx[s.labels == self.category_index(category)]
        if n is not None and n < len(idx):
            idx = np.sort(np.random.default_rng(seed).choice(idx, int(n), replace=False))
        if s.pixels is not None:
            x = s.pixels[idx]
            return (x[..., None] if x.ndim == 3 else x), s.labels[idx]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            images = list(pool.map(self.read, [s.files[i] for i in idx]))
        keep = [i for i, image in zip(idx, images) if image is not None]
        stacked = np.stack([im for im in images if im is not None]) if keep else np.zeros((0, *self.image_shape), np.uint8)
        return stacked, s.labels[np.asarray(keep, int)]

    def dataset(self, split="train", batch_size=128, scale="tanh", shuffle=True, seed=0,
                drop_remainder=True, augment=None):
        """A tf.data pipeline of (float32 images (B, H, W, C), int32 labels), deterministic under
        `seed`. Files are decoded, resized and scaled in parallel as batches are drawn, so memory
        does not grow with the catalogue."""
        s = self._split(split)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}: use a positive whole number")
        if drop_remainder and batch_size > len(s):  # whole batches only: the epoch would be empty
            raise DataError(f"batch size {batch_size} is larger than the {len(s):,} "
                            f"{'training' if split == 'train' else 'test'} images of {self.source}: "
                            f"use at most {len(s)}")
        if s.pixels is not None:
            return make_dataset(s.pixels, s.labels, batch_size=batch_size, scale=scale, shuffle=shuffle,
                                seed=seed, drop_remainder=drop_remainder, augment=augment)
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r}: use 'unit' for [0, 1] or 'tanh' for [-1, 1]")
        import tensorflow as tf

        blank = np.zeros(self.image_shape, np.uint8)

        def read(path):
            image = self.read(path.decode())
            return (blank, False) if image is None else (image, True)

        mul, add = SCALES[scale]
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(s.files), s.labels.astype(np.int32)))
        if shuffle:  # shuffles file names, not pixels: cheap at any size
            ds = ds.shuffle(len(s), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda p, y: (*tf.numpy_function(read, [p], (tf.uint8, tf.bool)), y),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if self.skip_broken:  # the epoch then has an unknown number of batches
            ds = ds.filter(lambda x, ok, y: ok)
        ds = ds.map(lambda x, ok, y: (tf.cast(tf.ensure_shape(x, self.image_shape), tf.float32) * mul + add, y))
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if augment is not None:
            ds = ds.map(lambda b, y: (augment(b, training=True), y))
        return ds.prefetch(tf.data.AUTOTUNE)


def origin_of(source):
    """The `Catalogue.origin` `load_catalogue(source)` gives, without loading anything: what a run
    remembers of its data, to compare another source with."""
    if source in (None, "fashion-mnist"):
        explicit = os.environ.get("PRODGEN_DATA_DIR")
        return str(Path(explicit).expanduser().resolve()) if explicit else "fashion-mnist"
    if source in ("sample", "colour-variants"):
        return source
    return str(Path(source).expanduser().resolve())


def load_catalogue(source=None, image_size=None, channels=None, skip_broken=False, test_fraction=0.1):
    """The catalogue `source` names: "fashion-mnist" (default), "sample" (the bundled one),
    "colour-variants" (`colour_catalogue`), a folder with Fashion-MNIST's IDX files, or a folder of category sub-folders of images
    (`scan_image_folder`, at `image_size` pixels (default 64) and `channels` (default 3))."""
    if source in (None, "fashion-mnist", "sample", "colour-variants"):
        catalogue = {"sample": load_sample, "colour-variants": colour_catalogue}.get(source, load_fashion_mnist)()
    else:
        root = Path(source).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: no such folder; use 'fashion-mnist', 'sample', a folder with "
                            "Fashion-MNIST's IDX files, or a folder with one sub-folder of images "
                            "per category")
        if not _has_files(root):
            return scan_image_folder(root, image_size or 64, channels or 3, skip_broken, test_fraction)
        catalogue = load_fashion_mnist(data_dir=root)
    h, w, c = catalogue.image_shape
    if image_size not in (None, h) or channels not in (None, c):
        raise ValueError(f"{catalogue.source} holds {h}x{w} images with {c} channel(s); an image size "
                         "and channels are chosen for folders of image files only")
    return catalogue


def load_fashion_mnist(data_dir=None, allow_download=False, verify=True) -> Catalogue:
    """The full Fashion-MNIST set, from the first source found (see module doc).

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
    return Catalogue.from_arrays(a["train-images-idx3-ubyte"], a["train-labels-idx1-ubyte"],
                                 a["t10k-images-idx3-ubyte"], a["t10k-labels-idx1-ubyte"], str(directory),
                                 origin=str(directory.resolve()) if explicit else "fashion-mnist")


def load_sample() -> Catalogue:
    """The bundled sample: 100 training and 20 test images per category of real Fashion-MNIST."""
    if not SAMPLE_FILE.is_file():
        raise DataError(f"{SAMPLE_FILE} is missing: reinstall prodgen-lessons")
    with np.load(SAMPLE_FILE, allow_pickle=False) as z:
        return Catalogue.from_arrays(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                                     f"bundled sample ({SAMPLE_FILE.name})", origin="sample")


def make_sample(full, per_class_train=100, per_class_test=20, seed=0) -> dict:
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
# The most pixels a photo may have, checked from its header before decoding: a 40-megapixel photo
# decodes to 120 MB, and several decode at once. Below Pillow's own MAX_IMAGE_PIXELS (89 million,
# a warning; twice that, an error). Raise it with $PRODGEN_MAX_PIXELS (or --max-pixels).
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "PRODGEN_MAX_PIXELS"


def max_pixels():
    """The pixel cap: $PRODGEN_MAX_PIXELS, else DEFAULT_MAX_PIXELS. A bad value is a ValueError."""
    text = os.environ.get(MAX_PIXELS_ENV)
    if text is None:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{MAX_PIXELS_ENV}={text!r}: use a whole number of pixels, e.g. 100000000")
    return value
IMAGE_SIZES = (16, 512)  # the smallest and largest side a folder's images are resized to


def _check_image_size(image_size):
    low, high = IMAGE_SIZES
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not low <= image_size <= high:
        raise ValueError(f"image size {image_size!r}: use a whole number of pixels from {low} to {high}")


def _pillow_errors():
    from PIL import Image, UnidentifiedImageError

    # Pillow's plugins raise all of these for damaged or hostile files.
    return (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _unreadable(file, err):
    return DataError(f"{file}: unreadable image ({err}); pass skip_broken=True (--skip-broken) "
                     "to skip and count such files")


def read_image(file, size, channels=3):
    """One image file as uint8 (size, size, channels): upright by its EXIF orientation,
    transparent parts on white, 16-bit scaled to 8 bits. An unreadable file, or one too large to
    decode safely, raises `DataError` naming it."""
    from PIL import Image, ImageOps

    try:
        with Image.open(file) as im:
            _check_pixels(file, im)
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I"):  # 16-bit grayscale ("I;16", "I"): convert("L") would clip at 255
                im = Image.fromarray((np.asarray(im, np.float64) / 257).round().clip(0, 255).astype(np.uint8))
            elif im.has_transparency_data:
                im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
            im = im.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).reshape(size, size, channels)
    except DataError:  # too many pixels: said as it is
        raise
    except _pillow_errors() as err:
        raise _unreadable(file, err) from err


def _check_header(file):
    """Open `file` far enough to know its format and size (cheap: no pixels are decoded)."""
    from PIL import Image

    try:
        with Image.open(file) as im:
            if min(im.size) < 1:
                raise ValueError(f"{im.size[0]}x{im.size[1]} pixels")
            _check_pixels(file, im)
    except DataError:
        raise
    except _pillow_errors() as err:
        raise _unreadable(file, err) from err


def _check_pixels(file, im):
    """Refuse an image larger than the pixel cap from its header, before it is decoded."""
    width, height = im.size
    cap = max_pixels()
    if width * height > cap:
        raise DataError(f"{shown(file)}: {width:,}x{height:,} pixels is more than the {cap:,} this reader "
                        f"decodes; shrink the photo, or raise the cap with --max-pixels (${MAX_PIXELS_ENV}), "
                        "or pass --skip-broken to skip such files")


def _visible(folder):
    return sorted(e for e in Path(folder).iterdir() if not e.name.startswith("."))


def shown(path):
    """`path` as text that prints and saves: the bytes of a name that are not UTF-8 (which Python
    keeps as lone surrogates, and which no UTF-8 output takes) as \\xff escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_utf8_name(path):
    """A file name that is not UTF-8 cannot reach tf.data or a JSON file: a DataError naming it."""
    if shown(path.name) != path.name:
        raise DataError(f"{shown(path)}: the file name is not valid UTF-8; rename it, or pass "
                        "skip_broken=True (--skip-broken) to skip and count such files")


def _scan_categories(folder, names, skip_broken):
    """(files, labels, unused, skipped) of `folder`/<name>/ for each category name."""
    files, labels, unused, skipped = [], [], [], []
    for label, name in enumerate(names):
        if shown(name) != name:  # the name is the category: it must be text
            raise DataError(f"{shown(folder / name)}: a category folder's name must be valid UTF-8 "
                            "(it names the category); rename it")
        found = 0
        for entry in _visible(folder / name):
            if entry.is_dir() or entry.suffix.lower() not in IMAGE_SUFFIXES:
                unused.append(entry)
                continue
            try:
                _check_utf8_name(entry)
                _check_header(entry)
            except DataError:
                if not skip_broken:
                    raise
                skipped.append(shown(entry))
                continue
            files.append(str(entry))
            labels.append(label)
            found += 1
        if not found:
            raise DataError(f"{folder / name}: no readable {'/'.join(IMAGE_SUFFIXES)} images in this "
                            "category folder; add some or remove the folder")
    return files, np.asarray(labels, np.int32), unused, skipped


def _hash_fraction(text):
    """A stable number in [0, 1) for `text`: the same file stays in the same split as the
    catalogue grows."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2.0**64


def _hold_out(files, labels, root, fraction, num_classes):
    """Boolean mask of the test images: `fraction` of each category by a hash of the file's path,
    at least one per category of two or more images."""
    h = np.array([_hash_fraction(str(Path(f).relative_to(root))) for f in files])
    test = h < fraction
    for k in range(num_classes):
        mine = np.flatnonzero(labels == k)
        if len(mine) >= 2 and not test[mine].any():
            test[mine[np.argmin(h[mine])]] = True
        if len(mine) >= 2 and test[mine].all():
            test[mine[np.argmax(h[mine])]] = False
    return test


def scan_image_folder(path, image_size=64, channels=3, skip_broken=False, test_fraction=0.1) -> Catalogue:
    """A catalogue of ``path/<category>/*.jpg|png|webp|bmp`` (or ``path/train/<category>/...``
    and ``path/test/<category>/...``), read at `image_size` x `image_size` with `channels`.

    Every file's header is checked now; pixels are decoded when the catalogue is used. Without
    train/ and test/ folders, `test_fraction` of each category is held out for evaluation, chosen
    by a hash of each file's path (stable as the catalogue grows). An unreadable file raises
    `DataError` naming it, or with ``skip_broken=True`` is skipped and listed in `skipped`. What
    is not used (other files, nested folders) is listed in `unused` and in a warning; hidden files
    are ignored. A category folder without a readable image is an error.
    """
    root = Path(path)
    _check_image_size(image_size)
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r}: use 1 (grayscale) or 3 (RGB)")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r}: use a fraction between 0 and 1, e.g. 0.1")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected {root}/<category>/<image>.jpg")
    entries = _visible(root)
    folders = {e.name: e for e in entries if e.is_dir()}
    unused = [e for e in entries if not e.is_dir()]
    if "train" in folders and "test" in folders:
        unused += [e for n, e in folders.items() if n not in ("train", "test")]
        names = [e.name for e in _visible(root / "train") if e.is_dir()]
        test_names = [e.name for e in _visible(root / "test") if e.is_dir()]
        if names != test_names or not names:
            raise DataError(f"{root}: train/ has the category folders {names} and test/ has "
                            f"{test_names}; both need the same, non-empty set")
        train_files, train_labels, u1, s1 = _scan_categories(root / "train", names, skip_broken)
        test_files, test_labels, u2, s2 = _scan_categories(root / "test", names, skip_broken)
        unused += [e for e in (*(root / "train").iterdir(), *(root / "test").iterdir())
                   if not e.is_dir() and not e.name.startswith(".")] + u1 + u2
        skipped = s1 + s2
    else:
        names = list(folders)
        if not names:
            raise DataError(f"{root}: no category sub-folders; expected {root}/<category>/<image>.jpg")
        files, labels, u, skipped = _scan_categories(root, names, skip_broken)
        unused += u
        test = _hold_out(files, labels, root, test_fraction, len(names))
        files = np.asarray(files)
        train_files, train_labels = files[~test], labels[~test]
        test_files, test_labels = files[test], labels[test]
    if unused:
        listed = ", ".join(shown(e.relative_to(root)) + ("/" if e.is_dir() else "") for e in unused[:20])
        warnings.warn(f"{root}: {len(unused)} entries not used (only {'/'.join(IMAGE_SUFFIXES)} files "
                      f"directly inside a category folder are read): {listed}"
                      + (", ..." if len(unused) > 20 else ""), stacklevel=2)
    return Catalogue(names, (image_size, image_size, channels),
                     Split(np.asarray(train_labels, np.int32), files=tuple(train_files)),
                     Split(np.asarray(test_labels, np.int32), files=tuple(test_files)),
                     shown(root), unused=[shown(e) for e in unused], skipped=skipped, skip_broken=skip_broken,
                     origin=str(root.resolve()))


# --------------------------------------------------------------------------- a colour catalogue

# Named product colours whose ink directions (255 - colour) lie at least 21 degrees apart, so the
# colour of a product is measured exactly from its pixels (`colour_of`).
COLOURS = {"red": (205, 30, 40), "yellow": (235, 195, 25), "green": (40, 150, 60),
           "blue": (40, 80, 205), "purple": (135, 50, 170)}
COLOURS_ZH = {"red": "红色", "yellow": "黄色", "green": "绿色", "blue": "蓝色", "purple": "紫色"}


def colourise(grey, colour):
    """Fashion-MNIST pixels (0 = background, 255 = full product) as a product of `colour` (RGB)
    on white: each pixel mixes white and the colour in the proportion of its grey value."""
    g = np.asarray(grey, np.float32)[..., None] / 255.0
    return np.round(255.0 - g * (255.0 - np.asarray(colour, np.float32))).astype(np.uint8)


def colour_of(images, threshold=0.15, given=None):
    """Index into `COLOURS` of each product's colour, measured from its pixels: the direction of
    the mean "ink" (1 - pixel, in [0, 1]) over the product's pixels (ink above `threshold` in some
    channel), matched to the nearest palette direction. Exact for `colourise`'s images.
    `given`: the range of float images, as in `as_float`."""
    x = as_float(images, "unit", given)
    if x.shape[-1] != 3:
        raise ValueError(f"colour_of needs RGB images (N, H, W, 3), got shape {np.shape(images)}")
    ink = 1.0 - x
    product = ink.max(-1, keepdims=True) > threshold
    mean_ink = (ink * product).sum((1, 2)) / np.maximum(product.sum((1, 2)), 1)
    direction = mean_ink / np.maximum(np.linalg.norm(mean_ink, axis=1, keepdims=True), 1e-8)
    palette = _palette_ink()
    return np.argmax(direction @ (palette / np.linalg.norm(palette, axis=1, keepdims=True)).T, axis=1).astype(np.int32)


def _palette_ink():
    return 1.0 - np.asarray(list(COLOURS.values()), np.float32) / 255.0


def product_grey(images, given=None):
    """Products on white (the colour catalogue's) as Fashion-MNIST pixels: float (N, H, W, 1) in
    [0, 1], bright product on black. Each pixel's ink is projected on the ink of the product's
    palette colour (`colour_of`), which gives back the grey value exactly for `colourise`'s images,
    so a grayscale Fashion-MNIST classifier can judge their shape."""
    x = as_float(images, "unit", given)
    ink = (1.0 - x)[..., None, :]                           # (N, H, W, 1, 3)
    palette = _palette_ink()[colour_of(x)][:, None, None]   # (N, 1, 1, 3)
    g = (ink[..., 0, :] * palette).sum(-1) / (palette * palette).sum(-1)
    return np.clip(g, 0.0, 1.0)[..., None].astype(np.float32)


def colour_catalogue(source=None, seed=0):
    """Fashion-MNIST's products, each in one colour of `COLOURS` drawn with `seed`, on white: an
    in-memory catalogue of 28x28 RGB images with Fashion-MNIST's categories and split. The colour
    is not a label: `colour_of` measures it from the pixels."""
    source = source or load_fashion_mnist()
    rng = np.random.default_rng(seed)
    palette = np.asarray(list(COLOURS.values()), np.float32)

    def paint(x):
        colours = palette[rng.integers(len(palette), size=len(x))][:, None, None, :]
        return np.concatenate([colourise(x[i:i + 10_000], colours[i:i + 10_000])
                               for i in range(0, len(x), 10_000)])

    return Catalogue.from_arrays(paint(source.x_train), source.y_train, paint(source.x_test), source.y_test,
                                 f"{source.source}, each product in one of {len(COLOURS)} colours (seed {seed})",
                                 source.class_names, source.class_names_zh,
                                 origin="colour-variants" if source.origin == "fashion-mnist" and seed == 0 else None)


def write_colour_variants(out, per_category=500, image_size=64, seed=0, source=None):
    """Write `colour_catalogue(source, seed)` as a catalogue folder of `image_size` PNGs:
    ``out/train/<category>/<colour>-<n>.png`` (`per_category` images per category) and
    ``out/test/...`` (a fifth as many).

    Returns the number of files written. `out` must not exist yet, or be an empty folder:
    nothing earlier is overwritten."""
    from PIL import Image

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: choose a new folder "
                              "(nothing is overwritten)")
    if isinstance(per_category, bool) or not isinstance(per_category, int) or per_category < 1:
        raise ValueError(f"per_category={per_category!r}: use a positive whole number")
    _check_image_size(image_size)
    catalogue = colour_catalogue(source, seed)
    names = list(COLOURS)
    written = 0
    for split, count in (("train", per_category), ("test", max(1, per_category // 5))):
        x, y = (catalogue.x_train, catalogue.y_train) if split == "train" else (catalogue.x_test, catalogue.y_test)
        for k, category in enumerate(catalogue.class_names):
            folder = out / split / category.replace("/", "-")  # "T-shirt/top" -> "T-shirt-top"
            folder.mkdir(parents=True, exist_ok=True)
            chosen = np.flatnonzero(y == k)[:count]
            for n, (i, c) in enumerate(zip(chosen, colour_of(x[chosen]))):
                image = Image.fromarray(x[i]).resize((image_size, image_size), Image.BILINEAR)
                image.save(folder / f"{names[c]}-{n:05d}.png")
                written += 1
    return written


# --------------------------------------------------------------------------- tf.data

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
