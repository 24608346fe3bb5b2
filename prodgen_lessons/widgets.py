"""Small interactive demos (ipywidgets) for the notebooks, each with a static twin for the HTML book.

    display(cgan_explorer(trainer))        # category dropdown, latent-direction sliders, seed
    cgan_explorer_static(trainer);         # the same idea as one matplotlib figure

A widget needs a running kernel to react; the static HTML book only shows its saved first state.
So every explorer has a companion ``*_static`` function that draws a grid over its key settings.

Each explorer returns a ``VBox`` whose extra attributes make it testable without a browser:
``.controls`` (name -> control widget), ``.update()`` (re-draw from the controls' values),
``.current`` (the images on display, float32 in [0, 1]) and ``.image`` (the ``Image`` widget whose
``value`` holds the PNG bytes). Changing a control calls ``update`` through ``observe``.
"""

from __future__ import annotations

import io

import numpy as np

from prodgen_lessons.data import CATEGORIES, CATEGORIES_ZH, as_float
from prodgen_lessons.plotting import image_grid, show_images

__all__ = ["cgan_explorer", "cgan_explorer_static", "vae_explorer", "vae_explorer_static",
           "infogan_explorer", "infogan_explorer_static", "latent_directions"]


# ---------------------------------------------------------------------------------------------
# helpers


def _png(images, ncols, scale=3):
    """Images in [0, 1] -> PNG bytes of their grid, enlarged `scale` times (nearest neighbour)."""
    from PIL import Image

    grid = image_grid(images, ncols=ncols)
    grid = 255 - grid if grid.ndim == 2 else grid  # dark product on white, like show_images' gray_r
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    return buffer.getvalue()


def _names(num_classes, class_names=None, class_names_zh=None):
    """Display names of the categories: the catalogue's (`class_names`, with Chinese names where
    known), else Fashion-MNIST's when there are ten, else "category i"."""
    if class_names is None and num_classes == len(CATEGORIES):
        class_names, class_names_zh = CATEGORIES, CATEGORIES_ZH
    if class_names is None:
        return [f"category {i}" for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model of {num_classes} categories")
    zh = class_names_zh or [None] * num_classes
    return [f"{en} / {cn}" if cn and cn != en else en for en, cn in zip(class_names, zh)]


def _category_options(num_classes, class_names=None, class_names_zh=None):
    return [(name, i) for i, name in enumerate(_names(num_classes, class_names, class_names_zh))]


def _check_positive(name, value):
    if int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _explorer(controls, render, ncols, caption):
    """A VBox of controls + caption + image; `render()` -> images in [0, 1] from the controls."""
    import ipywidgets as W

    image = W.Image(format="png")
    box = W.VBox(list(controls.values()) + [W.HTML(f"<small>{caption}</small>"), image])

    def update(change=None):
        box.current = np.asarray(render(), dtype="float32")
        image.value = _png(box.current, ncols)
        image.layout.width = f"{min(3 * 28 * ncols, 720)}px"

    for control in controls.values():
        control.observe(update, names="value")
    box.controls, box.image, box.update = controls, image, update
    update()
    return box


def latent_directions(latent_dim, k=3, seed=1234):
    """k orthonormal directions of R^latent_dim (columns of a random orthogonal matrix), the
    explorer's slider axes. Fixed by `seed`, so the static figure and the widget agree."""
    k = _check_positive("k", k)
    if k > latent_dim:
        raise ValueError(f"k={k} directions need k <= latent_dim={latent_dim}")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((latent_dim, k)))
    return q.T.astype("float32")  # (k, latent_dim)


# ---------------------------------------------------------------------------------------------
# conditional GAN


def _cgan_generate(trainer, labels, z):
    """Run a (single- or multi-condition) cGAN generator on z and category labels -> [0, 1]."""
    labels = np.asarray(labels, dtype="int32")
    conds = [labels] + [np.zeros_like(labels)] * (getattr(trainer, "num_conditions", 1) - 1)
    images = np.asarray(trainer.generator([np.asarray(z, "float32")] + conds, training=False))
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def _cgan_noise(trainer, n, seed, values, directions):
    z = np.random.default_rng(seed).standard_normal((n, trainer.latent_dim)).astype("float32")
    return z + np.asarray(values, "float32") @ directions  # shift every image the same way


