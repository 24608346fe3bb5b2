"""Each flaw of the article's printed code, shown by running it (prodgen_lessons.article), next to
the same check passed by the library's corrected code. The book's errata page links these tests
by name: test_printed_* shows the flaw, test_library_* the fix."""

import ast
import inspect
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from prodgen_lessons import article
from prodgen_lessons.models import cgan, gan, vae

# ---------------------------------------------------------------------------------------------
# the listings are kept verbatim


def test_listings_hold_the_printed_text():
    assert set(article.LISTINGS) == {"4.2", "5.3", "5.4", "5.5", "7.1", "7.1b"}
    assert "z_mean, z_log_var = encoder(inputs)" in article.LISTINGS["4.2"]
    assert "cv2.imread(image_path)" in article.LISTINGS["5.3"]
    assert "binary_crossentropy(valid_fake, tf.keras.backend.ones_like(valid_fake))" in article.LISTINGS["5.5"]
    assert "vae.compile(optimizer='adam', loss=vae_loss)" in article.LISTINGS["7.1b"]


def test_flaws_name_existing_tests():
    names = {n for n in globals() if n.startswith("test_")}
    for section, flaws in article.FLAWS.items():
        assert section in article.LISTINGS
        for text, printed_test, library_test in flaws:
            assert text and printed_test in names and (library_test is None or library_test in names)


def test_article_module_does_not_import_cv2():
    assert "cv2" not in vars(article)


# ---------------------------------------------------------------------------------------------
# 4.2 / 7.1 VAE


def test_printed_vae_encoder_has_no_mean_and_log_var_heads():
    encoder = article.make_encoder_model_4_2()
    out = encoder(tf.zeros((2, 28, 28, 1)))
    assert tuple(out.shape) == (2, 576)  # one Flatten output, not (z_mean, z_log_var)
    with pytest.raises(NotImplementedError, match="Iterating over a symbolic KerasTensor"):
        article.make_vae_model_4_2(encoder, article.make_decoder_model_4_2())


def test_library_vae_encoder_returns_mean_and_log_var():
    encoder = vae.build_encoder(latent_dim=20)
    z_mean, z_log_var = encoder(tf.zeros((2, 28, 28, 1)))
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (2, 20)


def test_printed_vae_decoder_outputs_13x13_not_28x28():
    decoder = article.make_decoder_model_4_2()
    assert tuple(decoder(tf.zeros((2, 20))).shape) == (2, 13, 13, 1)
    # 7.1 takes input_shape and ignores it
    decoder = article.make_decoder_model_7_1((64, 64, 3))
    assert tuple(decoder(tf.zeros((2, 20))).shape) == (2, 13, 13, 1)


def test_library_vae_decoder_outputs_the_image_shape():
    for shape in [(28, 28, 1), (64, 64, 3)]:
        decoder = vae.build_decoder(shape, latent_dim=20)
        assert tuple(decoder(tf.zeros((2, 20))).shape) == (2,) + shape


def test_printed_vae_model_7_1_input_shape_undefined():
    encoder = article.make_encoder_model_7_1((28, 28, 1))
    decoder = article.make_decoder_model_7_1((28, 28, 1))
    with pytest.raises(NameError, match="input_shape"):
        article.make_vae_model_7_1(encoder, decoder)


def test_printed_vae_compile_gets_a_tuple_and_a_loss_tensor():
    # 7.1's make_vae_model returns (model, loss tensor): the 7.1b listing compiles that tuple
    returned = [node.value for node in ast.walk(ast.parse(inspect.getsource(article.make_vae_model_7_1)))
                if isinstance(node, ast.Return)]
    assert len(returned) == 1 and isinstance(returned[0], ast.Tuple) and len(returned[0].elts) == 2
    # a tuple has no compile(); and even given the model, a tensor is not a loss(y_true, y_pred)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam", loss=tf.zeros((4,)))
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)


def test_library_vae_builds_and_runs():
    trainer = vae.build_vae(latent_dim=20)
    assert trainer.sample(2).shape == (2, 28, 28, 1)


def _binary_image(batch=1, seed=0):
    return (np.random.default_rng(seed).random((batch, 28, 28, 1)) > 0.5).astype("float32")


def test_printed_vae_loss_has_no_reconstruction_term():
    x = _binary_image()
    z = np.zeros((1, 1), "float32")
    perfect = float(article.printed_vae_loss(x, x, z, z)[0])
    inverted = float(article.printed_vae_loss(x, 1.0 - x, z, z)[0])
    assert perfect == pytest.approx(inverted)  # a perfect and an inverted image score the same


def test_library_reconstruction_loss_prefers_the_perfect_reconstruction():
    x = _binary_image()
    logits_perfect = np.where(x > 0.5, 10.0, -10.0).astype("float32")
    perfect = float(vae.reconstruction_loss(x, logits_perfect))
    inverted = float(vae.reconstruction_loss(x, -logits_perfect))
    assert perfect < 0.1 < 1000.0 < inverted


