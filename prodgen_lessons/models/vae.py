"""Variational autoencoder (article 4, 7) and conditional VAE (article 7.3), written out in full.

The encoder maps an image x to the parameters of q(z|x) = N(z_mean, exp(z_log_var)); `Sampling`
draws z with the reparameterisation trick z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, I),
so gradients flow through z_mean and z_log_var; the decoder maps z to Bernoulli *logits* p(x|z)
of every pixel. Training minimises the negative ELBO

    loss = reconstruction_loss + beta * kl_divergence
    reconstruction_loss = -sum_pixels log p(x|z)                    (Bernoulli, from logits)
    kl_divergence       = -0.5 * sum_latent (1 + log_var - mean^2 - exp(log_var))

which is what the article's formulas in 4.1 mean and what its printed code (see `article.py`)
does not compute. Images are in [0, 1] (`make_dataset(..., scale="unit")`); pixel values between
0 and 1 are used as soft Bernoulli targets, which is the usual practice for Fashion-MNIST.

The CVAE feeds a one-hot category to both networks: q(z|x, c) and p(x|z, c), so sampling z from
the prior with a chosen c gives a product of that category.

Article 7.3's "regularisation (Dropout, weight decay)" is the `dropout` / `weight_decay` arguments
of the builders: dropout after each hidden layer, an L2 kernel penalty added to the loss.
Its "combine VAE with GAN" is `VAEGAN`, a small VAE-GAN (Larsen et al. 2016, simplified).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

# ---------------------------------------------------------------------------------------------
# losses


def reconstruction_loss(x, logits):
    """-log p(x|z) for Bernoulli pixels: binary cross-entropy from logits, summed over the pixels
    of each image, then averaged over the batch. x in [0, 1], logits any real numbers."""
    x = ops.cast(x, "float32")
    logits = ops.cast(logits, "float32")
    # max(l, 0) - l*x + log(1 + exp(-|l|)) is BCE(x, sigmoid(l)) without overflow
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    per_image = ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1)
    return ops.mean(per_image)


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) in closed form, summed over the latent
    dimensions: one value per example, shape (batch,)."""
    z_mean = ops.cast(z_mean, "float32")
    z_log_var = ops.cast(z_log_var, "float32")
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


# ---------------------------------------------------------------------------------------------
# networks


class Sampling(layers.Layer):
    """z = z_mean + exp(0.5 * z_log_var) * eps with eps ~ N(0, I) (the reparameterisation trick)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _check(image_shape, latent_dim, num_classes):
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ValueError(f"image_shape must be (height, width, 1 or 3), got {image_shape!r}")
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    if num_classes is not None and int(num_classes) < 2:
        raise ValueError(f"num_classes must be None (unconditional) or >= 2, got {num_classes}")
    return tuple(int(s) for s in image_shape)


def conv_plan(image_shape):
    """How many stride-2 convolutions, and the feature-map size they end at.

    Halve while both sides are even and larger than 8: 28 -> 14 -> 7, 32 -> 16 -> 8,
    64 -> 32 -> 16 -> 8. The decoder retraces the same steps upwards, so its output has
    exactly the image's height and width.
    """
    height, width = image_shape[:2]
    steps = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 8:
        height, width, steps = height // 2, width // 2, steps + 1
    return steps, (height, width)


def _regulariser(weight_decay):
    return keras.regularizers.L2(weight_decay) if weight_decay else None


def build_encoder(image_shape=(28, 28, 1), latent_dim=16, num_classes=None, base_filters=32,
                  hidden=256, dropout=0.0, weight_decay=0.0):
    """E(x) -> [z_mean, z_log_var]; with num_classes, E([x, label]) (label: int, shape (B,))."""
    image_shape = _check(image_shape, latent_dim, num_classes)
    reg = _regulariser(weight_decay)
    steps, _ = conv_plan(image_shape)
    image = keras.Input(image_shape, name="image")
    inputs = [image]
    x = image
    for i in range(steps):
        x = layers.Conv2D(base_filters * 2**i, 3, strides=2, padding="same", activation="relu",
                          kernel_regularizer=reg)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    if num_classes is not None:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        onehot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="onehot")(label)
        x = layers.Concatenate()([x, onehot])
    x = layers.Dense(hidden, activation="relu", kernel_regularizer=reg)(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs if num_classes else image, [z_mean, z_log_var], name="encoder")


def build_decoder(image_shape=(28, 28, 1), latent_dim=16, num_classes=None, base_filters=32,
                  hidden=256, dropout=0.0, weight_decay=0.0):
    """D(z) -> Bernoulli logits of shape image_shape; with num_classes, D([z, label])."""
    image_shape = _check(image_shape, latent_dim, num_classes)
    reg = _regulariser(weight_decay)
    steps, (height, width) = conv_plan(image_shape)
    top = base_filters * 2 ** max(steps - 1, 0)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes is not None:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        onehot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="onehot")(label)
        x = layers.Concatenate()([z, onehot])
    x = layers.Dense(hidden, activation="relu", kernel_regularizer=reg)(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(height * width * top, activation="relu", kernel_regularizer=reg)(x)
    x = layers.Reshape((height, width, top))(x)
    for i in reversed(range(steps)):
        x = layers.Conv2DTranspose(base_filters * 2**i, 3, strides=2, padding="same",
                                   activation="relu", kernel_regularizer=reg)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    # No sigmoid: the loss takes logits (stable); sigmoid(logits) is the mean image.
    logits = layers.Conv2D(image_shape[-1], 3, padding="same", name="logits")(x)
    return keras.Model(inputs if num_classes else z, logits, name="decoder")


# ---------------------------------------------------------------------------------------------
# trainers


def _unit_images(x):
    """uint8 (N, H, W[, C]) or float in [0, 1] -> float32 (N, H, W, C) in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0
    x = x.astype("float32")
    if x.size and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError(f"VAE images must be in [0, 1] (or uint8), got {x.min():.2f}..{x.max():.2f}")
    return x


