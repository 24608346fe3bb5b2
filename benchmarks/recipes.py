"""The recipes the time-to-quality benchmark races, each as published (see benchmarks/README.md).

Every recipe is a `Recipe`: how to build its trainer (a `keras.Model` with its own `train_step`,
so `fit` runs them all the same way) and the `tf.data` pipeline it trains on. Every trainer has
`sample(n, labels=None, seed=0) -> float32 images in [0, 1]`, the course's convention, or, for
the CycleGANs, `translate(images, direction) -> images in [0, 1]`, so the benchmark scores them
all with the same evaluators. Each model family the course teaches races its course recipe
against a published one:

- cGAN: "kerasio_cgan", the keras.io conditional GAN example, written here from its published
  description (no code copied): one-hot labels appended to the noise and, as 10 constant image
  channels, to the discriminator's input; sigmoid images in [0, 1]. "article_cgan", the seed
  article's 5.4/5.5 cGAN with the fewest fixes that make it run and train; each fix is listed in
  `ARTICLE_FIXES` (and in RESULTS.md); its discriminator is the article's own
  `make_discriminator_model`, imported from `prodgen_lessons.article`. "course_cgan", this
  course's default, `prodgen_lessons.models.build("cgan")` on
  `make_dataset(x, y, batch_size=64, scale="tanh")`.
- DCGAN: "tf_dcgan", the TensorFlow DCGAN tutorial's networks and step (unconditional, tanh
  images; it also runs in the cGAN race, as the unconditional baseline), "plain_dcgan", the
  course's DCGAN without its clusters, "course_dcgan", the self-conditioned one (100 clusters),
  and "course_dcgan_k50", the same with 50.
- InfoGAN: "paper_infogan", the MNIST networks and optimisers of Chen et al. 2016, trained by the
  course's `InfoGAN` step, "course_infogan", whose Q also sorts the real photos and keeps a
  photo's group when the photo moves a little, "course_infogan_rim", the same without the moves,
  and "course_infogan_paper_q", with Q reading generated images only, as in the paper.
- VAE and CVAE: "tf_vae", the TensorFlow convolutional VAE tutorial's networks (latent 2, as
  published), "tf_cvae", the same with a one-hot label, and "course_vae", "course_cvae".
- CycleGAN (sneakers -> ankle boots): "kerasio_cyclegan", the keras.io CycleGAN example's
  networks, losses and optimisers at 28 pixels, and "course_cyclegan".

The course recipes are `models.build(model, **pretrained.RECIPES[model]["options"])` with the
batch size of the shipped recipe. All of them train on the same Fashion-MNIST training split (the
keras.io cGAN trained on MNIST's train + test; here the test split is held out for the noise
floor and, for the CycleGANs, for the sneakers that are translated).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons import article, models, pretrained, training
from prodgen_lessons.data import NUM_CLASSES, make_dataset
from prodgen_lessons.models import cyclegan, diffusion, gan, infogan, vae


def _unit(images):
    return np.clip(np.asarray(images, dtype="float32"), 0.0, 1.0)


def _with_label_maps(images, one_hot):
    """Append a one-hot label as constant channels: (B, H, W, C) + (B, k) -> (B, H, W, C + k)."""
    ones = tf.ones_like(images[..., :1])
    return tf.concat([images, one_hot[:, None, None, :] * ones], axis=-1)


class _Trainer(keras.Model):
    """What the three reference trainers share: two networks, one optimiser each, loss trackers."""

    def __init__(self, generator, discriminator, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.built = True

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.g_loss_tracker, self.d_loss_tracker]

    def _track(self, g_loss, d_loss):
        self.g_loss_tracker.update_state(g_loss)
        self.d_loss_tracker.update_state(d_loss)
        return {m.name: m.result() for m in self.metrics}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _noise(self, n, seed):
        return np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype("float32")

    @staticmethod
    def _labels(n, labels):
        if labels is None:
            return np.arange(int(n)) % NUM_CLASSES
        labels = np.broadcast_to(np.asarray(labels, dtype="int64"), (int(n),))
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise ValueError(f"labels must be in [0, {NUM_CLASSES - 1}], got {labels.min()}..{labels.max()}")
        return labels


# ---------------------------------------------------------------------------------------------
# 1. keras.io conditional GAN (latent 128, batch 64, Adam 3e-4, images in [0, 1])


def kerasio_generator(latent_dim=128, num_classes=NUM_CLASSES):
    channels = latent_dim + num_classes  # 138: the noise and the one-hot label, side by side
    return keras.Sequential([
        keras.Input((channels,)),
        layers.Dense(7 * 7 * channels),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, channels)),
        layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
    ], name="kerasio_generator")


def kerasio_discriminator(num_classes=NUM_CLASSES):
    return keras.Sequential([
        keras.Input((28, 28, 1 + num_classes)),  # the image and 10 one-hot label channels
        layers.Conv2D(64, 3, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, 3, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ], name="kerasio_discriminator")


class KerasIOConditionalGAN(_Trainer):
    """D sees real and fake (image, label-map) pairs in one batch; BCE from logits for both."""

    def __init__(self, generator, discriminator, latent_dim=128, num_classes=NUM_CLASSES, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.num_classes = num_classes
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, data):
        real, labels = data
        one_hot = tf.one_hot(tf.cast(labels, "int32"), self.num_classes)
        batch = tf.shape(real)[0]

        z = tf.random.normal((batch, self.latent_dim))
        fake = self.generator(tf.concat([z, one_hot], axis=1))
        pairs = tf.concat([_with_label_maps(real, one_hot), _with_label_maps(fake, one_hot)], axis=0)
        targets = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)  # real 1, fake 0
        with tf.GradientTape() as tape:
            d_loss = self.bce(targets, self.discriminator(pairs))
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))

        z = tf.random.normal((batch, self.latent_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(tf.concat([z, one_hot], axis=1))
            g_loss = self.bce(tf.ones((batch, 1)), self.discriminator(_with_label_maps(fake, one_hot)))
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        return self._track(g_loss, d_loss)

    def sample(self, n, labels=None, seed=0):
        one_hot = np.eye(self.num_classes, dtype="float32")[self._labels(n, labels)]
        return _unit(self.generator(np.concatenate([self._noise(n, seed), one_hot], 1), training=False))


def build_kerasio_cgan():
    trainer = KerasIOConditionalGAN(kerasio_generator(), kerasio_discriminator())
    trainer.compile(g_optimizer=keras.optimizers.Adam(3e-4), d_optimizer=keras.optimizers.Adam(3e-4))
    return trainer


# ---------------------------------------------------------------------------------------------
# 2. TensorFlow DCGAN tutorial (noise 100, batch 256, Adam 1e-4, tanh images)


def tutorial_generator(noise_dim=100):
    return keras.Sequential([
        keras.Input((noise_dim,)),
        layers.Dense(7 * 7 * 256, use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(),  # the tutorial's default slope: 0.3 under Keras 2, 0.2 under Keras 3
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ], name="tutorial_generator")


def tutorial_discriminator():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"),
        layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"),
        layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dense(1),
    ], name="tutorial_discriminator")


class TutorialDCGAN(_Trainer):
    """The tutorial's step: one forward pass, two tapes, noise of the fixed batch size."""

    def __init__(self, generator, discriminator, latent_dim=100, batch_size=256, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.batch_size = int(batch_size)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        noise = tf.random.normal([self.batch_size, self.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = self.generator(noise, training=True)
            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated, training=True)
            g_loss = self.bce(tf.ones_like(fake_output), fake_output)
            d_loss = (self.bce(tf.ones_like(real_output), real_output)
                      + self.bce(tf.zeros_like(fake_output), fake_output))
        g_grads = gen_tape.gradient(g_loss, self.generator.trainable_variables)
        d_grads = disc_tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))
        return self._track(g_loss, d_loss)

    def sample(self, n, labels=None, seed=0):
        """Unconditional: `labels` is ignored."""
        return _unit((np.asarray(self.generator(self._noise(n, seed), training=False)) + 1.0) / 2.0)


