"""The convolutional bodies the course's GANs share (DCGAN, cGAN, self-conditioned GAN, InfoGAN).

`generator_body` grows a vector (noise, plus whatever condition a model concatenates to it) into an
image: Dense -> a small feature map -> [Conv2DTranspose (stride 2) + BatchNorm + ReLU]* -> a last
Conv2DTranspose with tanh. `discriminator_body` shrinks an image to a feature vector: [strided
Conv2D + LeakyReLU(0.2) + Dropout]* -> Flatten (-> an optional fully connected layer). Both follow
`upsampling_plan`: for 28x28 the generator goes 7x7x128 -> 14x14x64 -> 28x28x1; for 64x64
4x4x512 -> ... -> 64x64x3. Each family adds its own inputs and heads around them.
"""

from keras import layers

from prodgen_lessons.data import check_image_shape
from prodgen_lessons.models.gan import batch_normalization


def upsampling_plan(image_shape):
    """(start_size, steps): halve the image side until it is odd or <= 7 (28 -> 7 in 2 steps,
    64 -> 4 in 4 steps, 32 -> 4 in 3 steps)."""
    height, width, _ = check_image_shape(image_shape)
    if height != width:
        raise ValueError(f"image_shape must be square, got {image_shape!r}")
    size, steps = height, 0
    while size % 2 == 0 and size > 7:
        size //= 2
        steps += 1
    if steps == 0:
        raise ValueError(f"image side must be even and > 7 (e.g. 28, 32, 64), got {height}")
    return size, steps


def generator_body(x, image_shape, base_filters=64, attention=None):
    """Dense -> (s, s, f) -> [Conv2DTranspose + BN + ReLU]* -> Conv2DTranspose(tanh).

    `attention`: an optional layer factory called on the last hidden feature map (used by cgan).
    """
    size, steps = upsampling_plan(image_shape)
    filters = base_filters * 2 ** (steps - 1)
    x = layers.Dense(size * size * filters, use_bias=False)(x)
    x = batch_normalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((size, size, filters))(x)
    for _ in range(steps - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = batch_normalization()(x)
        x = layers.ReLU()(x)
    if attention is not None:
        x = attention(x)
    return layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", activation="tanh")(x)


def discriminator_body(x, image_shape, base_filters=64, dropout=0.3, attention=None, hidden=0):
    """[strided Conv2D + LeakyReLU + Dropout]* -> Flatten features (attention after the 1st block).

    hidden: units of a fully connected layer + BatchNorm + LeakyReLU on the flattened features,
    as in the InfoGAN paper's discriminator (0: none)."""
    _, steps = upsampling_plan(image_shape)
    filters = base_filters
    for i in range(steps):
        x = layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
        if i == 0 and attention is not None:
            x = attention(x)
        filters *= 2
    x = layers.Flatten()(x)
    if hidden:
        x = layers.LeakyReLU(0.2)(batch_normalization()(layers.Dense(hidden, name="d_hidden")(x)))
    return x