def cgan_explorer(trainer, n=8, num_directions=3, value_range=6.0, class_names=None, class_names_zh=None):
    """Category dropdown (English / Chinese), sliders for `num_directions` fixed directions of z,
    and a seed slider; shows `n` generated products of the chosen category (one per noise vector).
    z has norm about sqrt(latent_dim) (8 for 64), so the sliders' +-6 are large but not absurd moves.
    class_names: the catalogue's (`catalogue.class_names`; default Fashion-MNIST's).
    """
    import ipywidgets as W

    n = _check_positive("n", n)
    directions = latent_directions(trainer.latent_dim, num_directions)
    controls = {"category": W.Dropdown(options=_category_options(trainer.num_classes, class_names, class_names_zh),
                                       value=0, description="category")}
    for j in range(len(directions)):
        controls[f"direction {j + 1}"] = W.FloatSlider(0.0, min=-value_range, max=value_range, step=0.5,
                                                       description=f"z direction {j + 1}")
    controls["seed"] = W.IntSlider(0, min=0, max=99, description="seed")

    def render():
        values = [controls[f"direction {j + 1}"].value for j in range(len(directions))]
        z = _cgan_noise(trainer, n, controls["seed"].value, values, directions)
        return _cgan_generate(trainer, np.full(n, controls["category"].value), z)

    return _explorer(controls, render, ncols=n,
                     caption="Each image is one noise vector z; the sliders move all of them along "
                             "fixed directions of z, the dropdown changes only the condition.")


def cgan_explorer_static(trainer, categories=None, direction=1, values=(-6, -3, 0, 3, 6), seed=0,
                         num_directions=3, class_names=None):
    """Grid: one row per category, one column per value of slider `direction` (1-based), one fixed
    noise vector (`seed`) -- what the widget shows when you move that slider for each category."""
    categories = list(range(trainer.num_classes)) if categories is None else list(categories)
    directions = latent_directions(trainer.latent_dim, num_directions)
    if not 1 <= direction <= len(directions):
        raise ValueError(f"direction must be in 1..{len(directions)}, got {direction}")
    values = np.asarray(values, "float32")
    shift = np.zeros((len(values), len(directions)), "float32")
    shift[:, direction - 1] = values
    z = _cgan_noise(trainer, 1, seed, shift, directions)  # (len(values), latent_dim), same base z
    labels = np.repeat(categories, len(values))
    images = _cgan_generate(trainer, labels, np.tile(z, (len(categories), 1)))
    names = _names(trainer.num_classes, class_names)
    titles = [f"{names[c].split(' / ')[0]}\nd{direction}={v:+.1f}" for c in categories for v in values]
    return show_images(images, titles, ncols=len(values), size=1.2,
                       title=f"cGAN explorer: rows = category, columns = slider 'z direction {direction}' "
                             f"(seed {seed})")


# ---------------------------------------------------------------------------------------------
# VAE