def build_tf_dcgan():
    trainer = TutorialDCGAN(tutorial_generator(), tutorial_discriminator())
    trainer.compile(g_optimizer=keras.optimizers.Adam(1e-4), d_optimizer=keras.optimizers.Adam(1e-4))
    return trainer


# ---------------------------------------------------------------------------------------------
# 3. The seed article's cGAN (5.4 networks, 5.5 losses and loop), fewest fixes

ARTICLE_FIXES = (
    "Generator: the printed Dense(128*4*4) -> Reshape((4, 4, 128)) grows 4 -> 8 -> 16 and outputs "
    "16x16 images; it now starts at 7x7 (Dense(128*7*7) -> Reshape((7, 7, 128))) so it outputs 28x28.",
    "Generator: it has one input but is called with [noise, label]; the one-hot label is now "
    "concatenated to the noise, so its one input has 100 + 10 values.",
    "Discriminator: it has one input but is called with [image, label]; the one-hot label is now "
    "appended to the image as 10 constant channels (the article's make_discriminator_model, "
    "unchanged, built with input_shape=(28, 28, 11)).",
    "`input_shape` is undefined in make_cgan_model / get_gan_loss, and get_gan_loss builds a new "
    "Keras model from symbolic Inputs on every batch: the two networks are called directly on the "
    "batch inside the training step instead, and the two printed loss lines evaluated on their outputs.",
    "binary_crossentropy(valid_fake, ones) has (target, prediction) swapped: now "
    "binary_crossentropy(target, D output).",
    "The discriminator loss labelled real images 0 and fakes 1 while the generator also aims at 1 "
    "(no game): the discriminator now labels real 1 and fake 0.",
    "One Adam optimiser was shared by both networks (Keras 3 refuses: an optimiser serves the "
    "variables it was built for): two Adam(2e-4, beta_1=0.5), one per network.",
    "The data gives integer labels where the listing expects one-hot (label_dim=10): tf.one_hot.",
    "Data: the 5.3 pipeline cannot run (cv2.imread on a tensor) and the article gives no batch size: "
    "make_dataset(x, y, batch_size=64, scale=\"unit\") ([0, 1], matching the sigmoid output).",
)
"""What was changed to make the article's cGAN train, each the smallest change that works."""

