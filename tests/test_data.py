"""The data layer: IDX files, sources, categories, pipelines, augmentation, a shop's own photos."""

import gzip
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from prodgen_lessons import data
from prodgen_lessons.data import DataError


def write_fake_set(directory, sample, compress=True):
    """The sample written as the four IDX files, with the digest table patched to match."""
    arrays = {"train-images-idx3-ubyte": sample.x_train, "train-labels-idx1-ubyte": sample.y_train,
              "t10k-images-idx3-ubyte": sample.x_test, "t10k-labels-idx1-ubyte": sample.y_test}
    digests = {}
    for name, array in arrays.items():
        path = directory / (name + (".gz" if compress else ""))
        data.write_idx(path, array)
        raw = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
        digests[name] = hashlib.sha256(raw).hexdigest()
    return digests


@pytest.fixture
def fake_dir(tmp_path, sample, monkeypatch):
    monkeypatch.setattr(data, "FILES", write_fake_set(tmp_path, sample))
    return tmp_path


@pytest.fixture
def no_default_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("PRODGEN_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "no-keras-cache")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")


# ------------------------------------------------------------------ IDX

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    data.write_idx(tmp_path / ("img" + suffix), images)
    data.write_idx(tmp_path / ("lab" + suffix), labels)
    np.testing.assert_array_equal(data.read_idx(tmp_path / ("img" + suffix)), images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / ("lab" + suffix)), labels)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    data.write_idx(path, np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*truncated"):
        data.read_idx(path)


def test_bad_magic_is_refused(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x09\x99" + bytes(20))
    with pytest.raises(DataError, match="magic number"):
        data.read_idx(path)


def test_corrupt_gzip_is_refused(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*decompress"):
        data.read_idx(path)


def test_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    import tracemalloc

    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels = np.arange(10, dtype=np.uint8)
    member = gzip.compress(bytes(1 << 20), compresslevel=9)  # 1 MiB of zeros in about 1 KB
    # A valid 10-label file, followed by 64 MiB its header does not announce.
    path.write_bytes(gzip.compress((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + labels.tobytes())
                     + member * 64)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: holds more than the 18 bytes"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak:,} bytes held: it inflated the bomb"


def test_header_announcing_an_absurd_size_is_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    shape = (100_000, 1000, 1000)  # 100 GB
    path.write_bytes(gzip.compress((2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: header says shape .* more than"):
        data.read_idx(path)


def test_longer_plain_file_is_refused(tmp_path):
    path = tmp_path / "labels"
    data.write_idx(path, np.arange(5, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"extra")
    with pytest.raises(DataError, match="holds more than the 13 bytes"):
        data.read_idx(path)


def test_checksum_mismatch_is_refused(fake_dir, no_default_sources):
    path = fake_dir / "train-labels-idx1-ubyte.gz"
    labels = data.read_idx(path).copy()
    labels[0] = (labels[0] + 1) % 10  # a single tampered label, header still valid
    data.write_idx(path, labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: SHA-256 .* does not match"):
        data.load_fashion_mnist(fake_dir)


def test_published_digests_match_notes():
    # The digests of the real files (NOTES.md); a typo here would refuse every good copy.
    assert data.FILES["train-images-idx3-ubyte"].startswith("c59f468a")
    assert data.FILES["t10k-labels-idx1-ubyte"].endswith("dec38c34")


def test_full_set_passes_verification(fashion_mnist):
    assert fashion_mnist.x_train.shape == (60000, 28, 28) and fashion_mnist.x_train.dtype == np.uint8
    assert fashion_mnist.x_test.shape == (10000, 28, 28)
    np.testing.assert_array_equal(np.bincount(fashion_mnist.y_train), [6000] * 10)


# ------------------------------------------------------------------ sources

def test_explicit_dir_wins_and_is_named(fake_dir, sample):
    ds = data.load_fashion_mnist(fake_dir)
    assert ds.source == str(fake_dir)
    np.testing.assert_array_equal(ds.x_test, sample.x_test)


def test_env_var_is_used(fake_dir, monkeypatch):
    monkeypatch.setenv("PRODGEN_DATA_DIR", str(fake_dir))
    assert data.load_fashion_mnist().source == str(fake_dir)


def test_empty_explicit_dir_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no Fashion-MNIST files"):
        data.load_fashion_mnist(tmp_path)


def test_source_order_keras_cache_before_debian(tmp_path, sample, monkeypatch):
    keras_dir, debian_dir = tmp_path / "keras", tmp_path / "debian"
    keras_dir.mkdir(), debian_dir.mkdir()
    monkeypatch.setattr(data, "FILES", write_fake_set(keras_dir, sample))
    write_fake_set(debian_dir, sample, compress=False)
    monkeypatch.delenv("PRODGEN_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", keras_dir)
    monkeypatch.setattr(data, "DEBIAN_DIR", debian_dir)
    assert data.load_fashion_mnist().source == str(keras_dir)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "missing")
    assert data.load_fashion_mnist().source == str(debian_dir)


def test_no_source_falls_back_to_sample_with_warning(no_default_sources, monkeypatch):
    monkeypatch.setattr(data, "_download", lambda d: pytest.fail("must not download"))
    with pytest.warns(UserWarning, match="dataset-fashion-mnist"):
        ds = data.load_fashion_mnist()
    assert ds.source.startswith("bundled sample")


def test_download_only_when_allowed(no_default_sources, sample, monkeypatch):
    calls = []

    def fake_download(directory):
        calls.append(directory)
        directory.mkdir(parents=True)
        monkeypatch.setattr(data, "FILES", write_fake_set(directory, sample))

    monkeypatch.setattr(data, "_download", fake_download)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data.load_fashion_mnist()
    assert calls == []
    assert data.load_fashion_mnist(allow_download=True).source == str(data.KERAS_CACHE)
    assert calls == [data.KERAS_CACHE]


def test_bundled_sample_is_balanced_real_data(sample):
    assert sample.x_train.shape == (1000, 28, 28) and sample.x_test.shape == (200, 28, 28)
    np.testing.assert_array_equal(np.bincount(sample.y_train), [100] * 10)
    np.testing.assert_array_equal(np.bincount(sample.y_test), [20] * 10)
    assert 50 < sample.x_train.mean() < 100  # real photos: dark background, bright products


# ------------------------------------------------------------------ categories

def test_category_lookup():
    assert data.category_index("ankle boot") == 9
    assert data.category_index("ANKLE BOOT") == 9
    assert data.category_index("运动鞋") == 7
    assert data.category_index("t-shirt") == data.category_index("T-shirt/top") == 0
    assert data.category_index(3) == 3 and data.category_index("3") == 3
    assert data.category_name(7, "zh") == "运动鞋"


@pytest.mark.parametrize("bad", ["hat", 10, -1, None, 2.5])
def test_unknown_category_lists_valid_ones(bad):
    with pytest.raises(ValueError) as err:
        data.category_index(bad)
    assert "Sneaker" in str(err.value) or "0..9" in str(err.value)


# ------------------------------------------------------------------ pipelines

@pytest.mark.parametrize("scale,lo,hi", [("unit", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_pipeline_shapes_ranges_dtypes(sample, scale, lo, hi):
    ds = data.make_dataset(sample.x_train, sample.y_train, batch_size=32, scale=scale)
    x, y = next(iter(ds))
    assert x.shape == (32, 28, 28, 1) and x.dtype.name == "float32"
    assert y.shape == (32,) and y.dtype.name == "int32"
    assert float(x.numpy().min()) == lo and float(x.numpy().max()) == hi
    assert len(list(ds)) == 1000 // 32  # drop_remainder


def test_pipeline_padding_uses_background(sample):
    x = next(iter(data.make_dataset(sample.x_train, batch_size=8, pad_to=32, shuffle=False)))
    assert x.shape == (8, 32, 32, 1)
    assert np.all(x.numpy()[:, :2] == -1.0)


def test_pipeline_is_deterministic_under_seed(sample):
    def first_labels(seed):
        ds = data.make_dataset(sample.x_train, sample.y_train, batch_size=50, seed=seed)
        return np.concatenate([y.numpy() for _, y in ds])

    np.testing.assert_array_equal(first_labels(1), first_labels(1))
    assert not np.array_equal(first_labels(1), first_labels(2))


def test_pipeline_rejects_bad_input(sample):
    with pytest.raises(ValueError, match="uint8"):
        data.make_dataset(sample.x_train.astype(np.float32))
    with pytest.raises(ValueError, match="1000 images but 5 labels"):
        data.make_dataset(sample.x_train, sample.y_train[:5])
    with pytest.raises(ValueError, match="scale"):
        data.make_dataset(sample.x_train, scale="0-255")


def test_augmentation_changes_images_but_keeps_range(sample):
    aug = data.augmentation(seed=0)
    x = data.scale_images(sample.x_train[:16, ..., None])
    y = np.asarray(aug(x, training=True))
    assert y.shape == x.shape
    assert np.abs(y - x).mean() > 0.01
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)  # inference: identity


def test_to_uint8_inverts_scaling(sample):
    for scale in ("unit", "tanh"):
        np.testing.assert_array_equal(data.to_uint8(data.scale_images(sample.x_test, scale), scale),
                                      sample.x_test)


# ------------------------------------------------------------------ a shop's own catalogue

def write_catalogue(root, broken=False):
    from PIL import Image

    rng = np.random.default_rng(0)
    for category, n in (("kettle", 3), ("toaster", 2)):
        (root / category).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / category / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "toaster" / "notes.txt").write_text("not an image")
    if broken:
        (root / "toaster" / "broken.jpg").write_bytes(b"\xff\xd8 truncated jpeg")


def load(folder, **kw):
    """The folder's catalogue, its report of unused entries silenced (tested on its own below)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data.load_catalogue(folder, **kw)


def all_images(catalogue):
    x, y = zip(catalogue.take("train"), catalogue.take("test"))
    return np.concatenate(x), np.concatenate(y)


def test_image_folder_streams_at_chosen_size(tmp_path):
    write_catalogue(tmp_path)
    with pytest.warns(UserWarning, match=r"1 entries not used .*notes\.txt"):
        shop = data.load_catalogue(tmp_path, image_size=96, channels=3)
    assert shop.class_names == ("kettle", "toaster") and shop.image_shape == (96, 96, 3)
    assert not shop.in_memory and len(shop.train) + len(shop.test) == 5
    assert shop.counts("test").min() == 1  # every category of 2+ images is held out at least once
    images, labels = all_images(shop)
    assert images.shape == (5, 96, 96, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.sort(labels), [0, 0, 0, 1, 1])
    x, y = next(iter(shop.dataset("train", batch_size=len(shop.train), shuffle=False)))
    assert x.shape == (len(shop.train), 96, 96, 3) and x.dtype.name == "float32"
    assert float(x.numpy().min()) >= -1 and float(x.numpy().max()) <= 1
    np.testing.assert_allclose(x.numpy(), data.scale_images(shop.take("train")[0], "tanh"), atol=1e-6)
    assert load(tmp_path, image_size=64, channels=1).take("train")[0].shape[1:] == (64, 64, 1)


def test_image_folder_with_train_and_test_folders(tmp_path):
    write_catalogue(tmp_path / "train")
    write_catalogue(tmp_path / "test")
    shop = load(tmp_path, image_size=32)
    assert (len(shop.train), len(shop.test)) == (5, 5)
    (tmp_path / "test" / "toaster" / "0.jpg").rename(tmp_path / "test" / "toaster.jpg")
    shutil.rmtree(tmp_path / "test" / "toaster")
    with pytest.raises(DataError, match=r"train/ has the category folders \['kettle', 'toaster'\]"):
        load(tmp_path)


def test_held_out_images_stay_held_out_as_the_catalogue_grows(tmp_path):
    from PIL import Image

    for i in range(40):
        (tmp_path / "cup").mkdir(exist_ok=True)
        Image.new("RGB", (20, 20), (i, 0, 0)).save(tmp_path / "cup" / f"{i}.png")
    first = set(load(tmp_path).test.files)
    for i in range(40, 80):
        Image.new("RGB", (20, 20), (i, 0, 0)).save(tmp_path / "cup" / f"{i}.png")
    assert first <= set(load(tmp_path).test.files)
    assert 2 <= len(load(tmp_path).test) <= 16  # about a tenth of 80


def test_image_folder_names_broken_file_or_skips_it(tmp_path):
    write_catalogue(tmp_path, broken=True)
    with pytest.raises(DataError, match="broken.jpg"):
        load(tmp_path)
    shop = load(tmp_path, skip_broken=True)
    assert len(shop.train) + len(shop.test) == 5
    assert len(shop.skipped) == 1 and shop.skipped[0].endswith("broken.jpg")


def test_a_file_that_breaks_while_streaming_is_named_or_skipped(tmp_path):
    write_catalogue(tmp_path)
    shop = load(tmp_path, image_size=32)
    victim = shop.train.files[0]
    Path(victim).write_bytes(Path(victim).read_bytes()[:60])  # the header survives, the pixels do not
    with pytest.raises(Exception):
        list(shop.dataset("train", batch_size=1))
    assert isinstance(shop.read_error, DataError) and victim in str(shop.read_error)
    skipping = load(tmp_path, image_size=32, skip_broken=True)
    batches = list(skipping.dataset("train", batch_size=1, shuffle=False))
    assert len(batches) == len(skipping.train) - 1 and skipping.skipped == [victim]


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no category sub-folders"):
        load(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no readable"):
        load(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load(tmp_path / "missing")
    with pytest.raises(ValueError, match="16 to 512"):
        load(tmp_path, image_size=8)


def test_image_folder_reads_16_bit_exif_transparent_webp_and_bmp(tmp_path):
    from PIL import Image

    (tmp_path / "shoe").mkdir()
    # 16-bit grayscale: 40000 of 65535 is 156 of 255, not 255 (clipped)
    Image.fromarray(np.full((80, 80), 40000, np.uint16)).save(tmp_path / "shoe" / "a_16bit.png")
    # top half dark, bottom half light, stored upside down: EXIF orientation 3 (rotate 180)
    halves = np.zeros((80, 80, 3), np.uint8)
    halves[40:] = 255
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.fromarray(halves).save(tmp_path / "shoe" / "b_rotated.jpg", exif=exif)
    # fully transparent black: on white
    Image.new("RGBA", (80, 80), (0, 0, 0, 0)).save(tmp_path / "shoe" / "c_transparent.png")
    Image.new("LA", (80, 80), (0, 0)).save(tmp_path / "shoe" / "d_transparent_gray.png")
    Image.new("RGB", (80, 80), (10, 200, 30)).save(tmp_path / "shoe" / "e.webp", lossless=True)
    Image.new("RGB", (80, 80), (200, 10, 30)).save(tmp_path / "shoe" / "f.bmp")
    files = sorted((tmp_path / "shoe").iterdir())
    images = np.stack([data.read_image(f, 64, 3) for f in files])
    assert abs(int(images[0].mean()) - 156) <= 1
    assert images[1, :20].mean() > 200 and images[1, -20:].mean() < 50  # turned upright
    assert images[2].min() == 255 and images[3].min() == 255
    np.testing.assert_array_equal(images[4, 32, 32], [10, 200, 30])
    np.testing.assert_array_equal(images[5, 32, 32], [200, 10, 30])
    assert abs(int(data.read_image(files[0], 64, 1).mean()) - 156) <= 1
    shop = load(tmp_path, image_size=64)
    assert len(shop.train) + len(shop.test) == 6


def test_image_folder_names_a_decompression_bomb(tmp_path, monkeypatch):
    from PIL import Image

    write_catalogue(tmp_path)
    Image.new("L", (200, 200)).save(tmp_path / "kettle" / "huge.png")
    # Pillow refuses images of more than 2 x MAX_IMAGE_PIXELS (only warns above 1 x); a small limit
    # stands in for a real bomb: the catalogue's photos have 8,000 pixels, this one 40,000.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    with pytest.raises(DataError, match=r"huge.png: unreadable image .*decompression bomb"):
        load(tmp_path)
    shop = load(tmp_path, skip_broken=True)
    assert len(shop.train) + len(shop.test) == 5 and [s.rsplit("/", 1)[-1] for s in shop.skipped] == ["huge.png"]


def test_image_folder_reports_what_it_does_not_use(tmp_path):
    write_catalogue(tmp_path)
    (tmp_path / "kettle" / "older").mkdir()
    (tmp_path / "kettle" / "older" / "0.jpg").write_bytes((tmp_path / "kettle" / "0.jpg").read_bytes())
    (tmp_path / "README.md").write_text("catalogue")
    (tmp_path / "kettle" / ".DS_Store").write_bytes(b"\0")  # hidden: not worth a mention
    with pytest.warns(UserWarning) as record:
        shop = data.load_catalogue(tmp_path)
    message = str(record[0].message)
    assert len(shop.train) + len(shop.test) == 5
    assert "3 entries not used" in message
    for name in ("README.md", "kettle/older/", "toaster/notes.txt"):
        assert name in message
    assert ".DS_Store" not in message
    assert sorted(Path(p).name for p in shop.unused) == ["README.md", "notes.txt", "older"]


def test_image_folder_refuses_a_category_without_images(tmp_path):
    write_catalogue(tmp_path, broken=True)
    (tmp_path / "vase").mkdir()
    (tmp_path / "vase" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"vase: no readable .* images in this category folder"):
        load(tmp_path, skip_broken=True)


def test_a_large_folder_is_not_decoded_whole(tmp_path, monkeypatch):
    write_catalogue(tmp_path)
    monkeypatch.setattr(data, "IN_MEMORY_LIMIT", 1000)
    with pytest.raises(DataError, match=r"would take .* GB in memory; stream them with .dataset"):
        load(tmp_path).x_train


# ------------------------------------------------------------------ the colour catalogue

def test_colour_variants_are_a_catalogue_whose_colour_the_pixels_tell(tmp_path, sample):
    written = data.write_colour_variants(tmp_path / "colours", per_category=10, image_size=32, source=sample)
    assert written == 10 * 10 + 10 * 2
    shop = data.load_catalogue(tmp_path / "colours", image_size=32)
    assert shop.category_index("t-shirt/top") == shop.category_index("T恤/上衣")  # folder "T-shirt-top"
    assert shop.class_names_zh[shop.category_index("Sneaker")] == "运动鞋"
    images, labels = shop.take("train")
    names = [Path(f).name.split("-")[0] for f in shop.train.files]
    np.testing.assert_array_equal(data.colour_of(images), [list(data.COLOURS).index(n) for n in names])
    assert len(set(names)) == len(data.COLOURS)
    with pytest.raises(FileExistsError, match="not an empty folder"):
        data.write_colour_variants(tmp_path / "colours", per_category=1, source=sample)


def test_product_grey_gives_back_the_photo_under_the_colour(sample):
    colours = data.colour_catalogue(sample, seed=3)
    assert colours.image_shape == (28, 28, 3) and colours.class_names == data.CATEGORIES
    np.testing.assert_array_equal(colours.y_train, sample.y_train)
    grey = data.product_grey(colours.x_test)
    np.testing.assert_allclose(grey[..., 0], sample.x_test / 255.0, atol=0.01)
    assert len(set(data.colour_of(colours.x_test))) == len(data.COLOURS)
    with pytest.raises(ValueError, match="RGB"):
        data.colour_of(sample.x_test)


def test_catalogue_category_lookup_and_subset(sample):
    assert sample.category_index("运动鞋") == 7 and sample.category_name(7, "zh") == "运动鞋"
    small = sample.subset(100)
    assert len(small.train) == 100 and len(small.test) == len(sample.test)
    with pytest.raises(DataError, match="batch size 128 is larger than the 100 training images"):
        small.dataset("train", batch_size=128)


def test_catalogue_without_a_category_keeps_the_rest(sample):
    no_bags = sample.without("Bag")
    for split in ("train", "test"):
        assert no_bags.counts(split)[8] == 0 and sample.counts(split)[8] > 0
        assert no_bags.counts(split).sum() == sample.counts(split).sum() - sample.counts(split)[8]
    assert no_bags.class_names == sample.class_names
    assert np.array_equal(no_bags.train.pixels, sample.train.pixels[sample.train.labels != 8])
