"""Repairing damaged photos: the nearest-neighbour fill and the VAE's fill touch only lost pixels,
and each does what it says."""

import numpy as np
import pytest

from prodgen_lessons import pretrained, repair


def _damage(images, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones_like(images)
    for m, (r, c) in zip(mask, rng.integers(4, 15, size=(len(mask), 2))):
        m[r:r + 10, c:c + 10] = 0
    return images * mask, mask


def test_nearest_fill_copies_the_closest_photo_and_keeps_intact_pixels(sample):
    photos = sample.x_test[:40, ..., None].astype("float32") / 255.0
    damaged, mask = _damage(photos)
    reference = np.concatenate([sample.x_train[:300, ..., None].astype("float32") / 255.0, photos[::-1]])
    filled = repair.nearest_fill(damaged, mask, reference, batch=16)
    np.testing.assert_array_equal(filled * mask, damaged * mask)
    # each photo is in the reference: its own intact pixels match exactly, so the fill is the original
    np.testing.assert_allclose(filled, photos, atol=1e-6)


def test_a_mask_that_is_not_zeros_and_ones_is_refused(sample):
    photos = sample.x_test[:2, ..., None].astype("float32") / 255.0
    with pytest.raises(ValueError, match="mask must hold 1"):
        repair.nearest_fill(photos, np.full_like(photos, 0.5), photos)
    with pytest.raises(ValueError, match="same shape"):
        repair.nearest_fill(photos, np.ones((2, 28, 28)), photos)


def test_the_vae_fill_fits_the_intact_pixels_and_beats_no_search(sample):
    vae = pretrained.load_pretrained("vae")
    photos = sample.x_test[:200, ..., None].astype("float32") / 255.0
    damaged, mask = _damage(photos)
    hole = 1 - mask
    error = lambda x: float((np.abs(x - photos) * hole).sum() / hole.sum())  # noqa: E731
    searched = repair.vae_fill(vae, damaged, mask, steps=10)
    unsearched = repair.vae_fill(vae, damaged, mask, steps=0)  # the decoded encoding of the damaged photo
    np.testing.assert_array_equal(searched * mask, damaged * mask)
    assert error(searched) < error(unsearched)
