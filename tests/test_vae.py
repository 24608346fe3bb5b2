"""VAE and CVAE (prodgen_lessons.models.vae): shapes, losses against hand-computed values, the KL
closed form against Monte Carlo, and a few training steps on real images."""

import math

import numpy as np
import pytest
import tensorflow as tf

from prodgen_lessons.data import make_dataset
from prodgen_lessons.models import vae

SMALL = dict(base_filters=8, hidden=32)  # tiny networks keep the tests fast


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3), (32, 32, 3)])
def test_encoder_and_decoder_shapes(shape):
    encoder = vae.build_encoder(shape, latent_dim=5, **SMALL)
    decoder = vae.build_decoder(shape, latent_dim=5, **SMALL)
    z_mean, z_log_var = encoder(tf.zeros((2,) + shape))
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (2, 5)
    assert tuple(decoder(z_mean).shape) == (2,) + shape


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3)])
def test_conditional_networks_take_labels(shape):
    encoder = vae.build_encoder(shape, latent_dim=5, num_classes=10, **SMALL)
    decoder = vae.build_decoder(shape, latent_dim=5, num_classes=10, **SMALL)
    labels = tf.constant([3, 9])
    z_mean, _ = encoder([tf.zeros((2,) + shape), labels])
    assert tuple(decoder([z_mean, labels]).shape) == (2,) + shape
    # the label changes the image
    a = decoder([tf.zeros((1, 5)), tf.constant([0])])
    b = decoder([tf.zeros((1, 5)), tf.constant([9])])
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-6


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="image_shape"):
        vae.build_encoder((28, 28))
    with pytest.raises(ValueError, match="num_classes"):
        vae.build_decoder(num_classes=1)
    with pytest.raises(ValueError, match="beta"):
        vae.VAE(vae.build_encoder(**SMALL), vae.build_decoder(**SMALL), beta=-1)
    with pytest.raises(ValueError, match="CVAE needs networks built with num_classes"):
        vae.CVAE(vae.build_encoder(**SMALL), vae.build_decoder(**SMALL))


def test_reconstruction_loss_by_hand():
    x = np.array([[0.0, 1.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0]], "float32").reshape(2, 2, 2, 1)
    logits = np.array([[0.0, 2.0, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], "float32").reshape(2, 2, 2, 1)
    # per pixel: -x log s(l) - (1 - x) log(1 - s(l)); s(0) = 1/2
    first = math.log(2) + math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1)) + math.log(2)
    second = 4 * math.log(2)
    assert float(vae.reconstruction_loss(x, logits)) == pytest.approx((first + second) / 2, rel=1e-6)


def test_reconstruction_loss_is_stable_for_huge_logits():
    x = np.ones((1, 2, 2, 1), "float32")
    assert float(vae.reconstruction_loss(x, np.full_like(x, 1e4))) == pytest.approx(0.0, abs=1e-6)
    assert float(vae.reconstruction_loss(x, np.full_like(x, -1e4))) == pytest.approx(4e4, rel=1e-6)


def test_kl_divergence_by_hand():
    z_mean = np.array([[1.0, 0.0]], "float32")
    z_log_var = np.array([[0.0, math.log(2.0)]], "float32")
    # -1/2 * [(1 + 0 - 1 - 1) + (1 + log 2 - 0 - 2)] = 1 - log(2) / 2
    assert float(vae.kl_divergence(z_mean, z_log_var)[0]) == pytest.approx(1 - math.log(2) / 2, rel=1e-6)
    assert float(vae.kl_divergence(np.zeros((1, 3)), np.zeros((1, 3)))[0]) == 0.0


def test_kl_divergence_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = np.array([0.7, -1.5, 0.0], "float32")
    log_var = np.array([-1.0, 0.5, 1.2], "float32")
    sd = np.exp(0.5 * log_var)
    z = mu + sd * rng.standard_normal((200_000, 3))
    log_q = -0.5 * (((z - mu) / sd) ** 2 + log_var + math.log(2 * math.pi))
    log_p = -0.5 * (z**2 + math.log(2 * math.pi))
    monte_carlo = float(np.mean(np.sum(log_q - log_p, axis=1)))
    closed = float(vae.kl_divergence(mu[None], log_var[None])[0])
    assert closed == pytest.approx(monte_carlo, abs=0.02)


def test_sampling_layer_is_the_reparameterisation():
    sampling = vae.Sampling(seed=1)
    mu = np.full((20_000, 2), [1.0, -2.0], "float32")
    log_var = np.full((20_000, 2), [0.0, math.log(4.0)], "float32")
    z = np.asarray(sampling([mu, log_var]))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 2.0], rtol=0.03)
    # gradients reach both heads
    mu_t, lv_t = tf.Variable(mu[:4]), tf.Variable(log_var[:4])
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(sampling([mu_t, lv_t]) ** 2)
    assert all(g is not None for g in tape.gradient(out, [mu_t, lv_t]))