ARTICLE_KEPT = (
    "kept as printed: ReLU generator with sigmoid output, sigmoid-output discriminator with "
    "dropout 0.3, latent 100, Adam(2e-4, beta_1=0.5), both updates from one forward pass under two "
    "tapes, and networks called without training=True (as printed), so the dropout stays off; the "
    "per-batch print is left out (logging, not computation)."
)


def article_generator(latent_dim=100, label_dim=10):
    """Article 5.4 `make_generator_model` with fixes 1-2: a 7x7 start, input noise + one-hot label."""
    input_shape = (latent_dim + label_dim,)
    model = tf.keras.Sequential()
    model.add(tf.keras.Input(input_shape))
    model.add(layers.Dense(128 * 7 * 7, activation='relu'))  # fix 1: 7x7 (printed: 4x4)
    model.add(layers.Reshape((7, 7, 128)))
    model.add(layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding='same', activation='relu'))
    model.add(layers.Conv2DTranspose(1, (4, 4), strides=(2, 2), padding='same', activation='sigmoid'))
    return model


class ArticleCGAN(_Trainer):
    """Article 5.5's loop body, with fixes 4-8 (see ARTICLE_FIXES)."""

    def __init__(self, generator, discriminator, latent_dim=100, label_dim=10, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.label_dim = int(label_dim)

    def train_step(self, data):
        K = tf.keras.backend
        images, labels = data
        label = tf.one_hot(tf.cast(labels, "int32"), self.label_dim)  # fix 8
        batch_size = tf.shape(images)[0]
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            noise = tf.random.normal([batch_size, self.latent_dim])
            generated_image = self.generator(tf.concat([noise, label], axis=-1))  # fixes 2, 4
            valid_real = self.discriminator(_with_label_maps(images, label))  # fixes 3, 4
            valid_fake = self.discriminator(_with_label_maps(generated_image, label))
            # fix 5: (target, output); fix 6: real 1, fake 0
            gen_loss = K.mean(K.binary_crossentropy(K.ones_like(valid_fake), valid_fake))
            disc_loss = K.mean(K.binary_crossentropy(K.ones_like(valid_real), valid_real)
                               + K.binary_crossentropy(K.zeros_like(valid_fake), valid_fake))
        grads_gen = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        grads_disc = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads_gen, self.generator.trainable_variables))  # fix 7
        self.d_optimizer.apply_gradients(zip(grads_disc, self.discriminator.trainable_variables))
        return self._track(gen_loss, disc_loss)

    def sample(self, n, labels=None, seed=0):
        one_hot = np.eye(self.label_dim, dtype="float32")[self._labels(n, labels)]
        return _unit(self.generator(np.concatenate([self._noise(n, seed), one_hot], 1), training=False))


def build_article_cgan():
    generator = article_generator()
    discriminator = article.make_discriminator_model((28, 28, 1 + 10))  # as printed; fix 3
    trainer = ArticleCGAN(generator, discriminator)
    trainer.compile(g_optimizer=tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5),
                    d_optimizer=tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5))
    return trainer


# ---------------------------------------------------------------------------------------------
# 4. InfoGAN paper, MNIST (Chen et al. 2016, appendix C.1): noise 62, a 10-way categorical and
#    two continuous codes, Adam 2e-4 for D and 1e-3 for G, lambda 1, batch 64


def _normalised(x, activation):
    """BatchNormalization, then `activation`: the block between the paper's layers."""
    return activation(layers.BatchNormalization()(x))


def paper_infogan_generator(noise_dim=62, num_categories=10, num_continuous=2):
    """G([z, category, continuous]): FC1024 - FC7x7x128 - upconv64 - upconv1, BN + ReLU between.

    Same inputs as `infogan.build_generator`, so the course's `InfoGAN` step can train it. The
    paper names no output activation: tanh, for images in [-1, 1] as that step expects.
    """
    z = keras.Input((noise_dim,), name="z")
    category = keras.Input((), dtype="int32", name="category")
    continuous = keras.Input((num_continuous,), name="continuous")
    onehot = layers.CategoryEncoding(num_categories, output_mode="one_hot")(category)
    x = layers.Concatenate()([z, onehot, continuous])  # 62 + 10 + 2 = 74 inputs
    x = _normalised(layers.Dense(1024)(x), layers.ReLU())
    x = _normalised(layers.Dense(7 * 7 * 128)(x), layers.ReLU())
    x = layers.Reshape((7, 7, 128))(x)
    x = _normalised(layers.Conv2DTranspose(64, 4, strides=2, padding="same")(x), layers.ReLU())
    image = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model([z, category, continuous], image, name="paper_infogan_generator")