def test_printed_vae_kl_is_wrong():
    x = np.full((1, 28, 28, 1), 0.5, "float32")
    zeros = np.zeros((1, 1), "float32")
    at_prior = float(article.printed_vae_loss(x, x, zeros, zeros)[0])
    # change only z (q = N(0, 1) is the prior, so KL = 0): the printed loss still moves,
    # and it keeps falling as z_mean -> -inf, where the true KL grows like z_mean^2 / 2
    far = float(article.printed_vae_loss(x, x, np.full((1, 1), -100.0, "float32"), zeros)[0])
    farther = float(article.printed_vae_loss(x, x, np.full((1, 1), -1000.0, "float32"), zeros)[0])
    assert farther < far < at_prior


def test_library_kl_is_zero_at_the_prior_and_grows_with_the_mean():
    zeros = np.zeros((1, 1), "float32")
    assert float(vae.kl_divergence(zeros, zeros)[0]) == pytest.approx(0.0, abs=1e-7)
    far = float(vae.kl_divergence(np.full((1, 1), -100.0, "float32"), zeros)[0])
    assert far == pytest.approx(5000.0)


def test_printed_vae_loss_shapes_do_not_broadcast():
    x = np.zeros((4, 28, 28, 1), "float32")
    z = np.zeros((4, 2), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        article.printed_vae_loss(x, x, z, z)


def test_library_vae_losses_work_for_any_batch_and_latent_size():
    x = np.zeros((4, 28, 28, 1), "float32")
    assert np.shape(vae.reconstruction_loss(x, x)) == ()
    assert np.shape(vae.kl_divergence(np.zeros((4, 2)), np.zeros((4, 2)))) == (4,)


# ---------------------------------------------------------------------------------------------
# 5.3 preprocessing


class _FakeCV2(types.ModuleType):
    """Behaves like OpenCV's imread argument check: a str path or TypeError."""

    def __init__(self):
        super().__init__("cv2")
        self.seen = []

    def imread(self, path):
        self.seen.append(type(path))
        if not isinstance(path, str):
            raise TypeError("Can't convert object to 'str' for 'filename'")
        return np.zeros((300, 300, 3), np.uint8)

    def resize(self, image, size):
        return np.zeros(size + image.shape[2:], image.dtype)


def test_printed_preprocessing_passes_a_tensor_to_cv2_imread(monkeypatch):
    fake = _FakeCV2()
    monkeypatch.setitem(sys.modules, "cv2", fake)
    with pytest.raises(Exception, match="Can't convert object to 'str'"):
        article.preprocess_data(["a.png", "b.png"], batch_size=2)
    assert fake.seen and all(issubclass(t, tf.Tensor) for t in fake.seen)


def _write_red_png(folder):
    from PIL import Image

    (folder / "shirts").mkdir()
    Image.new("RGB", (80, 80), (255, 0, 0)).save(folder / "shirts" / "red.png")
    return folder / "shirts" / "red.png"


def test_printed_preprocessing_loads_bgr(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = _write_red_png(tmp_path)
    image = article.preprocess_image(str(path))  # called directly, with a str, it runs
    assert image.shape == (256, 256, 3)
    assert image[0, 0, 2] == 1.0 and image[0, 0, 0] == 0.0  # red arrives in channel 2 (BGR)
    assert cv2 is not None


def test_library_image_folder_loads_rgb(tmp_path):
    from prodgen_lessons.data import load_catalogue

    _write_red_png(tmp_path)
    images = load_catalogue(tmp_path, image_size=64).take("train")[0]
    assert images.shape == (1, 64, 64, 3)
    assert tuple(images[0, 0, 0]) == (255, 0, 0)


# ---------------------------------------------------------------------------------------------
# 5.4 cGAN networks


def test_printed_generator_outputs_16x16():
    generator = article.make_generator_model((100,))
    assert len(generator.inputs) == 1
    assert tuple(generator(tf.zeros((2, 100))).shape) == (2, 16, 16, 1)


def test_library_generator_outputs_28x28_and_takes_noise_and_label():
    generator = cgan.build_generator(latent_dim=100)
    assert len(generator.inputs) == 2
    assert tuple(generator([tf.zeros((2, 100)), tf.constant([0, 1])]).shape) == (2, 28, 28, 1)


def _one_hot(labels):
    return tf.one_hot(labels, 10)


def test_printed_generator_ignores_the_label():
    generator = article.make_generator_model((100,))
    z = tf.random.normal((2, 100), seed=1)
    with pytest.warns(UserWarning):  # Keras keeps the first input and drops the label
        a = generator([z, _one_hot([0, 0])])
        b = generator([z, _one_hot([7, 7])])
    np.testing.assert_array_equal(a, b)


def test_library_generator_uses_the_label():
    generator = cgan.build_generator(latent_dim=100)
    z = tf.random.normal((2, 100), seed=1)
    a = generator([z, tf.constant([0, 0])])
    b = generator([z, tf.constant([7, 7])])
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-4


def test_printed_discriminator_ignores_the_label():
    discriminator = article.make_discriminator_model((28, 28, 1))
    assert len(discriminator.inputs) == 1
    x = tf.random.uniform((2, 28, 28, 1), seed=2)
    with pytest.warns(UserWarning):
        a = discriminator([x, _one_hot([0, 0])], training=False)
        b = discriminator([x, _one_hot([7, 7])], training=False)
    np.testing.assert_array_equal(a, b)


def test_library_discriminator_uses_the_label():
    discriminator = cgan.build_discriminator(ac=False)
    assert len(discriminator.inputs) == 2
    x = tf.random.uniform((2, 28, 28, 1), seed=2)
    a = discriminator([x, tf.constant([0, 0])], training=False)
    b = discriminator([x, tf.constant([7, 7])], training=False)
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-6


def test_printed_cgan_model_input_shape_undefined_and_inputs_mismatched(monkeypatch):
    generator = article.make_generator_model((100,))
    discriminator = article.make_discriminator_model((28, 28, 1))
    with pytest.raises(NameError, match="input_shape"):
        article.make_cgan_model(generator, discriminator, 100, 10)
    # even with input_shape defined, the networks cannot take two symbolic inputs
    monkeypatch.setattr(article, "input_shape", (28, 28, 1), raising=False)
    with pytest.raises(ValueError, match="expects 1"):
        article.make_cgan_model(generator, discriminator, 100, 10)


def test_library_cgan_builds():
    trainer = cgan.build_cgan(latent_dim=16, base_filters=8)
    assert trainer.sample(3, labels=[0, 1, 2]).shape == (3, 28, 28, 1)


# ---------------------------------------------------------------------------------------------
# 5.5 losses and training loop

P_FOOLED = np.array([0.9], "float32")  # D says "real" to a fake with probability 0.9


def test_printed_binary_crossentropy_arguments_swapped():
    printed_g, _ = article.printed_gan_losses(P_FOOLED, P_FOOLED)
    right = -np.log(0.9)  # -log D(G(z)), what the text describes
    assert float(printed_g) == pytest.approx(0.1 * 15.33, rel=0.01)  # (1 - D) * -log(1e-7-ish)
    assert abs(float(printed_g) - right) > 1.0


def test_library_generator_loss_is_minus_log_d():
    logit = np.log(0.9 / 0.1).astype("float32")
    assert float(gan.generator_loss(np.array([logit]))) == pytest.approx(-np.log(0.9), rel=1e-5)
    # keras' binary_crossentropy(y_true, y_pred) with the arguments in the right order agrees
    right = keras.losses.binary_crossentropy(np.ones(1, "float32"), P_FOOLED)
    assert float(right) == pytest.approx(-np.log(0.9), rel=1e-4)


def test_printed_discriminator_labels_real_0_fake_1():
    good_d = article.printed_gan_losses(np.array([0.99], "float32"), np.array([0.01], "float32"))[1]
    inverted_d = article.printed_gan_losses(np.array([0.01], "float32"), np.array([0.99], "float32"))[1]
    assert float(inverted_d) < float(good_d)  # calling reals fake and fakes real is rewarded
    # ... and G's printed loss falls as D(fake) -> 1 too: both pull the same way, no game
    g_low = article.printed_gan_losses(P_FOOLED, np.array([0.99], "float32"))[0]
    assert float(g_low) < float(article.printed_gan_losses(P_FOOLED, P_FOOLED)[0])


def test_library_discriminator_loss_labels_real_1_fake_0():
    logit = lambda p: np.array([np.log(p / (1 - p))], "float32")  # noqa: E731
    good_d = gan.discriminator_loss(logit(0.99), logit(0.01))
    inverted_d = gan.discriminator_loss(logit(0.01), logit(0.99))
    assert float(good_d) < float(inverted_d)
    # G's loss falls as D(fake) -> 1, D's rises: opposed, as a game should be
    assert float(gan.generator_loss(logit(0.99))) < float(gan.generator_loss(logit(0.5)))
    assert float(gan.discriminator_loss(logit(0.5), logit(0.99))) > float(
        gan.discriminator_loss(logit(0.5), logit(0.5)))


def test_printed_get_gan_loss_input_shape_undefined():
    generator = article.make_generator_model((100,))
    discriminator = article.make_discriminator_model((28, 28, 1))
    with pytest.raises(NameError, match="input_shape"):
        article.get_gan_loss(generator, discriminator)
    data = tf.data.Dataset.from_tensor_slices((tf.zeros((4, 28, 28, 1)), tf.range(4))).batch(2)
    with pytest.raises(NameError, match="input_shape"):
        article.train_5_5(generator, discriminator, data, epochs=1, batch_size=2, latent_dim=100)


def test_printed_one_optimizer_shared_by_both_networks():
    generator = article.make_generator_model((100,))
    discriminator = article.make_discriminator_model((28, 28, 1))
    optimizer = keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5)  # as in 5.5
    g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
    optimizer.apply_gradients(zip([tf.zeros_like(v) for v in g_vars], g_vars))
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply_gradients(zip([tf.zeros_like(v) for v in d_vars], d_vars))


def test_library_gan_has_one_optimizer_per_network():
    trainer = cgan.build_cgan(latent_dim=16, base_filters=8)
    assert trainer.g_optimizer is not trainer.d_optimizer
    trainer.build_optimizers()  # each optimiser builds for its own network's variables
