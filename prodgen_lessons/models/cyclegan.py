"""CycleGAN (article 3.3): translate products between two unpaired domains, e.g. sneaker <-> ankle boot.

Two generators, G_ab: A -> B and G_ba: B -> A, and two PatchGAN discriminators D_a, D_b that
score overlapping patches of an image as real or fake. No image of A has a partner in B; what
ties a sneaker to "its" boot is the cycle: G_ba(G_ab(a)) should give back a (Zhu et al. 2017).

    L_G = LSGAN(D_b(G_ab(a))) + LSGAN(D_a(G_ba(b)))                       adversarial
        + lambda_cycle * (|G_ba(G_ab(a)) - a| + |G_ab(G_ba(b)) - b|)       cycle, L1, lambda 10
        + lambda_identity * (|G_ab(b) - b| + |G_ba(a) - a|)                identity, lambda 5
    L_D = LSGAN_D(D_a) + LSGAN_D(D_b)

LSGAN (Mao et al. 2017) replaces the log loss by squares: D pushes real patches to 1 and fakes to 0,
G pushes fakes to 1. Images are in [-1, 1] (tanh), like every GAN in the course.

Networks are small versions of the paper's: a ResNet generator (7x7 conv, two stride-2
downsamplings, residual blocks, two upsamplings) with instance normalisation, and a PatchGAN
discriminator whose output is a grid of logits (7x7 for 28x28 images, 8x8 for 32 and 64).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import as_float, check_image_shape
from prodgen_lessons.models.gan import dtype_policy, resolve_precision

DEFAULT_DOMAINS = ("Sneaker", "Ankle boot")  # the course's translation: sneaker <-> ankle boot

# ---------------------------------------------------------------------------------------------
# losses


def generator_adversarial_loss(d_fake):
    """LSGAN generator loss: mean((D(G(x)) - 1)^2) over all patches."""
    return ops.mean(ops.square(ops.cast(d_fake, "float32") - 1.0))


def discriminator_adversarial_loss(d_real, d_fake):
    """LSGAN discriminator loss: 0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2)).

    The 0.5 slows D down relative to G, as in the paper."""
    d_real = ops.cast(d_real, "float32")
    d_fake = ops.cast(d_fake, "float32")
    return 0.5 * (ops.mean(ops.square(d_real - 1.0)) + ops.mean(ops.square(d_fake)))


def cycle_consistency_loss(real, cycled, lambda_cycle=10.0):
    """lambda_cycle * mean |real - cycled| (L1): going A -> B -> A must give back the input."""
    return lambda_cycle * ops.mean(ops.abs(ops.cast(real, "float32") - ops.cast(cycled, "float32")))


def identity_loss(real, same, lambda_identity=5.0):
    """lambda_identity * mean |real - G(real)| for G fed an image already in its target domain:
    it should leave it alone (keeps tone and shape from drifting)."""
    return lambda_identity * ops.mean(ops.abs(ops.cast(real, "float32") - ops.cast(same, "float32")))


# ---------------------------------------------------------------------------------------------
# networks


def _check_image_shape(image_shape):
    height, width, _ = image_shape = check_image_shape(image_shape)
    if height % 4 or width % 4:
        raise ValueError(f"image height and width must be multiples of 4 (two stride-2 steps), "
                         f"got {height}x{width}; e.g. 28x28, 32x32 or 64x64")
    return tuple(int(s) for s in image_shape)


def _instance_norm():
    # GroupNormalization with one group per channel is instance normalisation.
    return layers.GroupNormalization(groups=-1, epsilon=1e-5)


def _residual_block(x, filters):
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    y = _instance_norm()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = _instance_norm()(y)
    return layers.Add()([x, y])


def build_generator(image_shape=(28, 28, 1), filters=32, num_residual_blocks=3, name="generator"):
    """ResNet generator: image in [-1, 1] -> image of the same shape in [-1, 1].

    28x28: 28 -> 14 -> 7 (4*filters channels, residual blocks) -> 14 -> 28.
    """
    image_shape = _check_image_shape(image_shape)
    image = keras.Input(image_shape, name="image")
    x = layers.Conv2D(filters, 7, padding="same", use_bias=False)(image)
    x = layers.ReLU()(_instance_norm()(x))
    for mult in (2, 4):  # downsample twice
        x = layers.Conv2D(filters * mult, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(_instance_norm()(x))
    for _ in range(num_residual_blocks):
        x = _residual_block(x, filters * 4)
    for mult in (2, 1):  # and back up
        x = layers.Conv2DTranspose(filters * mult, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(_instance_norm()(x))
    # the image in float32 whatever the compute precision
    out = layers.Conv2D(image_shape[-1], 7, padding="same", activation="tanh", dtype="float32")(x)
    return keras.Model(image, out, name=name)


def build_discriminator(image_shape=(28, 28, 1), filters=64, name="discriminator"):
    """PatchGAN: image -> (h, w, 1) grid of logits, each judging one receptive-field patch.

    Stride-2 convolutions while the map is larger than 8 and even (28 -> 14 -> 7,
    64 -> 32 -> 16 -> 8), then a stride-1 4x4 conv to one logit per position.
    """
    image_shape = _check_image_shape(image_shape)
    image = keras.Input(image_shape, name="image")
    x = image
    size, mult = min(image_shape[:2]), 1
    while size > 8 and size % 2 == 0:
        x = layers.Conv2D(filters * mult, 4, strides=2, padding="same", use_bias=mult == 1)(x)
        if mult > 1:  # no normalisation on the first layer, as in the paper
            x = _instance_norm()(x)
        x = layers.LeakyReLU(0.2)(x)
        size, mult = size // 2, min(mult * 2, 4)
    x = layers.Conv2D(filters * mult, 4, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU(0.2)(_instance_norm()(x))
    patches = layers.Conv2D(1, 4, padding="same", name="patch_logits", dtype="float32")(x)
    return keras.Model(image, patches, name=name)


# ---------------------------------------------------------------------------------------------
# data


def domain_pair_dataset(images_a, images_b, batch_size=32, seed=0):
    """Unpaired batches (images_a, images_b), both float32 in [-1, 1], shape (B, H, W, C).

    Each domain is shuffled on its own (so pairs are random); the smaller domain is repeated so an
    epoch covers the larger one once. images: uint8 [0, 255] or float in [-1, 1].
    """
    a = as_float(images_a, "tanh", given="tanh", name="images_a")
    b = as_float(images_b, "tanh", given="tanh", name="images_b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"both domains need the same image shape, got {a.shape[1:]} and {b.shape[1:]}")
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size > min(len(a), len(b)):
        raise ValueError(f"batch_size must be a whole number in 1..{min(len(a), len(b))}, got {batch_size!r}")
    steps = max(len(a), len(b)) // batch_size

    def stream(x, s):
        return (tf.data.Dataset.from_tensor_slices(x).cache()
                .shuffle(len(x), seed=s, reshuffle_each_iteration=True)
                .repeat().batch(batch_size, drop_remainder=True))

    pairs = tf.data.Dataset.zip((stream(a, seed), stream(b, seed + 1))).take(steps)
    return pairs.prefetch(tf.data.AUTOTUNE)


def domain_images(catalogue, category, split="train"):
    """The uint8 images (n, H, W, C) of one category (name, Chinese name or index) of a catalogue."""
    return catalogue.take(split, category=category)[0]


# ---------------------------------------------------------------------------------------------
# trainer


class CycleGAN(keras.Model):
    """Trains G_ab, G_ba, D_a, D_b on batches (images_a, images_b) from `domain_pair_dataset`.

    compile(g_optimizer, d_optimizer): one optimiser for both generators (their losses are
    coupled through the cycle), one for both discriminators; defaults Adam(2e-4, beta_1=0.5).
    """

    def __init__(self, generator_ab, generator_ba, discriminator_a, discriminator_b,
                 lambda_cycle=10.0, lambda_identity=5.0, **kwargs):
        super().__init__(**kwargs)
        self.generator_ab = generator_ab
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        self.discriminator_b = discriminator_b
        self.lambda_cycle = float(lambda_cycle)
        self.lambda_identity = float(lambda_identity)
        names = ["g_loss", "d_loss", "adversarial_loss", "cycle_loss", "identity_loss"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError("CycleGAN needs a dataset of (images_a, images_b); "
                             "see domain_pair_dataset")
        real_a, real_b = data
        g_vars = self.generator_ab.trainable_variables + self.generator_ba.trainable_variables
        d_vars = self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_b = self.generator_ab(real_a, training=True)
            fake_a = self.generator_ba(real_b, training=True)
            cycled_a = self.generator_ba(fake_b, training=True)
            cycled_b = self.generator_ab(fake_a, training=True)
            same_a = self.generator_ba(real_a, training=True)
            same_b = self.generator_ab(real_b, training=True)

            d_a_real = self.discriminator_a(real_a, training=True)
            d_b_real = self.discriminator_b(real_b, training=True)
            d_a_fake = self.discriminator_a(fake_a, training=True)
            d_b_fake = self.discriminator_b(fake_b, training=True)

            adversarial = generator_adversarial_loss(d_b_fake) + generator_adversarial_loss(d_a_fake)
            cycle = (cycle_consistency_loss(real_a, cycled_a, self.lambda_cycle)
                     + cycle_consistency_loss(real_b, cycled_b, self.lambda_cycle))
            identity = (identity_loss(real_a, same_a, self.lambda_identity)
                        + identity_loss(real_b, same_b, self.lambda_identity))
            g_loss = adversarial + cycle + identity
            # D sees the same fakes; the gradient tape of D ignores G's variables and vice versa.
            d_loss = (discriminator_adversarial_loss(d_a_real, d_a_fake)
                      + discriminator_adversarial_loss(d_b_real, d_b_fake))

        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))

        for name, value in [("g_loss", g_loss), ("d_loss", d_loss), ("adversarial_loss", adversarial),
                            ("cycle_loss", cycle), ("identity_loss", identity)]:
            self.trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def call(self, images_a, training=False):
        return self.generator_ab(images_a, training=training)

    def translate(self, images, direction="a2b", batch_size=256):
        """Translate images (uint8, or float in [-1, 1]) -> float32 numpy in [0, 1], (n, H, W, C).

        direction "a2b" uses G_ab, "b2a" G_ba. To chain translations, feed the output back as
        `output * 2 - 1` (the generators work in [-1, 1])."""
        generators = {"a2b": self.generator_ab, "b2a": self.generator_ba}
        if direction not in generators:
            raise ValueError(f'direction must be "a2b" or "b2a", got {direction!r}')
        x = as_float(images, "tanh", given="tanh")
        out = [generators[direction](x[i:i + batch_size], training=False)
               for i in range(0, len(x), batch_size)]
        return as_float(np.concatenate([np.asarray(o) for o in out]) if out else x[:0], "unit", given="tanh")


def build_cyclegan(image_shape=(28, 28, 1), latent_dim=None, num_classes=None, filters=32,
                   num_residual_blocks=3, disc_filters=64, lambda_cycle=10.0, lambda_identity=5.0,
                   learning_rate=2e-4, precision="float32"):
    """A compiled CycleGAN, ready for `fit(domain_pair_dataset(a, b, batch_size=32))`.

    latent_dim and num_classes are not used (it translates images); every model builder takes them.
    precision: as in `gan.resolve_precision` ("auto": bfloat16 on a CPU that has it).
    """
    with dtype_policy(resolve_precision(precision)):
        trainer = CycleGAN(
            build_generator(image_shape, filters, num_residual_blocks, name="generator_ab"),
            build_generator(image_shape, filters, num_residual_blocks, name="generator_ba"),
            build_discriminator(image_shape, disc_filters, name="discriminator_a"),
            build_discriminator(image_shape, disc_filters, name="discriminator_b"),
            lambda_cycle=lambda_cycle, lambda_identity=lambda_identity,
        )
        trainer.compile(g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                        d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return trainer
