"""The seed article's printed code listings, transcribed as they are -- flaws included.

The course follows a Chinese article whose code listings do not run as printed. This module keeps
them, one function per printed function, so the book's errata page can show each flaw by running
it (tests/test_article_code.py pins every flaw next to a test that the library's corrected code
passes the same check). Adaptations are the minimum needed to import this module:

- cv2 is imported inside `preprocess_image` (OpenCV may not be installed);
- each section's functions get a suffix (`_4_2`, `_7_1`) where two listings reuse one name;
- module-level statements of a listing (the 5.5 training loop) are wrapped in a function whose
  parameters are the names the listing leaves undefined;
- `printed_vae_loss` / `printed_gan_losses` lift the printed loss expressions out of their
  (unbuildable) models, verbatim, so they can be evaluated on numbers.

Everything else, including `input_shape` being undefined where the article uses it, is as printed.
`LISTINGS[section]` holds the printed source text; `FLAWS[section]` the list of what is wrong.
Do not use this code for anything but showing what is wrong: the library modules
(`models.vae`, `models.cgan`, `models.gan`, `data`) are the corrected versions.
"""

import tensorflow as tf
from tensorflow.keras import layers


# ---------------------------------------------------------------------------------------------
# 4.2 VAE (the same code reappears in 7.1 with an input_shape parameter)


def make_encoder_model_4_2():
    """Article 4.2 encoder. FLAW: it ends in Flatten (3x3x64 = 576 features): there are no
    z_mean / z_log_var heads, so `z_mean, z_log_var = encoder(inputs)` cannot work."""
    # article 4.2
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    return model