def test_regularisation_options_add_dropout_and_weight_penalty():
    encoder = vae.build_encoder(latent_dim=4, dropout=0.2, weight_decay=1e-4, **SMALL)
    decoder = vae.build_decoder(latent_dim=4, dropout=0.2, weight_decay=1e-4, **SMALL)
    assert any(layer.__class__.__name__ == "Dropout" for layer in encoder.layers + decoder.layers)
    assert encoder.losses and decoder.losses
    assert not vae.build_encoder(latent_dim=4, **SMALL).losses


def _val_losses(trainer, ds):
    return trainer.evaluate(ds, verbose=0, return_dict=True)


def test_vae_training_lowers_the_loss_on_real_images(sample):
    keras_seed = 0
    tf.keras.utils.set_random_seed(keras_seed)
    train = make_dataset(sample.x_train, sample.y_train, batch_size=100, scale="unit")
    test = make_dataset(sample.x_test, sample.y_test, batch_size=100, scale="unit", shuffle=False)
    trainer = vae.build_vae(latent_dim=4, learning_rate=2e-3, **SMALL)
    before = _val_losses(trainer, test)
    history = trainer.fit(train, validation_data=test, epochs=8, verbose=0)
    after = _val_losses(trainer, test)
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss", "val_loss",
                                    "val_reconstruction_loss", "val_kl_loss"}
    assert after["loss"] < before["loss"] - 50  # nats per image
    assert after["loss"] == pytest.approx(after["reconstruction_loss"] + after["kl_loss"], rel=1e-4)

    images = trainer.sample(6, seed=3)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, trainer.sample(6, seed=3))
    assert not np.array_equal(images, trainer.sample(6, seed=4))
    z_mean, z_log_var = trainer.encode(sample.x_test[:5])  # uint8 accepted
    assert z_mean.shape == z_log_var.shape == (5, 4)
    recon = trainer.reconstruct(sample.x_test[:5])
    assert recon.shape == (5, 28, 28, 1)
    # a trained VAE reconstructs its own input better than another image
    x = sample.x_test[:5, ..., None] / 255.0
    assert np.mean((recon - x) ** 2) < np.mean((recon - np.roll(x, 1, axis=0)) ** 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trainer.encode(np.full((1, 28, 28, 1), 2.0))


def test_cvae_training_and_conditional_sampling(sample):
    tf.keras.utils.set_random_seed(0)
    train = make_dataset(sample.x_train, sample.y_train, batch_size=100, scale="unit")
    trainer = vae.build_cvae(latent_dim=4, num_classes=10, learning_rate=2e-3, **SMALL)
    assert isinstance(trainer, vae.CVAE)
    before = _val_losses(trainer, train)["loss"]
    trainer.fit(train, epochs=3, verbose=0)
    assert _val_losses(trainer, train)["loss"] < before - 50

    images = trainer.sample(10, seed=0)  # labels None -> categories 0..9
    assert images.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(images, trainer.sample(10, labels=np.arange(10), seed=0))
    trousers = trainer.sample(3, labels=1, seed=0)
    bags = trainer.sample(3, labels=8, seed=0)
    assert np.abs(trousers - bags).max() > 0.05  # same z, different category
    with pytest.raises(ValueError, match="labels must be in"):
        trainer.sample(2, labels=[0, 10])
    assert trainer.reconstruct(sample.x_test[:2], labels=sample.y_test[:2]).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match="CVAE needs labels"):
        trainer.encode(sample.x_test[:2])


def test_vaegan_discriminator_and_training_steps(sample):
    for shape in [(28, 28, 1), (64, 64, 3)]:
        d = vae.build_vae_discriminator(shape, base_filters=8)
        assert tuple(d(tf.zeros((2,) + shape)).shape) == (2, 1)
    tf.keras.utils.set_random_seed(0)
    trainer = vae.VAEGAN(vae.build_encoder(latent_dim=4, **SMALL), vae.build_decoder(latent_dim=4, **SMALL),
                         vae.build_vae_discriminator(base_filters=8))
    trainer.compile(optimizer=tf.keras.optimizers.Adam(2e-3), run_eagerly=True)
    train = make_dataset(sample.x_train[:400], batch_size=100, scale="unit")
    before = trainer.evaluate(train, verbose=0, return_dict=True)
    assert set(before) == {"loss", "reconstruction_loss", "kl_loss"}
    history = trainer.fit(train, epochs=2, verbose=0).history
    assert {"g_loss", "d_loss", "loss"} <= set(history)
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert trainer.evaluate(train, verbose=0, return_dict=True)["loss"] < before["loss"]
    assert trainer.sample(2).shape == (2, 28, 28, 1)


def test_gaussian_mixture_em_recovers_a_known_mixture():
    rng = np.random.default_rng(0)
    which = rng.random(4000) < 0.25
    points = np.where(which[:, None], rng.normal(-3, 0.5, (4000, 3)), rng.normal(2, 1.5, (4000, 3)))
    weights, means, variances = vae.fit_gaussian_mixture(points, components=2, seed=1)
    order = np.argsort(means[:, 0])
    assert np.allclose(weights[order], [0.25, 0.75], atol=0.02)
    assert np.allclose(means[order], [[-3] * 3, [2] * 3], atol=0.1)
    assert np.allclose(np.sqrt(variances[order]), [[0.5] * 3, [1.5] * 3], atol=0.1)