def _sigmoid(logits):
    return np.asarray(ops.sigmoid(logits), dtype="float32")


class VAE(keras.Model):
    """Trains encoder + decoder on the negative ELBO; data = images in [0, 1] or (images, labels).

    `fit` shows loss (= reconstruction + beta * kl + weight penalty), reconstruction_loss and
    kl_loss, all in nats per image; with validation data the same numbers appear as val_*.
    beta = 1 is the ELBO; beta > 1 is the beta-VAE (smoother latent space, blurrier images).
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.sampling = Sampling(seed=seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # The conditional subclass only changes what the networks are given.
    def _split(self, data):
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def _encode(self, images, labels, training):
        return self.encoder(images, training=training)

    def _decode(self, z, labels, training):
        return self.decoder(z, training=training)

    def _elbo_terms(self, data, training):
        images, labels = self._split(data)
        z_mean, z_log_var = self._encode(images, labels, training)
        z = self.sampling([z_mean, z_log_var])
        logits = self._decode(z, labels, training)
        rec = reconstruction_loss(images, logits)
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        total = rec + self.beta * kl
        penalties = self.encoder.losses + self.decoder.losses  # L2 weight decay, if any
        if penalties:
            total = total + ops.sum(ops.stack(penalties))
        return total, rec, kl

    def _track(self, total, rec, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            total, rec, kl = self._elbo_terms(data, training=True)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        grads = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._track(total, rec, kl)

    def test_step(self, data):
        # One sampled z per image: an unbiased single-sample estimate of the negative ELBO.
        return self._track(*self._elbo_terms(data, training=False))

    def call(self, images, training=False):
        z_mean, z_log_var = self.encoder(images, training=training)
        return self.decoder(self.sampling([z_mean, z_log_var]), training=training)

    # -- numpy helpers for the notebooks ------------------------------------------------------

    def _labels(self, n, labels):
        return None  # unconditional: labels are ignored

    def encode(self, x, labels=None):
        """(z_mean, z_log_var) as numpy, for images x (uint8 or float in [0, 1])."""
        x = _unit_images(x)
        z_mean, z_log_var = self._encode(x, self._labels(len(x), labels), False)
        return np.asarray(z_mean), np.asarray(z_log_var)

    def decode(self, z, labels=None):
        """Mean images sigmoid(D(z)) in [0, 1] for latent codes z, shape (n, latent_dim)."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}")
        return _sigmoid(self._decode(z, self._labels(len(z), labels), False))

    def reconstruct(self, x, labels=None):
        """Decode the posterior mean of each image: the deterministic reconstruction, in [0, 1]."""
        z_mean, _ = self.encode(x, labels)
        return self.decode(z_mean, labels)

    def sample(self, n, labels=None, seed=0):
        """n new images in [0, 1], shape (n, H, W, C): z ~ N(0, I), then sigmoid(D(z))."""
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim))
        return self.decode(z.astype("float32"))


class CVAE(VAE):
    """Conditional VAE: encoder([x, label]) and decoder([z, label]); data = (images, labels)."""

    def __init__(self, encoder, decoder, beta=1.0, seed=0, **kwargs):
        if len(encoder.inputs) != 2 or len(decoder.inputs) != 2:
            raise ValueError("CVAE needs networks built with num_classes (inputs [x, label] "
                             "and [z, label]); use VAE for unconditional ones")
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)
        onehot = decoder.get_layer("onehot")
        self.num_classes = int(onehot.num_tokens)

    def _split(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("CVAE needs a dataset of (images, labels)")
        return data[0], data[1]

    def _labels(self, n, labels):
        if labels is None:
            raise ValueError("CVAE needs labels (int array, one per image)")
        labels = np.broadcast_to(np.asarray(labels, dtype="int64"), (n,)).astype("int32")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must be in [0, {self.num_classes - 1}], "
                             f"got {labels.min()}..{labels.max()}")
        return labels

    def _encode(self, images, labels, training):
        return self.encoder([images, labels], training=training)

    def _decode(self, z, labels, training):
        return self.decoder([z, labels], training=training)

    def call(self, inputs, training=False):
        images, labels = inputs
        z_mean, z_log_var = self.encoder([images, labels], training=training)
        return self.decoder([self.sampling([z_mean, z_log_var]), labels], training=training)

    def sample(self, n, labels=None, seed=0):
        """n images of the requested categories (labels None -> 0, 1, ..., 9, 0, 1, ...)."""
        n = int(n)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        return self.decode(z, labels)