def make_decoder_model_4_2():
    """Article 4.2 decoder. FLAW: 'valid' transposed convolutions grow 3 -> 7 -> 15 and the last
    'valid' 3x3 conv shrinks to 13: it outputs 13x13x1 images, not 28x28x1. It also ends in a
    sigmoid (probabilities), so a loss must take care with log(0)."""
    # article 4.2
    model = tf.keras.Sequential()
    model.add(layers.Dense(64 * 3 * 3, activation='relu'))
    model.add(layers.Reshape((3, 3, 64)))
    model.add(layers.Conv2DTranspose(64, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2DTranspose(32, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2D(1, (3, 3), activation='sigmoid'))
    return model


def make_vae_model_4_2(encoder, decoder):
    """Article 4.2 VAE. FLAWS: (1) unpacks two outputs from an encoder that has one, so it raises;
    (2) `vae_loss` (see `printed_vae_loss`) has no reconstruction term and a wrong KL, and mixes
    (B, 28, 28, 1) image terms with (B, latent) terms, which do not broadcast; (3) it returns a
    tuple (model, loss tensor), yet the article then calls `vae.decoder(z)` and
    `vae.compile(optimizer='adam', loss=vae_loss)`; (4) the sample uses a 20-d z, a size the
    encoder never defines."""
    # article 4.2
    inputs = tf.keras.Input(shape=(28, 28, 1))
    z_mean, z_log_var = encoder(inputs)
    z = z_mean + tf.random.normal(tf.shape(z_log_var)) * tf.exp(0.5 * z_log_var)
    x_hat = decoder(z)
    vae_loss = -tf.reduce_sum(inputs * tf.math.log(inputs + 1e-10) + x_hat * tf.math.log(x_hat + 1e-10) - z_mean - tf.exp(z_log_var), axis=[1, 2, 3])
    return tf.keras.Model(inputs, x_hat), vae_loss


def printed_vae_loss(inputs, x_hat, z_mean, z_log_var):
    """The loss expression of `make_vae_model` (4.2 and 7.1), verbatim, as a function.

    FLAWS: -sum(x log x + x_hat log x_hat) is minus the sum of two separate "entropies": it never
    compares x_hat with x, so a perfect and an inverted reconstruction score the same; the
    right term is -sum(x log x_hat + (1 - x) log(1 - x_hat)). The KL part `- z_mean - exp(z_log_var)`
    lacks the 1 + z_log_var - z_mean^2 terms and the factor 1/2: it is not 0 when q(z|x) equals
    the prior and it falls without bound as z_mean -> -inf. The image terms (B, H, W, C) and the
    latent terms (B, d) do not broadcast unless B happens to be 1 or 28."""
    return -tf.reduce_sum(inputs * tf.math.log(inputs + 1e-10) + x_hat * tf.math.log(x_hat + 1e-10) - z_mean - tf.exp(z_log_var), axis=[1, 2, 3])


# ---------------------------------------------------------------------------------------------
# 5.3 preprocessing


def preprocess_image(image_path):
    """Article 5.3. FLAWS: called from `Dataset.map`, it receives a symbolic string tensor, and
    `cv2.imread` needs a Python str (TypeError); OpenCV returns BGR, not RGB (red and blue swap);
    a missing file gives None and a confusing error in `cv2.resize`; the result is float64."""
    import cv2  # article 5.3: imported at the top of the listing; here only when called

    # article 5.3
    image = cv2.imread(image_path)
    image = cv2.resize(image, (256, 256))
    image = image / 255.0
    return image


def preprocess_data(dataset_path, batch_size):
    """Article 5.3. FLAWS: maps a Python/OpenCV function over a tf.data pipeline without
    `tf.numpy_function` (see `preprocess_image`); no labels are kept; the "augmentation" the text
    promises (crop, rotate) is not there."""
    # article 5.3
    dataset = tf.data.Dataset.from_tensor_slices(dataset_path)
    dataset = dataset.map(preprocess_image, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.shuffle(buffer_size=1000).batch(batch_size)
    return dataset


# ---------------------------------------------------------------------------------------------
# 5.4 cGAN


def make_generator_model(input_shape):
    """Article 5.4 generator. FLAWS: 4x4 -> 8x8 -> 16x16: it outputs 16x16x1, not 28x28x1; it has
    one input although it is called with [noise, label], so it is not conditional; its sigmoid
    output is in [0, 1] (fine, if the data is scaled to match)."""
    # article 5.4
    model = tf.keras.Sequential()
    model.add(layers.Dense(128 * 4 * 4, activation='relu', input_shape=input_shape))
    model.add(layers.Reshape((4, 4, 128)))
    model.add(layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding='same', activation='relu'))
    model.add(layers.Conv2DTranspose(1, (4, 4), strides=(2, 2), padding='same', activation='sigmoid'))
    return model


def make_discriminator_model(input_shape):
    """Article 5.4 discriminator. FLAW: one input (the image), yet called with [image, label]:
    it never sees the condition."""
    # article 5.4
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(64, (4, 4), strides=(2, 2), padding='same', input_shape=input_shape))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Conv2D(128, (4, 4), strides=(2, 2), padding='same'))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation='sigmoid'))
    return model


def make_cgan_model(generator, discriminator, latent_dim, label_dim):
    """Article 5.4 cGAN. FLAWS: `input_shape` is undefined here (NameError); even when defined,
    both networks are called with two inputs they do not take."""
    # article 5.4
    input_image = tf.keras.Input(shape=input_shape)  # noqa: F821 -- undefined, as printed
    input_label = tf.keras.Input(shape=(label_dim,))
    noise = tf.keras.Input(shape=(latent_dim,))

    # 生成器
    gen_image = generator([noise, input_label])

    # 判别器
    valid_real = discriminator([input_image, input_label])
    valid_fake = discriminator([gen_image, input_label])

    model = tf.keras.Model([input_image, input_label, noise], [valid_real, valid_fake])
    return model


# ---------------------------------------------------------------------------------------------
# 5.5 losses and training loop