def test_ex_post_prior_is_fitted_after_fit_and_saves_with_the_weights(sample, tmp_path):
    keras_seed = 0
    tf.keras.utils.set_random_seed(keras_seed)
    ds = make_dataset(sample.x_train[:256], sample.y_train[:256], batch_size=64, scale="unit")
    for num_classes in (None, 10):
        trainer = vae.build_vae(latent_dim=4, num_classes=num_classes, conditional=bool(num_classes), prior_components=3, **SMALL)
        assert not trainer.prior.fitted
        trainer.fit(ds, epochs=1, verbose=0)
        assert trainer.prior.fitted
        codes, _ = trainer.encode(sample.x_train[:256], None if num_classes is None else sample.y_train[:256])
        # the mixture's overall mean is the codes' mean
        w = np.exp(trainer.prior.log_weights.numpy())
        mixture_mean = (w[..., None] * trainer.prior.means.numpy()).sum(1)
        if num_classes is None:
            assert np.allclose(mixture_mean[0], codes.mean(0), atol=1e-3)
        else:  # one mixture per category: its mean is that category's mean code
            y = sample.y_train[:256]
            assert np.allclose(mixture_mean[3], codes[y == 3].mean(0), atol=1e-3)
        path = tmp_path / f"prior{num_classes}.weights.h5"
        trainer.prior.save_weights(path)
        copy = vae.build_vae(latent_dim=4, num_classes=num_classes, conditional=bool(num_classes), prior_components=3, **SMALL)
        copy.prior.load_weights(path)
        assert copy.prior.fitted
        labels = None if num_classes is None else np.full(5, 2)
        assert np.array_equal(copy.prior.sample(5, labels, seed=1), trainer.prior.sample(5, labels, seed=1))


def test_temperature_and_guidance_change_decoding_as_their_formulas_say():
    tf.keras.utils.set_random_seed(0)
    z = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    plain = vae.build_vae(latent_dim=3, **SMALL)
    sharp = vae.build_vae(latent_dim=3, temperature=0.5, **SMALL)
    sharp.decoder.set_weights(plain.decoder.get_weights())
    logits = np.asarray(plain.decoder(z))
    np.testing.assert_allclose(plain.decode(z), 1 / (1 + np.exp(-logits)), atol=1e-6)
    np.testing.assert_allclose(sharp.decode(z), 1 / (1 + np.exp(-2 * logits)), atol=1e-6)

    plain = vae.build_cvae(latent_dim=3, **SMALL)
    guided = vae.build_cvae(latent_dim=3, guidance=0.7, temperature=0.5, **SMALL)
    guided.decoder.set_weights(plain.decoder.get_weights())
    labels = np.array([0, 3, 3, 9])
    every = np.stack([np.asarray(plain.decoder([z, np.full(4, c)])) for c in range(10)], 1)
    own = every[np.arange(4), labels]
    expected = (own + 0.7 * (own - every.mean(1))) / 0.5
    np.testing.assert_allclose(guided.decode(z, labels), 1 / (1 + np.exp(-expected)), atol=1e-5)
    np.testing.assert_allclose(plain.decode(z, labels), 1 / (1 + np.exp(-own)), atol=1e-6)
    # per call: the model's settings are defaults, not fixed
    np.testing.assert_allclose(guided.decode(z, labels, temperature=1.0, guidance=0.0), plain.decode(z, labels),
                               atol=1e-6)

    with pytest.raises(ValueError, match="temperature must be > 0"):
        vae.build_vae(latent_dim=3, temperature=0, **SMALL)
    with pytest.raises(ValueError, match="guidance must be >= 0"):
        vae.build_cvae(latent_dim=3, guidance=-1, **SMALL)
    with pytest.raises(ValueError, match="guidance needs a condition"):
        vae.build_vae(latent_dim=3, guidance=1, **SMALL)
    with pytest.raises(ValueError, match="guidance needs a condition"):
        sharp.decode(z, guidance=0.5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sharp.decode(z, temperature=-1)


def test_sample_draws_codes_from_the_fitted_mixture_not_the_standard_normal():
    trainer = vae.build_vae(latent_dim=2, prior_components=1, **SMALL)
    trainer.prior.fit_codes(np.random.default_rng(0).normal(5.0, 0.1, (500, 2)))
    z = trainer._prior_codes(1000, None, seed=0)
    assert np.allclose(z.mean(0), 5.0, atol=0.02) and np.allclose(z.std(0), 0.1, atol=0.01)
    with pytest.raises(ValueError, match="prior_components"):
        vae.build_vae(latent_dim=2, prior_components=-1, **SMALL)
    with pytest.raises(ValueError, match="fewer than"):
        trainer.prior.fit_codes(np.zeros((0, 2)))
