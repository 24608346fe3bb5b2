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
the prior with a chosen c gives a product of that category. With `guidance` > 0 it decodes with
classifier-free guidance (Ho & Salimans 2022): the decoder's logits for c are pushed away from
their average over all categories, which strengthens what makes the image a c.

Samples from the prior N(0, I) land where the decoder was seldom trained: the codes of real images
(the aggregate posterior) do not fill the prior. With `prior_components=K` the trainer fits a
mixture of K diagonal Gaussians to the codes of the training images after training -- per
category for the CVAE -- and `sample` draws z from it ("ex-post density estimation", Ghosh et al.
2020). The mixture's parameters are weights of the `GaussianMixture` network and ship with it.

The decoder's mean image sigmoid(logits) averages over what a code leaves open, so it is blurred.
`decode` divides the logits by a `temperature` T: each pixel's Bernoulli p(x|z), tempered to
p(x|z)^(1/T) and renormalised, is sigmoid(logits / T); below 1 it pushes greys towards black and
white and sharpens the edges, as sampling below temperature 1 does in Glow and in language models.
Like the mixture and the guidance, it changes decoding only, not training.

Article 7.3's "regularisation (Dropout, weight decay)" is the `dropout` / `weight_decay` arguments
of the builders: dropout after each hidden layer, an L2 kernel penalty added to the loss.
Its "combine VAE with GAN" is `VAEGAN`, a small VAE-GAN (Larsen et al. 2016, simplified).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import as_float, check_image_shape
from prodgen_lessons.models.gan import SAMPLE_BATCH

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
    image_shape = check_image_shape(image_shape)
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
# the ex-post density of the codes


def responsibilities(codes, weights, means, variances):
    """E-step: r[i, k], the probability that code i came from component k of a mixture of
    diagonal Gaussians, shape (n, K); each row sums to 1."""
    x = np.asarray(codes, dtype=np.float64)
    precision = 1.0 / variances
    # log pi_k + log N(x_i | m_k, diag(s_k^2)), expanded so that no (n, K, d) array is built
    log_p = (-0.5 * ((x * x) @ precision.T - 2.0 * x @ (means * precision).T
                     + np.sum(means * means * precision, axis=1))
             - 0.5 * np.sum(np.log(2 * np.pi * variances), axis=1) + np.log(weights))
    log_p -= log_p.max(axis=1, keepdims=True)  # exp without overflow
    r = np.exp(log_p)
    return r / r.sum(axis=1, keepdims=True)


def fit_gaussian_mixture(codes, components, iterations=60, seed=0, min_var=1e-4):
    """EM for a mixture of diagonal Gaussians: (weights (K,), means (K, D), variances (K, D)).

    Starts from K distinct codes as means and the overall variance; float64 throughout.
    """
    x = np.asarray(codes, dtype=np.float64)
    n, d = x.shape
    k = min(int(components), n)
    rng = np.random.default_rng(seed)
    means = x[rng.choice(n, k, replace=False)]
    variances = np.tile(x.var(axis=0) + min_var, (k, 1))
    weights = np.full(k, 1.0 / k)
    for _ in range(iterations):
        r = responsibilities(x, weights, means, variances)            # E-step
        mass = r.sum(axis=0) + 1e-10                                  # M-step
        weights = mass / n
        means = (r.T @ x) / mass[:, None]
        variances = np.maximum((r.T @ (x * x)) / mass[:, None] - means * means, min_var)
    return weights, means, variances