def get_gan_loss(generator, discriminator):
    """Article 5.5. FLAWS: `input_shape` undefined; builds a new Keras model from symbolic Inputs,
    and is called once per batch (a fresh graph each time); loss arithmetic on symbolic Keras
    tensors; and the losses themselves are wrong (see `printed_gan_losses`)."""
    # article 5.5
    latent_dim = 100
    label_dim = 10

    noise = tf.keras.Input(shape=(latent_dim,))
    label = tf.keras.Input(shape=(label_dim,))
    real_image = tf.keras.Input(shape=input_shape)  # noqa: F821 -- undefined, as printed

    generated_image = generator([noise, label])
    valid_real = discriminator([real_image, label])
    valid_fake = discriminator([generated_image, label])

    generator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))
    discriminator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_real, tf.keras.backend.zeros_like(valid_real)) + tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))

    model = tf.keras.Model([noise, label, real_image], [generator_loss, discriminator_loss])
    return model


def printed_gan_losses(valid_real, valid_fake):
    """The two loss lines of `get_gan_loss`, verbatim; inputs are D's sigmoid outputs.

    FLAWS: `binary_crossentropy(target, output)` takes the target first; the listing passes D's
    output as the target and a constant 1 or 0 as the prediction, which is clipped to 1 - 1e-7 or
    1e-7, so each term is about 16.1 * (1 - D) or 16.1 * D instead of -log D. Read as intended,
    the discriminator labels real images 0 and fakes 1 while the generator also pushes D(fake)
    to 1: the two networks pull the same way, there is no game. Returns
    (generator_loss, discriminator_loss)."""
    generator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))
    discriminator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_real, tf.keras.backend.zeros_like(valid_real)) + tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))
    return generator_loss, discriminator_loss


def train_5_5(generator, discriminator, train_dataset, epochs, batch_size, latent_dim):
    """Article 5.5 training loop (module-level in the article; its undefined names are parameters).

    FLAWS: calls `get_gan_loss` (which cannot build) on every batch; `labels` are ints from the
    data but the listing's model expects one-hot (label_dim=10); one Adam optimiser is shared by
    generator and discriminator (Keras 3 refuses: an optimiser is built for one set of variables;
    older Keras silently mixed their moment estimates); both updates come from one forward pass;
    prints a line per batch; the sample after the loop uses an undefined `label`."""
    # article 5.5
    # 定义优化器
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5)

    # 编写训练循环
    for epoch in range(epochs):
        for batch_i, (images, labels) in enumerate(train_dataset):
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                noise = tf.random.normal([batch_size, latent_dim])
                gen_loss, disc_loss = get_gan_loss(generator, discriminator)([noise, labels, images])

            grads_gen = gen_tape.gradient(gen_loss, generator.trainable_variables)
            grads_disc = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

            optimizer.apply_gradients(zip(grads_gen, generator.trainable_variables))
            optimizer.apply_gradients(zip(grads_disc, discriminator.trainable_variables))

            print(f"Epoch {epoch}, Batch {batch_i}, Generator Loss: {gen_loss}, Discriminator Loss: {disc_loss}")

    # 生成图像示例
    noise = tf.random.normal([1, latent_dim])
    generated_image = generator([noise, label])  # noqa: F821 -- undefined, as printed
    return generated_image


# ---------------------------------------------------------------------------------------------
# 7.1 VAE again, now with input_shape parameters


def make_encoder_model_7_1(input_shape):
    """Article 7.1 encoder: the 4.2 encoder with `input_shape` as a parameter; same FLAW (no
    z_mean / z_log_var heads)."""
    # article 7.1
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=input_shape))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    return model