def build_vae(image_shape=(28, 28, 1), latent_dim=16, num_classes=None, beta=1.0,
              learning_rate=1e-3, dropout=0.0, weight_decay=0.0, seed=0, **network_kwargs):
    """A compiled VAE (or CVAE when num_classes is given), ready for
    `fit(make_dataset(x, y, scale="unit", batch_size=128))`."""
    encoder = build_encoder(image_shape, latent_dim, num_classes, dropout=dropout,
                            weight_decay=weight_decay, **network_kwargs)
    decoder = build_decoder(image_shape, latent_dim, num_classes, dropout=dropout,
                            weight_decay=weight_decay, **network_kwargs)
    trainer = (CVAE if num_classes else VAE)(encoder, decoder, beta=beta, seed=seed)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return trainer


# ---------------------------------------------------------------------------------------------
# VAE-GAN (article 7.3 "combine VAE with GAN"): a small version of Larsen et al. 2016


def build_vae_discriminator(image_shape=(28, 28, 1), base_filters=32, dropout=0.3):
    """D(x) -> one logit per image, for images in [0, 1]."""
    image_shape = _check(image_shape, 1, None)
    steps, _ = conv_plan(image_shape)
    image = keras.Input(image_shape, name="image")
    x = image
    for i in range(steps):
        x = layers.Conv2D(base_filters * 2**i, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    return keras.Model(image, layers.Dense(1, name="logit")(x), name="vae_discriminator")


class VAEGAN(VAE):
    """VAE whose decoder is also a GAN generator: a discriminator learns to tell real images from
    reconstructions and from samples of the prior, and the decoder is rewarded for fooling it,
    which sharpens the VAE's blurry outputs. Simplification of Larsen et al. 2016: the
    reconstruction term stays per-pixel (Bernoulli), not in the discriminator's feature space.

    Encoder loss: reconstruction + beta * KL. Decoder loss: reconstruction + adversarial_weight *
    non-saturating GAN loss. compile(optimizer=..., d_optimizer=...) (one each; Adam defaults).
    """

    def __init__(self, encoder, decoder, discriminator, beta=1.0, adversarial_weight=1.0,
                 seed=0, **kwargs):
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)
        self.discriminator = discriminator
        self.adversarial_weight = float(adversarial_weight)
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")

    def compile(self, optimizer=None, d_optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)

    @property
    def metrics(self):
        return super().metrics + [self.g_loss_tracker, self.d_loss_tracker]

    def train_step(self, data):
        images, labels = self._split(data)
        batch = ops.shape(images)[0]
        prior_z = keras.random.normal((batch, self.latent_dim), seed=self.sampling.seed_generator)
        with tf.GradientTape() as enc_tape, tf.GradientTape() as dec_tape, \
                tf.GradientTape() as d_tape:
            z_mean, z_log_var = self._encode(images, labels, True)
            logits = self._decode(self.sampling([z_mean, z_log_var]), labels, True)
            rec = reconstruction_loss(images, logits)
            kl = ops.mean(kl_divergence(z_mean, z_log_var))
            recon = ops.sigmoid(logits)
            sampled = ops.sigmoid(self._decode(prior_z, labels, True))
            d_real = self.discriminator(images, training=True)
            d_fakes = [self.discriminator(recon, training=True),
                       self.discriminator(sampled, training=True)]
            # non-saturating losses on logits: -log D = softplus(-l), -log(1 - D) = softplus(l)
            g_loss = sum(ops.mean(ops.softplus(-d)) for d in d_fakes)
            d_loss = ops.mean(ops.softplus(-d_real)) + sum(ops.mean(ops.softplus(d)) for d in d_fakes)
            enc_loss = rec + self.beta * kl + sum(self.encoder.losses)  # + weight decay, if any
            dec_loss = rec + self.adversarial_weight * g_loss + sum(self.decoder.losses)
        # encoder and decoder share one optimiser, so they are updated in one call (a Keras 3
        # optimiser is built for one list of variables); the discriminator has its own.
        enc_vars = self.encoder.trainable_variables
        dec_vars = self.decoder.trainable_variables
        grads = enc_tape.gradient(enc_loss, enc_vars) + dec_tape.gradient(dec_loss, dec_vars)
        self.optimizer.apply_gradients(zip(grads, enc_vars + dec_vars))
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        self.g_loss_tracker.update_state(g_loss)
        self.d_loss_tracker.update_state(d_loss)
        return self._track(rec + self.beta * kl, rec, kl)

    def test_step(self, data):
        logs = self._track(*self._elbo_terms(data, training=False))
        return {k: v for k, v in logs.items() if k not in ("g_loss", "d_loss")}