class GaussianMixture(keras.Model):
    """A mixture of `components` diagonal Gaussians over the latent space, one mixture per
    category when `num_classes` is given. Its parameters are (non-trainable) weights, so the
    fitted density saves and loads like any network; until `fit_codes` it is not `fitted`."""

    def __init__(self, latent_dim, components=20, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        groups = int(num_classes or 1)
        self.components, self.conditional = int(components), num_classes is not None
        self.means = self.add_weight(shape=(groups, components, latent_dim), initializer="zeros",
                                     trainable=False, name="means")
        self.log_variances = self.add_weight(shape=(groups, components, latent_dim), initializer="zeros",
                                             trainable=False, name="log_variances")
        self.log_weights = self.add_weight(shape=(groups, components), initializer="zeros",
                                           trainable=False, name="log_weights")
        self.fitted_flag = self.add_weight(shape=(), initializer="zeros", trainable=False, name="fitted")
        self.built = True

    @property
    def fitted(self):
        return bool(self.fitted_flag.numpy() > 0)

    def fit_codes(self, codes, labels=None, seed=0):
        """Fit the mixture (each category's, for a conditional one) to codes (n, latent_dim)."""
        codes = np.asarray(codes, dtype=np.float64)
        groups = self.means.shape[0]
        labels = np.zeros(len(codes), int) if labels is None or not self.conditional else np.asarray(labels)
        means, log_vars, log_w = (np.zeros(v.shape) for v in (self.means, self.log_variances, self.log_weights))
        for g in range(groups):
            mine = codes[labels == g]
            if len(mine) < self.components:
                raise ValueError(f"category {g} has {len(mine)} codes, fewer than the mixture's "
                                 f"{self.components} components")
            w, m, v = fit_gaussian_mixture(mine, self.components, seed=seed + g)
            means[g], log_vars[g], log_w[g] = m, np.log(v), np.log(w)
        self.means.assign(means)
        self.log_variances.assign(log_vars)
        self.log_weights.assign(log_w)
        self.fitted_flag.assign(1.0)

    def sample(self, n, labels=None, seed=0):
        """n codes (float32 numpy); per category `labels` for a conditional mixture."""
        rng = np.random.default_rng(seed)
        groups = np.zeros(n, int) if labels is None or not self.conditional else np.asarray(labels)
        log_w = self.log_weights.numpy()[groups]                      # (n, K)
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        k = (w.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)   # one component per code
        mean = self.means.numpy()[groups, k]
        std = np.exp(0.5 * self.log_variances.numpy()[groups, k])
        return (mean + std * rng.standard_normal(mean.shape)).astype("float32")


# ---------------------------------------------------------------------------------------------
# trainers


def _sigmoid(logits):
    return np.asarray(ops.sigmoid(logits), dtype="float32")


def _temperature(value):
    if not float(value) > 0:
        raise ValueError(f"temperature must be > 0 (1: the decoder's own mean image), got {value}")
    return float(value)


def _guidance(value):
    if not float(value) >= 0:
        raise ValueError(f"guidance must be >= 0 (0: the decoder as trained), got {value}")
    return float(value)


class VAE(keras.Model):
    """Trains encoder + decoder on the negative ELBO; data = images in [0, 1] or (images, labels).

    `fit` shows loss (= reconstruction + beta * kl + weight penalty), reconstruction_loss and
    kl_loss, all in nats per image; with validation data the same numbers appear as val_*.
    beta = 1 is the ELBO; beta > 1 is the beta-VAE (smoother latent space, blurrier images).
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=0, prior_components=0, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if int(prior_components) < 0:
            raise ValueError(f"prior_components must be >= 0 (0: sample from N(0, I)), got {prior_components}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.temperature = _temperature(temperature)
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.prior = (GaussianMixture(self.latent_dim, int(prior_components), getattr(self, "num_classes", None),
                                      name="prior") if prior_components else None)
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

    def fit(self, x=None, *args, **kwargs):
        """keras.Model.fit; then, with `prior_components`, the mixture is fitted to the codes of
        the training data `x` (a dataset of images or (images, labels))."""
        history = super().fit(x, *args, **kwargs)
        if self.prior is not None and x is not None:
            self.fit_prior(x)
        return history

    def fit_prior(self, data, seed=0):
        """Fit the ex-post density to the posterior means of `data` (a tf.data.Dataset of images
        or (images, labels) batches, as `fit` takes)."""
        if self.prior is None:
            raise ValueError("this VAE has no ex-post density; build it with prior_components > 0")
        codes, labels = [], []
        for batch in data:
            images, batch_labels = self._split(batch)
            z_mean, _ = self._encode(images, batch_labels, False)
            codes.append(np.asarray(z_mean, dtype="float32"))
            if batch_labels is not None:
                labels.append(np.asarray(batch_labels))
        self.prior.fit_codes(np.concatenate(codes), np.concatenate(labels) if labels else None, seed=seed)

    def _prior_codes(self, n, labels, seed):
        """z for `sample`: from the fitted ex-post density if there is one, else from N(0, I)."""
        if self.prior is not None and self.prior.fitted:
            return self.prior.sample(n, labels, seed)
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")

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
        x = as_float(x, "unit", given="unit")
        z_mean, z_log_var = self._encode(x, self._labels(len(x), labels), False)
        return np.asarray(z_mean), np.asarray(z_log_var)

    def decode(self, z, labels=None, temperature=None, guidance=None):
        """Images sigmoid(D(z) / temperature) in [0, 1] for latent codes z, shape (n, latent_dim):
        the decoder's mean image at temperature 1, sharper below 1. `temperature` and the CVAE's
        `guidance` default to the model's own; pass them to decode one call otherwise."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}")
        temperature = self.temperature if temperature is None else _temperature(temperature)
        labels = self._labels(len(z), labels)
        starts = range(0, len(z), SAMPLE_BATCH) or [0]  # in slices: memory does not grow with n
        return np.concatenate([_sigmoid(self._logits(z[i:i + SAMPLE_BATCH],
                                                     None if labels is None else labels[i:i + SAMPLE_BATCH], guidance)
                                        / temperature)
                               for i in starts])

    def _logits(self, z, labels, guidance=None):
        if guidance:
            raise ValueError("guidance needs a condition: use a CVAE")
        return self._decode(z, labels, False)

    def reconstruct(self, x, labels=None):
        """Decode the posterior mean of each image: the deterministic reconstruction, in [0, 1]."""
        z_mean, _ = self.encode(x, labels)
        return self.decode(z_mean, labels)

    def sample(self, n, labels=None, seed=0):
        """n new images in [0, 1], shape (n, H, W, C): z from the prior (the fitted ex-post
        density, or N(0, I)), then `decode`."""
        return self.decode(self._prior_codes(int(n), None, seed))


class CVAE(VAE):
    """Conditional VAE: encoder([x, label]) and decoder([z, label]); data = (images, labels)."""

    def __init__(self, encoder, decoder, beta=1.0, seed=0, guidance=0.0, **kwargs):
        if len(encoder.inputs) != 2 or len(decoder.inputs) != 2:
            raise ValueError("CVAE needs networks built with num_classes (inputs [x, label] "
                             "and [z, label]); use VAE for unconditional ones")
        self.num_classes = int(decoder.get_layer("onehot").num_tokens)  # the prior needs it
        self.guidance = _guidance(guidance)
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)

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

    def _logits(self, z, labels, guidance=None):
        """The logits `decode` turns into images, with classifier-free guidance (Ho & Salimans
        2022) of weight w = `guidance`: own + w * (own - mean over every category c of D(z, c)).
        The average over the categories stands in for an unconditional decoder, so the difference
        is what makes the image the requested category, and w > 0 strengthens it; it costs one
        decoder pass per category. Training is unchanged: guidance acts only when decoding."""
        guidance = self.guidance if guidance is None else _guidance(guidance)
        if not guidance:
            return self._decode(z, labels, False)
        every = np.stack([np.asarray(self._decode(z, np.full(len(z), c, "int32"), False))
                          for c in range(self.num_classes)], axis=1)
        own = every[np.arange(len(z)), labels]
        return own + guidance * (own - every.mean(axis=1))

    def sample(self, n, labels=None, seed=0):
        """n images of the requested categories (labels None -> 0, 1, ..., 9, 0, 1, ...)."""
        n = int(n)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        labels = self._labels(n, labels)
        return self.decode(self._prior_codes(n, labels, seed), labels)