def make_decoder_model_7_1(input_shape):
    """Article 7.1 decoder. FLAWS: `input_shape` is accepted and ignored: the output is 13x13x1
    whatever the image shape (64x64x3 included)."""
    # article 7.1
    model = tf.keras.Sequential()
    model.add(layers.Dense(64 * 3 * 3, activation='relu'))
    model.add(layers.Reshape((3, 3, 64)))
    model.add(layers.Conv2DTranspose(64, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2DTranspose(32, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2D(1, (3, 3), activation='sigmoid'))
    return model


def make_vae_model_7_1(encoder, decoder):
    """Article 7.1 VAE. FLAWS: those of 4.2, plus `input_shape` is undefined here (NameError).
    The listing that follows, `vae.compile(optimizer='adam', loss=vae_loss)`, compiles a tuple
    with a loss tensor where Keras needs a loss function."""
    # article 7.1
    inputs = tf.keras.Input(shape=input_shape)  # noqa: F821 -- undefined, as printed
    z_mean, z_log_var = encoder(inputs)
    z = z_mean + tf.random.normal(tf.shape(z_log_var)) * tf.exp(0.5 * z_log_var)
    x_hat = decoder(z)
    vae_loss = -tf.reduce_sum(inputs * tf.math.log(inputs + 1e-10) + x_hat * tf.math.log(x_hat + 1e-10) - z_mean - tf.exp(z_log_var), axis=[1, 2, 3])
    return tf.keras.Model(inputs, x_hat), vae_loss


# ---------------------------------------------------------------------------------------------
# the printed text, for the errata page

LISTINGS = {
    "4.2": """\
import tensorflow as tf
from tensorflow.keras import layers

def make_encoder_model():
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    return model

def make_decoder_model():
    model = tf.keras.Sequential()
    model.add(layers.Dense(64 * 3 * 3, activation='relu'))
    model.add(layers.Reshape((3, 3, 64)))
    model.add(layers.Conv2DTranspose(64, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2DTranspose(32, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2D(1, (3, 3), activation='sigmoid'))
    return model

def make_vae_model(encoder, decoder):
    inputs = tf.keras.Input(shape=(28, 28, 1))
    z_mean, z_log_var = encoder(inputs)
    z = z_mean + tf.random.normal(tf.shape(z_log_var)) * tf.exp(0.5 * z_log_var)
    x_hat = decoder(z)
    vae_loss = -tf.reduce_sum(inputs * tf.math.log(inputs + 1e-10) + x_hat * tf.math.log(x_hat + 1e-10) - z_mean - tf.exp(z_log_var), axis=[1, 2, 3])
    return tf.keras.Model(inputs, x_hat), vae_loss

# 训练VAE模型
# ...

# 生成图像示例
vae = make_vae_model(encoder, decoder)
z = tf.random.normal([1, 20])
generated_image = vae.decoder(z)

# 显示生成的图像
# ...
""",
    "5.3": """\
import cv2
import numpy as np
import tensorflow as tf

def preprocess_image(image_path):
    image = cv2.imread(image_path)
    image = cv2.resize(image, (256, 256))
    image = image / 255.0
    return image

def preprocess_data(dataset_path, batch_size):
    dataset = tf.data.Dataset.from_tensor_slices(dataset_path)
    dataset = dataset.map(preprocess_image, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.shuffle(buffer_size=1000).batch(batch_size)
    return dataset
""",
    "5.4": """\
import tensorflow as tf
from tensorflow.keras import layers

def make_generator_model(input_shape):
    model = tf.keras.Sequential()
    model.add(layers.Dense(128 * 4 * 4, activation='relu', input_shape=input_shape))
    model.add(layers.Reshape((4, 4, 128)))
    model.add(layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding='same', activation='relu'))
    model.add(layers.Conv2DTranspose(1, (4, 4), strides=(2, 2), padding='same', activation='sigmoid'))
    return model

def make_discriminator_model(input_shape):
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(64, (4, 4), strides=(2, 2), padding='same', input_shape=input_shape))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Conv2D(128, (4, 4), strides=(2, 2), padding='same'))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation='sigmoid'))
    return model

def make_cgan_model(generator, discriminator, latent_dim, label_dim):
    input_image = tf.keras.Input(shape=input_shape)
    input_label = tf.keras.Input(shape=(label_dim,))
    noise = tf.keras.Input(shape=(latent_dim,))

    # 生成器
    gen_image = generator([noise, input_label])

    # 判别器
    valid_real = discriminator([input_image, input_label])
    valid_fake = discriminator([gen_image, input_label])

    model = tf.keras.Model([input_image, input_label, noise], [valid_real, valid_fake])
    return model
""",
    "5.5": """\
def get_gan_loss(generator, discriminator):
    latent_dim = 100
    label_dim = 10

    noise = tf.keras.Input(shape=(latent_dim,))
    label = tf.keras.Input(shape=(label_dim,))
    real_image = tf.keras.Input(shape=input_shape)

    generated_image = generator([noise, label])
    valid_real = discriminator([real_image, label])
    valid_fake = discriminator([generated_image, label])

    generator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))
    discriminator_loss = tf.keras.backend.mean(tf.keras.backend.binary_crossentropy(valid_real, tf.keras.backend.zeros_like(valid_real)) + tf.keras.backend.binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake)))

    model = tf.keras.Model([noise, label, real_image], [generator_loss, discriminator_loss])
    return model

# 定义优化器
optimizer = tf.keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5)

# 编写训练循环
for epoch in range(epochs):
    for batch_i, (images, labels) in enumerate(train_dataset):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            noise = tf.random.normal([batch_size, latent_dim])
            gen_loss, disc_loss = get_gan_loss(generator, discriminator)([noise, labels, images])

        grads_gen = gen_tape.gradient(gen_loss, generator.trainable_variables)
        grads_disc = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

        optimizer.apply_gradients(zip(grads_gen, generator.trainable_variables))
        optimizer.apply_gradients(zip(grads_disc, discriminator.trainable_variables))

        print(f"Epoch {epoch}, Batch {batch_i}, Generator Loss: {gen_loss}, Discriminator Loss: {disc_loss}")

# 生成图像示例
noise = tf.random.normal([1, latent_dim])
generated_image = generator([noise, label])

# 显示生成的图像
# ...
""",
    "7.1": """\
import tensorflow as tf
from tensorflow.keras import layers

def make_encoder_model(input_shape):
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=input_shape))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    return model

def make_decoder_model(input_shape):
    model = tf.keras.Sequential()
    model.add(layers.Dense(64 * 3 * 3, activation='relu'))
    model.add(layers.Reshape((3, 3, 64)))
    model.add(layers.Conv2DTranspose(64, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2DTranspose(32, (3, 3), strides=(2, 2), activation='relu'))
    model.add(layers.Conv2D(1, (3, 3), activation='sigmoid'))
    return model

def make_vae_model(encoder, decoder):
    inputs = tf.keras.Input(shape=input_shape)
    z_mean, z_log_var = encoder(inputs)
    z = z_mean + tf.random.normal(tf.shape(z_log_var)) * tf.exp(0.5 * z_log_var)
    x_hat = decoder(z)
    vae_loss = -tf.reduce_sum(inputs * tf.math.log(inputs + 1e-10) + x_hat * tf.math.log(x_hat + 1e-10) - z_mean - tf.exp(z_log_var), axis=[1, 2, 3])
    return tf.keras.Model(inputs, x_hat), vae_loss
""",
    "7.1b": """\
vae = make_vae_model(encoder, decoder)
vae.compile(optimizer='adam', loss=vae_loss)

vae.fit(train_dataset, epochs=epochs)
""",
}
"""Printed source text of each listing, by article section ("7.1b": the fit snippet after 7.1)."""

FLAWS = {
    "4.2": [
        ("The encoder has no z_mean / z_log_var heads (it ends in a 576-wide Flatten), so "
         "`z_mean, z_log_var = encoder(inputs)` raises.",
         "test_printed_vae_encoder_has_no_mean_and_log_var_heads",
         "test_library_vae_encoder_returns_mean_and_log_var"),
        ("The decoder outputs 13x13x1 images, not 28x28x1.",
         "test_printed_vae_decoder_outputs_13x13_not_28x28",
         "test_library_vae_decoder_outputs_the_image_shape"),
        ("The loss has no reconstruction term: it never compares x_hat with x.",
         "test_printed_vae_loss_has_no_reconstruction_term",
         "test_library_reconstruction_loss_prefers_the_perfect_reconstruction"),
        ("The KL term is wrong: not 0 when q(z|x) is the prior, unbounded below in z_mean.",
         "test_printed_vae_kl_is_wrong",
         "test_library_kl_is_zero_at_the_prior_and_grows_with_the_mean"),
        ("Image-shaped and latent-shaped terms are summed together and do not broadcast.",
         "test_printed_vae_loss_shapes_do_not_broadcast",
         "test_library_vae_losses_work_for_any_batch_and_latent_size"),
    ],
    "7.1": [
        ("`make_vae_model` uses `input_shape`, which is not defined there.",
         "test_printed_vae_model_7_1_input_shape_undefined",
         "test_library_vae_builds_and_runs"),
        ("The decoder ignores its `input_shape` argument: 13x13x1 whatever the images.",
         "test_printed_vae_decoder_outputs_13x13_not_28x28",
         "test_library_vae_decoder_outputs_the_image_shape"),
    ],
    "7.1b": [
        ("`make_vae_model` returns a tuple (model, loss tensor): `vae.compile(loss=vae_loss)` "
         "gets a tensor where Keras needs a loss function; the model cannot be built anyway.",
         "test_printed_vae_compile_gets_a_tuple_and_a_loss_tensor",
         "test_library_vae_builds_and_runs"),
    ],
    "5.3": [
        ("Inside `Dataset.map`, `cv2.imread` receives a symbolic tensor, not a path string.",
         "test_printed_preprocessing_passes_a_tensor_to_cv2_imread",
         "test_library_image_folder_loads_rgb"),
        ("OpenCV loads BGR: red and blue are swapped (test skipped where OpenCV is absent).",
         "test_printed_preprocessing_loads_bgr",
         "test_library_image_folder_loads_rgb"),
    ],
    "5.4": [
        ("The generator outputs 16x16x1, not 28x28x1.",
         "test_printed_generator_outputs_16x16",
         "test_library_generator_outputs_28x28_and_takes_noise_and_label"),
        ("The generator takes one input: called with [noise, label], it drops the label.",
         "test_printed_generator_ignores_the_label",
         "test_library_generator_uses_the_label"),
        ("The discriminator takes one input: called with [image, label], it drops the label.",
         "test_printed_discriminator_ignores_the_label",
         "test_library_discriminator_uses_the_label"),
        ("`make_cgan_model` uses the undefined `input_shape`, and cannot wire two inputs into "
         "one-input networks.",
         "test_printed_cgan_model_input_shape_undefined_and_inputs_mismatched",
         "test_library_cgan_builds"),
    ],
    "5.5": [
        ("`binary_crossentropy(valid_fake, ones)` swaps (target, prediction): the value is "
         "about 15 * (1 - D), not -log D.",
         "test_printed_binary_crossentropy_arguments_swapped",
         "test_library_generator_loss_is_minus_log_d"),
        ("The discriminator loss labels real images 0 and fakes 1, and the generator also pushes "
         "D(fake) to 1: no adversarial game.",
         "test_printed_discriminator_labels_real_0_fake_1",
         "test_library_discriminator_loss_labels_real_1_fake_0"),
        ("`get_gan_loss` uses the undefined `input_shape` and builds a new model per batch.",
         "test_printed_get_gan_loss_input_shape_undefined",
         "test_library_cgan_builds"),
        ("One Adam optimiser is shared by generator and discriminator (Keras 3 refuses).",
         "test_printed_one_optimizer_shared_by_both_networks",
         "test_library_gan_has_one_optimizer_per_network"),
    ],
}
"""section -> [(what is wrong, test that shows it, test that the library passes)] in
tests/test_article_code.py."""


def listing(section):
    """The printed source text of one listing, e.g. listing("5.5")."""
    if section not in LISTINGS:
        raise ValueError(f"no listing for section {section!r}; sections: {sorted(LISTINGS)}")
    return LISTINGS[section]
