"""Repairing damaged product photos (图像修复): fill the pixels a mask marks as lost.

Two fills, both given images in [0, 1] of shape (n, H, W, C) and a mask of the same shape that is
1 where a pixel is intact and 0 where it is lost; both return the images with only the lost
pixels replaced:

- `nearest_fill`: copy the lost pixels from the reference photo closest on the intact ones, the
  classical baseline of chapter 1;
- `vae_fill`: find the latent code whose decoding best explains the intact pixels, and draw the
  lost ones from that decoding (chapter 7).
"""

import numpy as np
import tensorflow as tf


def _check(images, mask):
    images, mask = np.asarray(images, np.float32), np.asarray(mask, np.float32)
    if images.ndim != 4 or mask.shape != images.shape:
        raise ValueError(f"images must be (n, H, W, C) and mask the same shape, got {images.shape} "
                         f"and {mask.shape}")
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError("mask must hold 1 (intact pixel) or 0 (lost pixel) only")
    return images, mask


def nearest_fill(images, mask, reference, batch=256):
    """Each image's lost pixels copied from the reference photo (n_ref, H, W, C) with the least
    squared distance on that image's intact pixels."""
    images, mask = _check(images, mask)
    ref = np.asarray(reference, np.float32).reshape(len(reference), -1)
    ref_sq = ref * ref
    nearest = np.empty(len(images), dtype=np.int64)
    for s in range(0, len(images), batch):
        m = mask[s:s + batch].reshape(-1, ref.shape[1])
        q = (images[s:s + batch] * mask[s:s + batch]).reshape(-1, ref.shape[1])
        # sum over intact pixels of (r - q)^2, dropping the query's own constant sum q^2
        distances = ref_sq @ m.T - 2.0 * ref @ q.T
        nearest[s:s + batch] = distances.argmin(axis=0)
    return images * mask + ref[nearest].reshape(images.shape) * (1 - mask)


def vae_fill(vae, images, mask, start=None, steps=10, learning_rate=0.05):
    """The lost pixels drawn by a trained VAE: the code z that maximises the Bernoulli likelihood
    of the intact pixels alone, found by `steps` Adam steps from the encoding of `start` (the
    damaged images when None; a first fill such as `nearest_fill` gives the search a better
    start), decoded to the decoder's mean image, which fills the lost pixels."""
    images, mask = _check(images, mask)
    first = images * mask if start is None else _check(start, mask)[0]
    z = tf.Variable(vae.encode(first)[0])
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    target, weight = tf.constant(images * mask), tf.constant(mask)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            logits = vae.decoder(z, training=False)
            # -log p(x_known | z): the lost pixels do not count
            nll = tf.reduce_sum(weight * tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits))
        optimizer.apply_gradients([(tape.gradient(nll, z), z)])
    drawn = vae.decode(z.numpy(), temperature=1.0)
    return images * mask + drawn * (1 - mask)
