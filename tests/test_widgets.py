"""The explorers build with tiny untrained models, react to their controls, and have static twins."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from prodgen_lessons import models, widgets  # noqa: E402


@pytest.fixture(scope="module")
def cgan():
    return models.build("cgan", latent_dim=8, base_filters=8)


@pytest.fixture(scope="module")
def infogan():
    return models.build("infogan", latent_dim=8, num_continuous=2)


@pytest.fixture(scope="module")
def vae():
    return models.build("vae", latent_dim=4)


def _changes(box, name, value):
    """Set control `name` to `value` (its observer re-draws); return whether the images changed."""
    before_png, before = box.image.value, box.current.copy()
    box.controls[name].value = value
    return (box.image.value != before_png) and not np.allclose(box.current, before)


def test_cgan_explorer_reacts_to_every_control(cgan):
    box = widgets.cgan_explorer(cgan, n=4)
    assert box.current.shape == (4, 28, 28, 1)
    assert box.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    labels = [label for label, _ in box.controls["category"].options]
    assert labels[8] == "Bag / 包"
    assert _changes(box, "category", 8)
    assert _changes(box, "direction 1", 2.0)
    assert _changes(box, "seed", 5)
    # update() re-draws from the controls: same settings -> same images
    before = box.current.copy()
    box.update()
    np.testing.assert_array_equal(box.current, before)


def test_cgan_static_grid(cgan):
    fig = widgets.cgan_explorer_static(cgan, categories=[0, 8], values=(-1, 0, 1))
    assert len([ax for ax in fig.axes if ax.images]) == 6
    with pytest.raises(ValueError, match="direction"):
        widgets.cgan_explorer_static(cgan, direction=9)


def test_vae_explorer_moves_along_principal_directions(vae, sample):
    x, y = sample.x_train[:200], sample.y_train[:200]
    box = widgets.vae_explorer(vae, x, y)
    assert box.current.shape == (1, 28, 28, 1)
    d = box.geometry["directions"]
    np.testing.assert_allclose(d @ d.T, np.eye(2), atol=1e-5)  # orthonormal principal directions
    assert _changes(box, "pc1", 2.0)
    assert _changes(box, "pc2", -2.0)
    assert _changes(box, "category", 7)
    fig = widgets.vae_explorer_static(vae, category=7, values=(-1, 1), images=x, labels=y)
    assert len([ax for ax in fig.axes if ax.images]) == 4


def test_infogan_explorer_and_static(infogan):
    box = widgets.infogan_explorer(infogan, n=3)
    assert set(box.controls) == {"category", "c1", "c2", "seed"}
    assert _changes(box, "category", 3)
    assert _changes(box, "c2", 1.5)
    assert _changes(box, "seed", 1)
    fig = widgets.infogan_explorer_static(infogan, continuous_index=2, values=(-1, 1))
    assert len([ax for ax in fig.axes if ax.images]) == 2 * infogan.num_categories
    with pytest.raises(ValueError, match="continuous_index"):
        widgets.infogan_explorer_static(infogan, continuous_index=3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="latent_dim"):
        widgets.latent_directions(2, k=3)
    with pytest.raises(ValueError, match="n must be"):
        widgets.cgan_explorer(models.build("cgan", latent_dim=4, base_filters=4), n=0)
