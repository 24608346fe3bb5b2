"""The recipes the time-to-quality benchmark races, each as published (see benchmarks/README.md).

Every recipe is a `Recipe`: how to build its trainer (a `keras.Model` with its own `train_step`,
so `fit` runs them all the same way) and the `tf.data` pipeline it trains on. Every trainer has
`sample(n, labels=None, seed=0) -> float32 images in [0, 1]`, the course's convention, so the
benchmark scores them all with one `Evaluator`.

1. "kerasio_cgan": the keras.io conditional GAN example, written here from its published
   description (no code copied): one-hot labels appended to the noise and, as 10 constant image
   channels, to the discriminator's input; sigmoid images in [0, 1].
2. "tf_dcgan": the TensorFlow DCGAN tutorial's networks and step (unconditional, tanh images).
3. "article_cgan": the seed article's 5.4/5.5 cGAN with the fewest fixes that make it run and
   train; each fix is listed in `ARTICLE_FIXES` (and in RESULTS.md). Its discriminator is the
   article's own `make_discriminator_model`, imported from `prodgen_lessons.article`.
4. "course_cgan": this course's default recipe, `prodgen_lessons.models.build("cgan")` on
   `make_dataset(x, y, batch_size=64, scale="tanh")`.

All of them train on the same Fashion-MNIST training split (the keras.io example trained on MNIST's
train + test; here the test split is held out for the noise floor).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from prodgen_lessons import article, models
from prodgen_lessons.data import NUM_CLASSES, make_dataset


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
# the registry


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    source: str
    build: object          # () -> compiled trainer with train_step and sample()
    batch_size: int
    scale: str             # data range the trainer learns: "unit" [0, 1] or "tanh" [-1, 1]
    conditional: bool
    with_labels: bool = True
    drop_remainder: bool = True
    fixes: tuple = ()
    notes: str = ""

    def dataset(self, data, seed=0):
        """The recipe's training pipeline over `data.x_train` (a `FashionMNIST`)."""
        labels = data.y_train if self.with_labels else None
        return make_dataset(data.x_train, labels, batch_size=self.batch_size, scale=self.scale,
                            seed=seed, drop_remainder=self.drop_remainder)


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
]}


def get(name):
    """The Recipe called `name`; an unknown name is an error listing the valid ones."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes are: {', '.join(RECIPES)}")
    return RECIPES[name]