def paper_infogan_discriminator(num_categories=10, num_continuous=2):
    """D(image) -> [logit, category logits, continuous means]: conv64 - conv128 - FC1024 with
    LeakyReLU 0.1 (BN after all but the first layer); Q is FC128-BN-LeakyReLU on D's body."""
    image = keras.Input((28, 28, 1), name="image")
    x = layers.LeakyReLU(0.1)(layers.Conv2D(64, 4, strides=2, padding="same")(image))
    x = _normalised(layers.Conv2D(128, 4, strides=2, padding="same")(x), layers.LeakyReLU(0.1))
    body = _normalised(layers.Dense(1024)(layers.Flatten()(x)), layers.LeakyReLU(0.1))
    q = _normalised(layers.Dense(128)(body), layers.LeakyReLU(0.1))
    return keras.Model(image, [layers.Dense(1, name="logit")(body),
                               layers.Dense(num_categories, name="q_category")(q),
                               layers.Dense(num_continuous, name="q_continuous")(q)],
                       name="paper_infogan_discriminator")


def build_paper_infogan():
    trainer = infogan.InfoGAN(paper_infogan_generator(), paper_infogan_discriminator(),
                              info_weight=1.0, loss="bce")
    # beta_1 0.5: the DCGAN setting the paper builds on (it gives the learning rates only)
    trainer.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                    d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return trainer


# ---------------------------------------------------------------------------------------------
# 5. TensorFlow convolutional VAE tutorial (latent 2, batch 32, Adam 1e-4, Bernoulli logits)


def _with_onehot(features, inputs, num_classes):
    """Append a one-hot label input to `features` (the CVAE variant); without classes, as is."""
    if num_classes is None:
        return features, inputs
    label = keras.Input((), dtype="int32", name="label")
    onehot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="onehot")(label)
    return layers.Concatenate()([features, onehot]), [inputs, label]


def tutorial_encoder(latent_dim=2, num_classes=None):
    """q(z|x[, c]): two stride-2 3x3 convolutions (32, 64, ReLU, no padding), the flattened
    features [+ one-hot c], one Dense of 2 x latent_dim split into mean and log-variance."""
    image = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(32, 3, strides=2, activation="relu")(image)
    x = layers.Conv2D(64, 3, strides=2, activation="relu")(x)
    x, inputs = _with_onehot(layers.Flatten()(x), image, num_classes)
    moments = layers.Dense(2 * latent_dim)(x)
    return keras.Model(inputs, [moments[:, :latent_dim], moments[:, latent_dim:]], name="tutorial_encoder")


def tutorial_decoder(latent_dim=2, num_classes=None):
    """p(x|z[, c]): Dense 7x7x32 - upconv 64 - upconv 32 (stride 2, ReLU) - 3x3 conv to one
    channel of Bernoulli logits."""
    z = keras.Input((latent_dim,), name="z")
    x, inputs = _with_onehot(z, z, num_classes)
    x = layers.Reshape((7, 7, 32))(layers.Dense(7 * 7 * 32, activation="relu")(x))
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    logits = layers.Conv2DTranspose(1, 3, padding="same")(x)
    return keras.Model(inputs, logits, name="tutorial_decoder")


def build_tutorial_vae(num_classes=None, latent_dim=2):
    """The tutorial's networks trained by the course's VAE (or, with classes, CVAE) step."""
    trainer_class = vae.VAE if num_classes is None else vae.CVAE
    trainer = trainer_class(tutorial_encoder(latent_dim, num_classes), tutorial_decoder(latent_dim, num_classes))
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4))
    return trainer


# ---------------------------------------------------------------------------------------------
# 6. keras.io CycleGAN example, at 28 pixels (ResNet generator with reflection padding, PatchGAN,
#    LSGAN, lambda_cycle 10, lambda_identity 0.5, Adam 2e-4 beta_1 0.5, batch 1)