def _vae_geometry(vae, images, labels):
    """(per-category start points, two principal directions scaled by their std, their std)."""
    if images is None:
        from prodgen_lessons.data import load_sample

        data = load_sample()
        images, labels = data.x_train, data.y_train
    labels = np.asarray(labels).astype(int)
    conditional = hasattr(vae, "num_classes")
    z_mean, _ = vae.encode(images, labels if conditional else None)
    num_classes = int(labels.max()) + 1
    starts = np.stack([z_mean[labels == k].mean(0) if np.any(labels == k) else z_mean.mean(0)
                       for k in range(num_classes)])
    if z_mean.shape[1] >= 2:
        centred = z_mean - z_mean.mean(0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        std = s[:2] / np.sqrt(max(len(z_mean) - 1, 1))
        directions = vt[:2]
    else:
        directions, std = np.eye(1, dtype="float32"), np.array([z_mean.std()])
    return starts.astype("float32"), directions.astype("float32"), np.maximum(std, 1e-6), num_classes


def _vae_decode(vae, start, directions, std, values, labels):
    z = start + (np.asarray(values, "float32") * std[: len(directions)]) @ directions
    conditional = hasattr(vae, "num_classes")
    return vae.decode(z.astype("float32"), np.asarray(labels) if conditional else None)


def vae_explorer(vae, images=None, labels=None, value_range=3.0, class_names=None, class_names_zh=None):
    """Two sliders along the two main principal directions of the latent codes (in standard
    deviations), starting from the mean code of the chosen category; shows the decoded product.

    images/labels: data to encode for the principal directions and category means (default: the
    bundled sample). A CVAE also gets the category as its condition."""
    import ipywidgets as W

    starts, directions, std, num_classes = _vae_geometry(vae, images, labels)
    controls = {"category": W.Dropdown(options=_category_options(num_classes, class_names, class_names_zh),
                                       value=0, description="start at")}
    for j in range(len(directions)):
        controls[f"pc{j + 1}"] = W.FloatSlider(0.0, min=-value_range, max=value_range, step=0.25,
                                               description=f"PC {j + 1} (std)")

    def render():
        c = controls["category"].value
        values = [[controls[f"pc{j + 1}"].value for j in range(len(directions))]]
        return _vae_decode(vae, starts[c], directions, std, values, [c])

    box = _explorer(controls, render, ncols=1,
                    caption="Start: the mean latent code of the category's images. Sliders: steps "
                            "along the latent space's two main principal directions, in standard deviations.")
    box.image.layout.width = "168px"
    box.geometry = dict(starts=starts, directions=directions, std=std)
    return box


def vae_explorer_static(vae, category=0, values=(-2, -1, 0, 1, 2), images=None, labels=None,
                        class_names=None):
    """Grid over PC 1 (columns) x PC 2 (rows) around the mean code of `category`."""
    starts, directions, std, _ = _vae_geometry(vae, images, labels)
    values = np.asarray(values, "float32")
    grid = np.array([[a, b] for b in values for a in values], "float32")[:, : len(directions)]
    out = _vae_decode(vae, starts[category], directions, std, grid, np.full(len(grid), category))
    titles = [f"pc1={a:+.0f} pc2={b:+.0f}" for b in values for a in values]
    name = _names(len(starts), class_names)[category].split(" / ")[0]
    return show_images(out, titles, ncols=len(values), size=1.2,
                       title=f"VAE explorer: start = mean code of {name}; columns PC 1, rows PC 2 (std)")


# ---------------------------------------------------------------------------------------------
# InfoGAN


def infogan_explorer(trainer, n=8, value_range=2.0):
    """Dropdown for the categorical code, one slider per continuous code, a seed slider; shows `n`
    samples (one noise vector each) with those codes. Training used continuous codes in [-1, 1];
    the wider slider range shows what happens outside it."""
    import ipywidgets as W

    n = _check_positive("n", n)
    controls = {"category": W.Dropdown(options=[(f"code {k}", k) for k in range(trainer.num_categories)],
                                       value=0, description="categorical")}
    for j in range(trainer.num_continuous):
        controls[f"c{j + 1}"] = W.FloatSlider(0.0, min=-value_range, max=value_range, step=0.25,
                                              description=f"continuous {j + 1}")
    controls["seed"] = W.IntSlider(0, min=0, max=99, description="seed")

    def render():
        cont = [controls[f"c{j + 1}"].value for j in range(trainer.num_continuous)]
        return trainer.sample(n, seed=controls["seed"].value,
                              codes={"category": controls["category"].value, "continuous": cont})

    return _explorer(controls, render, ncols=n,
                     caption="The categorical code was learned without labels: which product it "
                             "picks is whatever InfoGAN found, not a named category.")


def infogan_explorer_static(trainer, continuous_index=1, values=(-2, -1, 0, 1, 2), seed=0):
    """Grid: one row per categorical code, one column per value of continuous code
    `continuous_index` (1-based; the others 0), one fixed noise vector."""
    if not 1 <= continuous_index <= trainer.num_continuous:
        raise ValueError(f"continuous_index must be in 1..{trainer.num_continuous}, got {continuous_index}")
    values = np.asarray(values, "float32")
    rows = []
    for k in range(trainer.num_categories):
        cont = np.zeros((len(values), trainer.num_continuous), "float32")
        cont[:, continuous_index - 1] = values
        # same seed -> the same z for every image (sample draws z per image; take the first one)
        z = np.random.default_rng(seed).standard_normal((1, trainer.latent_dim)).astype("float32")
        out = trainer.generator([np.repeat(z, len(values), 0), np.full(len(values), k, "int32"), cont],
                                training=False)
        rows.append(as_float(out, "unit", given="tanh"))
    titles = [f"code {k}, c{continuous_index}={v:+.0f}" for k in range(trainer.num_categories) for v in values]
    return show_images(np.concatenate(rows), titles, ncols=len(values), size=1.2,
                       title=f"InfoGAN explorer: rows = categorical code, columns = continuous code "
                             f"{continuous_index} (seed {seed})")