def build_vae(image_shape=(28, 28, 1), latent_dim=16, num_classes=None, beta=1.0,
              learning_rate=1e-3, dropout=0.0, weight_decay=0.0, seed=0, prior_components=0,
              conditional=False, guidance=0.0, temperature=1.0, **network_kwargs):
    """A compiled VAE, ready for `fit(make_dataset(x, y, scale="unit", batch_size=128))`.

    num_classes is used only by the conditional VAE (`build_cvae`, or conditional=True); every
    model builder takes it. prior_components > 0: sample from a mixture fitted to the training
    codes after `fit` (see `GaussianMixture`). temperature and guidance (the conditional VAE's) only
    change how codes are decoded into images (see `VAE.decode`, `CVAE._logits`)."""
    num_classes = num_classes if conditional else None
    if conditional and not num_classes:
        raise ValueError("a conditional VAE needs num_classes (the number of categories)")
    if guidance and not conditional:
        raise ValueError("guidance needs a condition: use build_cvae (or conditional=True)")
    encoder = build_encoder(image_shape, latent_dim, num_classes, dropout=dropout,
                            weight_decay=weight_decay, **network_kwargs)
    decoder = build_decoder(image_shape, latent_dim, num_classes, dropout=dropout,
                            weight_decay=weight_decay, **network_kwargs)
    conditional_options = {"guidance": guidance} if num_classes else {}
    trainer = (CVAE if num_classes else VAE)(encoder, decoder, beta=beta, seed=seed, prior_components=prior_components,
                                             temperature=temperature, **conditional_options)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return trainer


def build_cvae(image_shape=(28, 28, 1), latent_dim=16, num_classes=10, **options):
    """A compiled conditional VAE: `build_vae` with the category fed to both networks."""
    return build_vae(image_shape, latent_dim, num_classes, conditional=True, **options)


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
