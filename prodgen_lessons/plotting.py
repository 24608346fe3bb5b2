"""Figures the notebooks share: image grids, category-labelled samples, training curves."""

from __future__ import annotations

import numpy as np

from prodgen_lessons.data import CATEGORIES, as_float


def _as_display(images):
    """(n, H, W[, C]) in [0, 1], [-1, 1] or uint8 -> float array in [0, 1] that imshow accepts;
    values a little outside the range (a decoder's overshoot) are clipped, not refused."""
    x = np.asarray(images)
    if x.dtype != np.uint8:
        x = np.clip(x, -1.0, 1.0) if x.size and x.min() < -1e-3 else np.clip(x, 0.0, 1.0)
    x = as_float(x)
    return x[..., 0] if x.shape[-1] == 1 else x


def show_images(images, labels=None, ncols=10, title=None, size=1.1, cmap="gray_r", axes_off=True,
                class_names=CATEGORIES):
    """A grid of product images; `labels` are category indices (named by `class_names`, default
    Fashion-MNIST's) or strings, shown above each."""
    import matplotlib.pyplot as plt

    x = _as_display(images)
    n = len(x)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            ax.imshow(x[i], cmap=cmap if x[i].ndim == 2 else None, vmin=0, vmax=1)
            if labels is not None:
                lab = labels[i]
                ax.set_title(lab if isinstance(lab, str) else class_names[int(lab)], fontsize=7)
        if axes_off:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def image_grid(images, ncols=10, pad=1):
    """Tile images into one uint8 array (rows of `ncols`), e.g. to save as a PNG."""
    x = _as_display(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C), got shape {np.shape(images)}")
    n, h, w, c = x.shape
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    grid = (grid * 255).round().astype(np.uint8)
    return grid[..., 0] if c == 1 else grid


def plot_history(history, keys=None, title=None):
    """Training curves from a Keras History (or its .history dict)."""
    import matplotlib.pyplot as plt

    h = getattr(history, "history", history)
    keys = keys or [k for k in h if not k.startswith("val_")]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for k in keys:
        ax.plot(np.arange(1, len(h[k]) + 1), h[k], marker="o", ms=3, label=k)
        if f"val_{k}" in h:
            ax.plot(np.arange(1, len(h[k]) + 1), h[f"val_{k}"], ls="--", label=f"val_{k}")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
