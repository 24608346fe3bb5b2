"""DCGAN (article 3.3; Radford et al. 2016): the GAN of 3.1 with convolutional networks.

Generator: Dense -> reshape to a small feature map -> Conv2DTranspose (stride 2) + BatchNorm + ReLU
blocks that double the size and halve the channels -> a last Conv2DTranspose with tanh.
Discriminator: strided Conv2D + LeakyReLU(0.2) + Dropout blocks -> (optionally a fully connected
layer + BatchNorm + LeakyReLU, as in the InfoGAN paper) -> one logit.
For 28x28 the generator goes 7x7x128 -> 14x14x64 -> 28x28x1; for 64x64: 4x4x512 -> ... -> 64x64x3.
The bodies are `convnets.generator_body` and `convnets.discriminator_body`, which the cGAN, the
self-conditioned GAN and the InfoGAN build on too. The losses are the GAN's. `DCGAN` updates G and
D from one forward pass: G draws a batch of fakes once, D scores it beside a real batch, and both
networks step on their own losses.

`build_dcgan` is the course's recipe: the cGAN's without the condition (the hinge loss, no
dropout in D, samples from a moving average of G's weights, bfloat16 compute where the CPU has it)
plus the InfoGAN paper's 1,024-unit layer in D, with G learning 5 x as fast as D. With
`clusters`, it is a self-conditioned GAN: a cGAN on clusters of its own images (`selfcond`).
"""

import keras
import tensorflow as tf
from keras import layers

from prodgen_lessons.data import check_image_shape
# The bodies live in `convnets`, which the cGAN and InfoGAN share; importing them here keeps
# `dcgan.generator_body` and `dcgan.upsampling_plan`, the names chapter 3 and the errata show.
from prodgen_lessons.models.convnets import discriminator_body, generator_body, upsampling_plan  # noqa: F401
from prodgen_lessons.models.gan import (
    GAN,
    _images_of,
    discriminator_accuracy,
    dtype_policy,
    gan_optimizers,
    resolve_precision,
)


def build_generator(latent_dim=64, image_shape=(28, 28, 1), base_filters=64):
    z = keras.Input((latent_dim,), name="z")
    image = generator_body(z, check_image_shape(image_shape), base_filters)
    return keras.Model(z, image, name="dcgan_generator")


def build_discriminator(image_shape=(28, 28, 1), base_filters=64, dropout=0.3, hidden=0):
    image = keras.Input(check_image_shape(image_shape), name="image")
    features = discriminator_body(image, image_shape, base_filters, dropout, hidden=hidden)
    logit = layers.Dense(1, name="logit")(features)
    return keras.Model(image, logit, name="dcgan_discriminator")


class DCGAN(GAN):
    """The GAN's losses (`loss="bce"` or `"hinge"`) with convolutional networks, both updated
    from one forward pass."""

    def train_step(self, data):
        real = _images_of(data)
        z = self._noise(tf.shape(real)[0])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(z, training=True)
            d_real = self.discriminator(real, training=True)
            d_fake = self.discriminator(fake, training=True)
            d_loss, g_loss = self._d_loss(d_real, d_fake), self._g_loss(d_fake)
            d_scaled = self.d_optimizer.scale_loss(d_loss)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_tracker.update_state(discriminator_accuracy(d_real, d_fake))
        return {m.name: m.result() for m in self.metrics}


def build_dcgan(image_shape=(28, 28, 1), latent_dim=64, num_classes=None, base_filters=64, dropout=0.0,
                hidden=1024, loss="hinge", label_smoothing=0.0, learning_rate=(1e-3, 2e-4), ema=0.999,
                precision="auto", clusters=0):
    """The course's DCGAN, compiled and ready for `fit(make_dataset(..., batch_size=64))`.

    num_classes is not used (the DCGAN is unconditional); every model builder takes it.
    clusters > 0: a self-conditioned GAN, a cGAN on as many clusters of the training images
    (`selfcond.SelfConditionedGAN`; the hinge loss only).

    ema: momentum of the moving average of G's weights that sampling uses (None: off).
    precision: as in `resolve_precision` ("auto": bfloat16 on a CPU that has it).
    """
    if clusters:
        from prodgen_lessons.models.selfcond import build_selfcond_gan

        if loss != "hinge" or label_smoothing:
            raise ValueError(f"clusters={clusters} (a self-conditioned GAN) trains with loss=\"hinge\" only, "
                             f"got loss={loss!r}, label_smoothing={label_smoothing}")
        return build_selfcond_gan(image_shape, latent_dim, clusters, base_filters, dropout, hidden, loss,
                                  learning_rate=learning_rate, ema=ema, precision=precision)
    with dtype_policy(resolve_precision(precision)):
        trainer = DCGAN(build_generator(latent_dim, image_shape, base_filters),
                        build_discriminator(image_shape, base_filters, dropout, hidden),
                        loss=loss, label_smoothing=label_smoothing)
        g_optimizer, d_optimizer = gan_optimizers(learning_rate, ema)
        trainer.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    return trainer
