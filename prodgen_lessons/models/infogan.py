"""InfoGAN (article 3.3; Chen et al. 2016): GAN codes that mean something, learned without labels.

The generator gets noise z plus a latent code c: one categorical code (10 values, one-hot) and
`num_continuous` continuous codes in [-1, 1] (the paper used two, the course uses one). A head Q
on the discriminator's body guesses c back from the image. Maximising the mutual information
I(c; G(z, c)) becomes minimising Q's prediction error (a variational lower bound):

    L_info = CE(c_cat, Q_cat(G(z, c))) + 0.5 * ||c_cont - Q_cont(G(z, c))||^2

(cross-entropy for the categorical code, a unit-variance Gaussian log-likelihood = MSE for the
continuous ones). Both G and D/Q minimise lambda * L_info on top of the GAN losses of 3.1.
The categorical code typically picks up the product category, a continuous one width or shade.

`build_infogan` is the course's recipe: the DCGAN's (hinge loss, no dropout, one forward pass for
both players, a moving average of G's weights, bfloat16 where the CPU has it) plus the codes, and
two choices of the paper's: a 1,024-unit layer in D before its heads, and G learning 5 times as
fast as D (Adam 1e-3 against 2e-4). Two choices are not the paper's: Q's categorical head also
sorts the real photos into confident groups of equal size (`real_information`), so that the
code follows groups of the real catalogue rather than any feature of the generated images that
Q happens to read; and it keeps a photo in its group when the photo is shifted, zoomed or
mirrored a little (`group_change`, option `cluster_moves`), so that the groups follow the
product rather than where it sits. Both terms have the weight `cluster_weight`.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import as_float, augmentation, check_image_shape
from prodgen_lessons.models.convnets import discriminator_body, generator_body
from prodgen_lessons.models.gan import (
    GAN,
    _images_of,
    discriminator_accuracy,
    dtype_policy,
    gan_optimizers,
    in_batches,
    resolve_precision,
)


def build_generator(latent_dim=62, image_shape=(28, 28, 1), num_categories=10, num_continuous=2,
                    base_filters=64):
    """G([z, category (int), continuous (num_continuous,)]) -> image in [-1, 1]."""
    image_shape = check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    category = keras.Input((), dtype="int32", name="category")
    continuous = keras.Input((num_continuous,), name="continuous")
    onehot = layers.CategoryEncoding(num_categories, output_mode="one_hot")(category)
    x = layers.Concatenate()([z, onehot, continuous])
    image = generator_body(x, image_shape, base_filters)
    return keras.Model([z, category, continuous], image, name="infogan_generator")


def build_discriminator(image_shape=(28, 28, 1), num_categories=10, num_continuous=2,
                        base_filters=64, dropout=0.0, hidden=1024):
    """D(image) -> [logit, category logits, continuous means]; D and Q share the conv body.

    hidden: see `dcgan.discriminator_body` (the paper's D has 1,024 units there)."""
    image = keras.Input(check_image_shape(image_shape), name="image")
    h = discriminator_body(image, image_shape, base_filters, dropout, hidden=hidden)
    logit = layers.Dense(1, name="logit")(h)
    q = layers.Dense(128, name="q_hidden")(h)
    q = layers.LeakyReLU(0.2)(q)
    q_category = layers.Dense(num_categories, name="q_category")(q)
    q_continuous = layers.Dense(num_continuous, name="q_continuous")(q)
    return keras.Model(image, [logit, q_category, q_continuous], name="infogan_discriminator")


def info_loss(category, continuous, q_category, q_continuous):
    """CE(category, Q_cat) + 0.5 * mean squared error summed over the continuous codes."""
    ce = keras.losses.sparse_categorical_crossentropy(category, ops.cast(q_category, "float32"),
                                                      from_logits=True)
    gauss = 0.5 * ops.sum(ops.square(ops.cast(continuous, "float32") - ops.cast(q_continuous, "float32")),
                          axis=-1)
    return ops.mean(ce) + ops.mean(gauss)


def real_information(q_category):
    """Q's mutual information with real photos, I(x; c) = H(E p(c|x)) - E H(p(c|x)), estimated on
    a batch (regularised information maximisation, Krause et al. 2010): high when Q sorts the
    photos into confident groups of equal size."""
    log_p = ops.log_softmax(ops.cast(q_category, "float32"), axis=-1)
    p = ops.exp(log_p)
    marginal = ops.mean(p, axis=0)
    marginal_entropy = -ops.sum(marginal * ops.log(marginal + 1e-8))
    return marginal_entropy + ops.mean(ops.sum(p * log_p, axis=-1))


def group_change(q_category, q_category_moved):
    """How far Q's groups move when the photos are moved a little: KL(p(c|x) || p(c|x')), x' a
    shifted, flipped or zoomed copy of x, averaged over the batch (self-augmented training, Hu et
    al. 2017). p(c|x) is the target, so only the moved copy's guess is pulled towards it."""
    target = ops.stop_gradient(ops.softmax(ops.cast(q_category, "float32"), axis=-1))
    log_moved = ops.log_softmax(ops.cast(q_category_moved, "float32"), axis=-1)
    return ops.mean(ops.sum(target * (ops.log(target + 1e-8) - log_moved), axis=-1))


class InfoGAN(GAN):
    """InfoGAN trainer; labels in the dataset are ignored. info_weight = lambda.

    cluster_weight: weight of Q's clustering terms in D's loss. Q's categorical head then also
    sorts the real photos into as many groups as the code has values; since G must make each
    code value readable to Q, the code follows the groups Q finds in the real catalogue.
    moves: a layer that moves real photos a little, or None. Q's groups must then stay put when a
    photo is moved (`group_change`; one more pass of D over the moved copies)."""

    def __init__(self, generator, discriminator, info_weight=1.0, cluster_weight=0.0, moves=None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if len(generator.inputs) != 3 or len(discriminator.outputs) != 3:
            raise ValueError("InfoGAN needs infogan.build_generator / build_discriminator networks")
        self.num_categories = int(discriminator.outputs[1].shape[-1])
        self.num_continuous = int(generator.inputs[2].shape[-1])
        self.info_weight = float(info_weight)
        self.cluster_weight = float(cluster_weight)
        self.moves = moves
        self.info_loss_tracker = keras.metrics.Mean(name="info_loss")
        self.real_info_tracker = keras.metrics.Mean(name="real_information")
        self.group_change_tracker = keras.metrics.Mean(name="group_change")

    @property
    def metrics(self):
        return super().metrics + [self.info_loss_tracker, self.real_info_tracker] + (
            [self.group_change_tracker] if self.moves is not None else [])

    def _codes(self, batch_size):
        category = tf.random.uniform((batch_size,), 0, self.num_categories, dtype="int32")
        continuous = tf.random.uniform((batch_size, self.num_continuous), -1.0, 1.0)
        return category, continuous

    def train_step(self, data):
        real = _images_of(data)
        batch_size = tf.shape(real)[0]
        z = self._noise(batch_size)
        category, continuous = self._codes(batch_size)
        # One forward pass serves both players; both minimise the information loss (G by making
        # its codes readable, Q by reading them); Q alone also sorts the real photos.
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator([z, category, continuous], training=True)
            d_real, q_cat_real, _ = self.discriminator(real, training=True)
            d_fake, q_cat, q_cont = self.discriminator(fake, training=True)
            d_loss, g_loss = self._d_loss(d_real, d_fake), self._g_loss(d_fake)
            i_loss = info_loss(category, continuous, q_cat, q_cont)
            real_info = real_information(q_cat_real)
            cluster_loss = -real_info
            if self.moves is not None:
                _, q_cat_moved, _ = self.discriminator(self.moves(real, training=True), training=True)
                change = group_change(q_cat_real, q_cat_moved)
                cluster_loss += change
            d_scaled = self.d_optimizer.scale_loss(d_loss + self.info_weight * i_loss
                                                   + self.cluster_weight * cluster_loss)
            g_scaled = self.g_optimizer.scale_loss(g_loss + self.info_weight * i_loss)
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_tracker.update_state(discriminator_accuracy(d_real, d_fake))
        self.info_loss_tracker.update_state(i_loss)
        self.real_info_tracker.update_state(real_info)
        if self.moves is not None:
            self.group_change_tracker.update_state(change)
        return {m.name: m.result() for m in self.metrics}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample(self, n, labels=None, seed=0, codes=None):
        """n images in [0, 1]. codes: dict with optional "category" (int or (n,) ints) and
        "continuous" ((num_continuous,) or (n, num_continuous) in about [-1, 1]); missing codes
        are drawn from `seed` (category None -> 0, 1, ..., 9, 0, ...). `labels` is ignored
        (InfoGAN has no labels) unless given as codes["category"]."""
        n = int(n)
        codes = dict(codes or {})
        unknown = set(codes) - {"category", "continuous"}
        if unknown:
            raise ValueError(f"unknown code(s) {sorted(unknown)}; use 'category' and/or 'continuous'")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim)).astype("float32")
        continuous = rng.uniform(-1, 1, (n, self.num_continuous)).astype("float32")
        category = np.arange(n) % self.num_categories
        if codes.get("category") is not None:
            category = np.broadcast_to(np.asarray(codes["category"]), (n,))
            if category.min() < 0 or category.max() >= self.num_categories:
                raise ValueError(f"category codes must be in [0, {self.num_categories - 1}]")
        if codes.get("continuous") is not None:
            continuous = np.broadcast_to(np.asarray(codes["continuous"], "float32"),
                                         (n, self.num_continuous))
        with self.averaged_generator() as generator:
            return as_float(in_batches(generator, [z, category.astype("int32"), np.array(continuous)]),
                            "unit", given="tanh")