class ReflectionPadding2D(layers.Layer):
    """Pad height and width by mirroring the border, so convolutions see no zero frame."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, images):
        p = self.padding
        return ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _kernel_init():
    # A fresh initialiser per layer: one shared instance would give every layer the same draw.
    return keras.initializers.RandomNormal(0.0, 0.02)


def _instance_norm():
    """Instance normalisation (one group per channel), its gamma drawn around 0 as in the example."""
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, gamma_initializer=_kernel_init())


def _reflected_conv(x, filters, kernel, use_bias=False):
    """Reflect-pad by kernel // 2, then an unpadded convolution: the size is kept."""
    x = ReflectionPadding2D(kernel // 2)(x)
    return layers.Conv2D(filters, kernel, use_bias=use_bias, kernel_initializer=_kernel_init())(x)


def _conv_block(x, filters, kernel, strides, activation, transpose=False):
    """Zero-padded (transposed) convolution without bias -> instance norm -> activation."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False,
             kernel_initializer=_kernel_init())(x)
    return activation(_instance_norm()(x))


def _reflected_residual_block(x, filters):
    """x + [reflected 3x3 conv, IN, ReLU, reflected 3x3 conv, IN](x)."""
    y = layers.ReLU()(_instance_norm()(_reflected_conv(x, filters, 3)))
    y = _instance_norm()(_reflected_conv(y, filters, 3))
    return layers.Add()([x, y])


def kerasio_cyclegan_generator(filters=64, num_residual_blocks=6, name="generator"):
    """Reflected 7x7 conv 64, two stride-2 convs (128, 256), residual blocks at 7x7, two
    stride-2 transposed convs (128, 64), reflected 7x7 conv to one channel, tanh.

    The example uses 9 residual blocks for its 256-pixel photos; the CycleGAN paper's rule for
    images of 128 pixels and smaller is 6, which is used here for 28 pixels.
    """
    image = keras.Input((28, 28, 1), name="image")
    x = layers.ReLU()(_instance_norm()(_reflected_conv(image, filters, 7)))
    for mult in (2, 4):
        x = _conv_block(x, filters * mult, 3, 2, layers.ReLU())
    for _ in range(num_residual_blocks):
        x = _reflected_residual_block(x, filters * 4)
    for mult in (2, 1):
        x = _conv_block(x, filters * mult, 3, 2, layers.ReLU(), transpose=True)
    x = _reflected_conv(x, 1, 7, use_bias=True)
    return keras.Model(image, layers.Activation("tanh")(x), name=name)


def kerasio_cyclegan_discriminator(filters=64, name="discriminator"):
    """PatchGAN: 4x4 conv 64 stride 2 (LeakyReLU 0.2, no norm), then 128 stride 2, 256 and 512
    stride 1 with IN, then a 4x4 conv to one score per patch.

    The example strides 2 at 256 filters too; at 28 pixels that would leave a 4x4 grid, so
    that layer strides 1 here and the grid is 7x7.
    """
    image = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(filters, 4, strides=2, padding="same", kernel_initializer=_kernel_init())(image)
    x = layers.LeakyReLU(0.2)(x)
    for mult, strides in ((2, 2), (4, 1), (8, 1)):
        x = _conv_block(x, filters * mult, 4, strides, layers.LeakyReLU(0.2))
    patches = layers.Conv2D(1, 4, padding="same", kernel_initializer=_kernel_init())(x)
    return keras.Model(image, patches, name=name)


def build_kerasio_cyclegan(lambda_cycle=10.0, lambda_identity=0.5):
    """The example's networks in the course's CycleGAN step, which takes the identity weight
    as one number: the example's lambda_cycle x lambda_identity."""
    trainer = cyclegan.CycleGAN(
        kerasio_cyclegan_generator(name="generator_ab"), kerasio_cyclegan_generator(name="generator_ba"),
        kerasio_cyclegan_discriminator(name="discriminator_a"), kerasio_cyclegan_discriminator(name="discriminator_b"),
        lambda_cycle=lambda_cycle, lambda_identity=lambda_cycle * lambda_identity)
    # one Adam per pair of networks updates each weight exactly as one Adam per network would
    trainer.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                    d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return trainer


# ---------------------------------------------------------------------------------------------
# a class-conditional DDPM with classifier-free guidance (Ho et al. 2020; Ho & Salimans 2022)


class GuidedDDPM(diffusion.Diffusion):
    """Ho et al. 2020's DDPM, conditioned and guided as Ho & Salimans 2022 do it, written from the
    two papers: T = 1000 steps of a linear beta schedule (1e-4 to 0.02), t drawn uniformly, the
    network predicting the noise eps of x_t = sqrt(abar_t) y + sqrt(1 - abar_t) eps under a plain
    mean squared error, the category dropped for `condition_dropout` of each batch, and guidance
    eps_c + w (eps_c - eps_u). Sampled with DDIM's deterministic update (Song et al. 2021) on
    `steps` evenly spaced t.

    Written in the course's noise-level terms, so that the course's network and sampler serve it:
    x_t / sqrt(abar_t) = y + sigma_t eps with sigma_t = sqrt((1 - abar_t) / abar_t). In EDM's table
    of parameterisations that is the VP column, c_in = 1 / sqrt(1 + sigma^2) (the network sees
    x_t), c_skip = 1, c_out = -sigma (it predicts eps), and DDIM's update is an Euler step in
    sigma. The network is told ln(sigma_t) / 4 instead of t: the same time, relabelled."""

    T = 1000

    def __init__(self, denoiser, num_classes, **kwargs):
        super().__init__(denoiser, num_classes, **kwargs)
        alpha_bar = np.cumprod(1.0 - np.linspace(1e-4, 0.02, self.T))
        self.sigma_t = np.sqrt((1.0 - alpha_bar) / alpha_bar).astype("float32")

    def preconditioning(self, sigma):
        return 1.0, -sigma, 1.0 / ops.sqrt(sigma**2 + 1.0), ops.log(sigma) / 4.0

    def training_sigmas(self, batch):
        """sigma_t at t drawn uniformly from 0..T-1. With c_skip = 1 and c_out = -sigma, the
        course's regression target (y - c_skip x) / c_out is the noise eps: the papers' loss."""
        t = tf.random.uniform((batch,), 0, self.T, dtype="int32")
        return tf.reshape(tf.gather(self.sigma_t, t), (-1, 1, 1, 1))

    def _solve(self, x, labels, steps, guidance):
        sigmas = np.append(self.sigma_t[np.linspace(self.T - 1, 0, steps).round().astype(int)], 0.0)
        x = x * (sigmas[0] / diffusion.SIGMA_MAX)  # `sample` scaled its noise to the course's sigma_max
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
            x = x + (sigma_next - sigma) * (x - self.denoise(x, sigma, labels, guidance)) / sigma
        return x


def build_guided_ddpm(steps=25, guidance=0.3, condition_dropout=0.1):
    """Adam 2e-4 and a 0.9999 moving average of the weights (Ho et al.'s), p_uncond 0.1 and
    w = 0.3 (Ho & Salimans's best FID), DDIM at 25 steps: 50 network passes per image with guidance."""
    with gan.dtype_policy(gan.resolve_precision("auto")):
        trainer = GuidedDDPM(diffusion.build_denoiser(), NUM_CLASSES, condition_dropout=condition_dropout,
                             steps=steps, guidance=guidance, sampler="euler")
        trainer.compile(optimizer=gan.WeightAveragingAdam(2e-4, ema_momentum=0.9999))
    return trainer


# ---------------------------------------------------------------------------------------------
# the registry


DOMAINS = tuple(pretrained.RECIPES["cyclegan"]["domains"])  # what the CycleGANs translate: A -> B


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    source: str
    build: object          # () -> compiled trainer with train_step and sample() or translate()
    batch_size: int
    scale: str             # data range the trainer learns: "unit" [0, 1] or "tanh" [-1, 1]
    conditional: bool
    with_labels: bool = True
    drop_remainder: bool = True
    fixes: tuple = ()
    notes: str = ""
    translates: bool = False  # a CycleGAN: trained on DOMAINS pairs, scored on translations

    @property
    def scores_category(self):
        """Is the classifier's verdict on a category scored: the requested one of conditional
        samples, or the target domain of translations?"""
        return self.conditional or self.translates

    def dataset(self, data, seed=0):
        """The recipe's training pipeline over the training split of `data` (a `Catalogue`)."""
        if self.translates:  # unpaired (A, B) batches, as the course's CycleGAN trains on
            return training.make_training_data("cyclegan", data, self.batch_size, seed, DOMAINS)
        labels = data.y_train if self.with_labels else None
        return make_dataset(data.x_train, labels, batch_size=self.batch_size, scale=self.scale,
                            seed=seed, drop_remainder=self.drop_remainder)

    def epoch_size(self, data):
        """Training examples in one epoch: the larger domain for a CycleGAN, else the split."""
        if self.translates:
            return max(len(cyclegan.domain_images(data, domain)) for domain in DOMAINS)
        return len(data.x_train)


def course_recipe(model, notes, name=None, **changed):
    """`models.build` of the shipped recipe `pretrained.RECIPES[model]` (its latent size and
    options, with the `changed` ones), trained at its batch size on its model's data scale."""
    shipped = pretrained.RECIPES[model]
    spec = models.spec(shipped["model"])
    options = {**shipped.get("options", {}), **changed}

    def build():
        return models.build(shipped["model"], latent_dim=shipped.get("latent_dim"), **options)

    as_shipped = "as the shipped model" if not changed else f"the shipped model's recipe with {changed}"
    return Recipe(name or f"course_{model}", f'this course\'s {model} (models.build("{model}", **options))',
                  f'prodgen_lessons.pretrained.RECIPES["{model}"]', build, shipped["batch_size"], spec.scale,
                  spec.conditional, translates=spec.kind == "translator",
                  notes=f"{notes}; {as_shipped}: latent_dim {shipped.get('latent_dim', spec.latent_dim)}, "
                        f"options {options}")


RECIPES = {r.name: r for r in [
    Recipe("kerasio_cgan", "keras.io conditional GAN", "keras.io/examples/generative/conditional_gan",
           build_kerasio_cgan, 64, "unit", True,
           notes="written from the published description; Fashion-MNIST training split instead of "
                 "MNIST train + test; labels real 1 / fake 0 (the BCE game is symmetric in the choice)"),
    Recipe("tf_dcgan", "TF DCGAN tutorial", "tensorflow.org/tutorials/generative/dcgan",
           build_tf_dcgan, 256, "tanh", False, with_labels=False, drop_remainder=False,
           notes="unconditional: conditional accuracy does not apply; LeakyReLU() takes Keras 3's "
                 "default slope 0.2 (0.3 when the tutorial was written with Keras 2)"),
    Recipe("article_cgan", "the article's cGAN (5.4/5.5), fewest fixes", "seed article 5.4/5.5",
           build_article_cgan, 64, "unit", True, fixes=ARTICLE_FIXES, notes=ARTICLE_KEPT),
    Recipe("course_cgan", "this course's cGAN (models.build(\"cgan\"))", "prodgen_lessons.models.cgan",
           lambda: models.build("cgan"), 64, "tanh", True,
           notes="projection discriminator with an auxiliary classifier and its twin (TAC-GAN, "
                 "twin weight 0.75) and no dropout, the hinge loss, Adam(2e-4, 0.5), G and D "
                 "updated together from one forward pass, "
                 "samples from a moving average of G's weights (momentum 0.999 after a warm-up), "
                 "bfloat16 compute where the CPU has it; pretrained RECIPES[\"cgan\"] uses the same recipe"),
    course_recipe("dcgan", "the cGAN's recipe without the condition: the hinge loss, no dropout, G and D "
                           "updated from one forward pass, samples from a moving average of G's weights, "
                           "bfloat16 where the CPU has it; the InfoGAN paper's 1,024-unit layer "
                           "(+ BatchNorm) in D and G's learning rate 1e-3 (D's 2e-4)", name="plain_dcgan",
                  clusters=0),
    # the DCGAN ladder: the textbook recipe on the course's networks, then one choice at a time
    course_recipe("dcgan", "the DCGAN paper's training on the course's networks: the cross-entropy loss, "
                           "dropout 0.3 in D, Adam(2e-4, 0.5) for both, no weight average, no 1,024-unit "
                           "layer (G and D still updated from one forward pass, bfloat16 where the CPU has it)",
                  name="dcgan_textbook", loss="bce", dropout=0.3, hidden=0, learning_rate=2e-4, ema=None,
                  clusters=0),
    course_recipe("dcgan", "dcgan_textbook with the hinge loss and no dropout", name="dcgan_hinge",
                  dropout=0.0, hidden=0, learning_rate=2e-4, ema=None, clusters=0),
    course_recipe("dcgan", "dcgan_hinge sampling from a moving average of G's weights (momentum 0.999)",
                  name="dcgan_ema", hidden=0, learning_rate=2e-4, clusters=0),
    course_recipe("dcgan", "course_dcgan with 50 clusters, the version shipped before the paper's 100 "
                           "won the race", name="course_dcgan_k50", clusters=50),
    course_recipe("dcgan", "plain_dcgan made self-conditioned (Liu et al. 2020): G (an embedding of 8 "
                           "numbers appended to z) and a projection D take the image's cluster among 100 "
                           "(the paper's k for MNIST and CIFAR-10) as their condition, k-means of the "
                           "pixels at the start, of D's features at the end of every epoch (the "
                           "clustering time counts)"),
    Recipe("paper_infogan", "InfoGAN paper, MNIST setup (Chen et al. 2016)", "arxiv.org/abs/1606.03657, appendix C.1",
           build_paper_infogan, 64, "tanh", False,
           notes="written from the paper's description: noise 62, one 10-way categorical and two "
                 "uniform continuous codes; G FC1024-FC7x7x128-upconv64-upconv1 with BN + ReLU, D "
                 "conv64-conv128-FC1024 with LeakyReLU 0.1 and BN, Q a FC128 head on D; the "
                 "cross-entropy GAN loss, lambda 1, Adam 2e-4 for D and 1e-3 for G (beta_1 0.5, "
                 "the DCGAN setting), batch 64, float32. Ours: tanh output (the paper names none); "
                 "trained by the course's InfoGAN step, which updates both players from one forward "
                 "pass and scores the continuous codes as unit-variance Gaussians (Q gives their means)"),
    course_recipe("infogan", "course_infogan with Q reading the codes of generated images only, as in the "
                             "paper: the version shipped before Q's clustering of the real photos won the "
                             "race", name="course_infogan_paper_q", cluster_weight=0.0, cluster_moves=False),
    course_recipe("infogan", "course_infogan without the moves, its clustering term at weight 1: the "
                             "version shipped before the moves won the race", name="course_infogan_rim",
                  cluster_weight=1.0, cluster_moves=False),
    course_recipe("infogan", "the DCGAN recipe plus the codes: noise 62, a 10-way categorical and one "
                             "continuous code, Q on D's body, lambda 1; the paper's 1,024-unit layer "
                             "(+ BatchNorm) in D and G's learning rate 1e-3 (D's 2e-4); Q also sorts the "
                             "real photos into 10 confident groups of equal size (its mutual information "
                             "with the photos, Krause et al. 2010) and keeps each photo in its group when "
                             "the photo is shifted, zoomed or mirrored a little (self-augmented training, "
                             "Hu et al. 2017; one more pass of D over the moved copies), both terms at "
                             "weight 2 in D's loss"),
    Recipe("tf_vae", "TF convolutional VAE tutorial", "tensorflow.org/tutorials/generative/cvae",
           lambda: build_tutorial_vae(), 32, "unit", False,
           notes="written from the tutorial's description: encoder conv 32-64 (3x3, stride 2), decoder "
                 "Dense 7x7x32 - upconv 64-32 - Bernoulli logits, Adam 1e-4, batch 32, samples from "
                 "N(0, I); latent_dim 2 as published (a plane for its pictures: too few dimensions "
                 "for sharp products). Ours: grey levels in [0, 1] as soft Bernoulli targets (the "
                 "tutorial binarises MNIST), and the course's VAE step, which takes the KL term in "
                 "closed form (the tutorial estimates the same ELBO from its one sampled z)"),
    # the VAE ladder: the textbook VAE on the course's networks, then one choice at a time
    course_recipe("vae", "the textbook VAE on the course's networks: beta 1, samples from N(0, I) decoded at "
                         "temperature 1", name="vae_textbook", beta=1.0, prior_components=0, temperature=1.0),
    course_recipe("vae", "vae_textbook with beta 0.05", name="vae_beta", prior_components=0, temperature=1.0),
    course_recipe("vae", "vae_beta sampling from a mixture of 50 Gaussians fitted to the training codes",
                  name="vae_mixture", temperature=1.0),
    course_recipe("vae", "convolutional VAE with Bernoulli logits, Adam 1e-3; with prior_components it "
                         "samples from a mixture fitted to the training codes (fitted anew at each checkpoint)"),
    Recipe("tf_cvae", "TF VAE tutorial with a label (CVAE)", "tensorflow.org/tutorials/generative/cvae",
           lambda: build_tutorial_vae(NUM_CLASSES), 32, "unit", True,
           notes="tf_vae's networks and training, the one-hot label concatenated to the encoder's "
                 "flattened features and to z (the tutorial itself is unconditional)"),
    course_recipe("cvae", "the VAE with the one-hot category given to encoder and decoder"),
    Recipe("kerasio_cyclegan", "keras.io CycleGAN example, at 28 pixels", "keras.io/examples/generative/cyclegan",
           build_kerasio_cyclegan, 1, "tanh", False, translates=True,
           notes="written from the example's description: ResNet generator with reflection padding and "
                 "instance normalisation (weights and IN gamma drawn from N(0, 0.02)), PatchGAN "
                 "discriminator, LSGAN losses (D's halved), lambda_cycle 10, lambda_identity 0.5 "
                 "(identity weight 10 x 0.5), Adam(2e-4, beta_1 0.5), batch 1. Scaled to 28 "
                 "pixels: 6 residual blocks (the paper's number for small images; 9 at 256 "
                 "pixels) and D's third stride-2 layer strides 1 (a 7x7 grid of patch scores). "
                 "Ours: no random jitter or flips (Fashion-MNIST's shoes all face one way), and the "
                 "course's CycleGAN step, in which both generators minimise one loss with both cycle "
                 "terms (the example steps each on its own adversarial, cycle and identity terms)"),
    course_recipe("cgan", "course_cgan with the DCGAN's two choices from the InfoGAN paper: a 1,024-unit layer "
                          "(+ BatchNorm) in D and G's learning rate 1e-3 (D's 2e-4)", name="course_cgan_d1024",
                  hidden=1024, learning_rate=(1e-3, 2e-4)),
    Recipe("guided_ddpm", "class-conditional DDPM with classifier-free guidance (Ho & Salimans 2022)",
           "arxiv.org/abs/2006.11239 and arxiv.org/abs/2207.12598", build_guided_ddpm, 128, "tanh", True,
           notes="written from the papers (GuidedDDPM): linear beta 1e-4..0.02 over T = 1000, t uniform, "
                 "eps-prediction under MSE, p_uncond 0.1, guidance w 0.3, Adam 2e-4, weight average 0.9999, "
                 "batch 128; sampled with DDIM at 25 steps (50 passes per image with guidance). Ours: the "
                 "course's U-Net (the papers' networks are 35M+ parameters), told ln(sigma_t) / 4 instead "
                 "of t; bfloat16 compute where the CPU has it"),
    course_recipe("diffusion", "course_diffusion's U-Net made cheaper per step: the way down's features added "
                               "to the way up's instead of concatenated, no second block at 7x7 (562k "
                               "parameters against 868k, 78 against 106 ms a step)", name="course_diffusion_lean",
                  merge="add", middle=False),
    course_recipe("diffusion", "EDM's preconditioning and noise distribution, the U-Net of "
                               "prodgen_lessons.models.diffusion, Heun's sampler at 12 steps with guidance "
                               "0.75 (46 passes per image), Adam 1e-3 with a weight average"),
    course_recipe("cyclegan", "ResNet generator (32 filters, 3 residual blocks), PatchGAN, LSGAN, "
                              "lambda_cycle 10, identity weight 5, Adam(2e-4, 0.5)"),
]}


def get(name):
    """The Recipe called `name`; an unknown name is an error listing the valid ones."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes are: {', '.join(RECIPES)}")
    return RECIPES[name]