def build_infogan(image_shape=(28, 28, 1), latent_dim=62, num_classes=10, num_continuous=1,
                  base_filters=64, dropout=0.0, info_weight=1.0, cluster_weight=0.0, cluster_moves=False,
                  hidden=1024, loss="hinge", label_smoothing=0.0, learning_rate=(1e-3, 2e-4), ema=0.999,
                  precision="auto"):
    """The course's InfoGAN, compiled and ready for `fit(make_dataset(..., batch_size=64))`.

    num_classes: values of the categorical code (learned without labels; the catalogue's number
    of categories, so that code purity can be measured against them).
    cluster_moves: Q's groups of real photos must survive small shifts, zooms and mirror images
    (`group_change`); the moves are made in float32, outside the mixed-precision policy."""
    num_categories = num_classes
    moves = None
    if cluster_moves:
        moves = augmentation(rotation=0, brightness=0, contrast=0, image_size=check_image_shape(image_shape)[0])
    with dtype_policy(resolve_precision(precision)):
        trainer = InfoGAN(build_generator(latent_dim, image_shape, num_categories, num_continuous, base_filters),
                          build_discriminator(image_shape, num_categories, num_continuous, base_filters, dropout,
                                              hidden),
                          info_weight=info_weight, cluster_weight=cluster_weight, moves=moves, loss=loss,
                          label_smoothing=label_smoothing)
        g_optimizer, d_optimizer = gan_optimizers(learning_rate, ema)
        trainer.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    return trainer
