"""GAN family: network shapes, the article's losses, and that a few real training steps learn."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf


from prodgen_lessons.data import as_float, augmentation, colour_catalogue, colour_of, load_sample, make_dataset
from prodgen_lessons.models import cgan, dcgan, gan, infogan
from prodgen_lessons.models.attention import SelfAttention
from prodgen_lessons.training import seed_everything

SHAPES = [(28, 28, 1), (64, 64, 3)]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------- losses


def test_generator_loss_is_minus_log_d():
    # article 3.1: L_G = -log D(G(z)); logits 0.5 and -2.0
    expected = -(math.log(sigmoid(0.5)) + math.log(sigmoid(-2.0))) / 2
    assert float(gan.generator_loss(np.array([[0.5], [-2.0]]))) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx((0.474077 + 2.126928) / 2, rel=1e-5)  # by hand


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = (math.log(1 - sigmoid(0.5)) + math.log(1 - sigmoid(-2.0))) / 2
    assert float(gan.minimax_generator_loss(np.array([0.5, -2.0]))) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(-(0.974077 + 0.126928) / 2, rel=1e-5)


def test_discriminator_loss_matches_article_formula():
    # L_D = -log D(x) - log(1 - D(G(z))): D(x) = sigmoid(2), D(G(z)) = sigmoid(-1)
    expected = -math.log(sigmoid(2.0)) - math.log(1 - sigmoid(-1.0))
    assert expected == pytest.approx(0.126928 + 0.313262, rel=1e-5)
    assert float(gan.discriminator_loss(np.array([2.0]), np.array([-1.0]))) == pytest.approx(expected, rel=1e-6)


def test_one_sided_label_smoothing():
    s, lr, lf = 0.1, 2.0, -1.0
    expected = (-(1 - s) * math.log(sigmoid(lr)) - s * math.log(1 - sigmoid(lr))
                - math.log(1 - sigmoid(lf)))
    got = float(gan.discriminator_loss(np.array([lr]), np.array([lf]), label_smoothing=s))
    assert got == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.discriminator_loss(np.array([lr]), np.array([lf]), label_smoothing=1.0)


def test_hinge_losses():
    # real logits 2 (beyond the margin: no loss) and 0.5 (0.5 short); fakes -3 (settled) and 0 (1 short)
    d_real, d_fake = np.array([2.0, 0.5]), np.array([-3.0, 0.0])
    assert float(gan.hinge_discriminator_loss(d_real, d_fake)) == pytest.approx(0.25 + 0.5)
    assert float(gan.hinge_generator_loss(d_fake)) == pytest.approx(1.5)


def test_losses_stay_finite_for_confident_logits():
    big = np.array([200.0, -200.0])
    for value in (gan.generator_loss(big), gan.minimax_generator_loss(big),
                  gan.discriminator_loss(big, big)):
        assert np.isfinite(float(value))
    assert float(gan.generator_loss(np.array([-200.0]))) == pytest.approx(200.0)


def test_info_loss_hand_value():
    # CE of logits [0, 0] for class 0 = log 2; Gaussian term 0.5 * (1^2 + 0.5^2)
    got = float(infogan.info_loss(np.array([0]), np.array([[1.0, 0.5]]), np.array([[0.0, 0.0]]),
                                  np.array([[0.0, 0.0]])))
    assert got == pytest.approx(math.log(2) + 0.5 * 1.25, rel=1e-6)


def test_real_information_hand_values():
    sure = 50.0 * np.eye(10, dtype="float32")                  # ten photos, each sure of its own group
    assert float(infogan.real_information(sure)) == pytest.approx(math.log(10), abs=1e-4)
    assert float(infogan.real_information(np.tile(sure[:1], (10, 1)))) == pytest.approx(0.0, abs=1e-4)  # one group
    assert float(infogan.real_information(np.zeros((10, 10)))) == pytest.approx(0.0, abs=1e-4)  # no opinion
    # two photos split 3:1 between two groups each: H(marginal) = log 2, E H(p) = H(0.75, 0.25)
    p = np.array([[0.75, 0.25], [0.25, 0.75]])
    expected = math.log(2) + float(np.sum(p[0] * np.log(p[0])))
    assert float(infogan.real_information(np.log(p))) == pytest.approx(expected, rel=1e-5)


def test_group_change_hand_values():
    logits = np.random.default_rng(0).normal(0, 2, (8, 10)).astype("float32")
    assert float(infogan.group_change(logits, logits)) == pytest.approx(0.0, abs=1e-5)   # nothing moved
    # one photo, p = (0.75, 0.25) before the move and (0.5, 0.5) after: KL by hand
    before, after = np.log([[0.75, 0.25]]), np.log([[0.5, 0.5]])
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert float(infogan.group_change(before, after)) == pytest.approx(expected, rel=1e-4)
    # only the moved copy learns: the photo's own guess is the target
    before, after = tf.constant(before, "float32"), tf.constant(after, "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([before, after])
        change = infogan.group_change(before, after)
    assert tape.gradient(change, before) is None or not np.any(tape.gradient(change, before))
    assert np.any(tape.gradient(change, after))


def test_cluster_weight_makes_q_sort_the_real_photos():
    x = as_float(load_sample().x_train[:256], "tanh")
    got = {}
    for weight in (0.0, 1.0):
        keras.utils.set_random_seed(0)
        trainer = infogan.build_infogan(latent_dim=16, base_filters=8, hidden=64, cluster_weight=weight,
                                        precision="float32")
        history = trainer.fit(x, batch_size=32, epochs=8, verbose=0).history
        got[weight] = history["real_information"][-1]   # Q's estimate on the real photos, last epoch
    # 64 steps at D's learning rate: about 0.1 without the term, 0.6 with it (log 10 = 2.30 at most)
    assert got[1.0] > 0.4 and got[1.0] > got[0.0] + 0.3, got


def test_cluster_moves_compare_q_on_moved_copies():
    x = as_float(load_sample().x_train[:64], "tanh")
    got = {}
    for name, moves in (("still", keras.layers.Identity()), ("moved", augmentation(rotation=0, brightness=0,
                                                                                     contrast=0))):
        keras.utils.set_random_seed(0)
        trainer = infogan.build_infogan(latent_dim=16, base_filters=8, hidden=64, cluster_weight=1.0,
                                        precision="float32")
        trainer.moves = moves
        history = trainer.fit(x, batch_size=32, epochs=1, verbose=0).history
        got[name] = (history["group_change"][-1], trainer.discriminator.get_weights()[0])
    assert got["still"][0] == pytest.approx(0.0, abs=1e-5)       # a copy that did not move: nothing to pull
    assert got["moved"][0] > 1e-3                                    # moved copies: Q's guesses differ ...
    assert not np.allclose(got["still"][1], got["moved"][1])        # ... and the difference trains D
    plain = infogan.build_infogan(latent_dim=16, base_filters=8, hidden=64, precision="float32")
    assert "group_change" not in plain.fit(x, batch_size=32, epochs=1, verbose=0).history  # off by default


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("shape", SHAPES)
def test_gan_and_dcgan_shapes(shape):
    z = np.random.default_rng(0).standard_normal((2, 16)).astype("float32")
    for module in (gan, dcgan):
        g = module.build_generator(latent_dim=16, image_shape=shape)
        d = module.build_discriminator(image_shape=shape)
        images = np.asarray(g(z))
        assert images.shape == (2, *shape)
        assert np.all(np.abs(images) <= 1)
        assert d(images).shape == (2, 1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("condition", ["projection", "concat"])
def test_cgan_shapes(shape, condition):
    z = np.zeros((2, 16), "float32")
    labels, colours = np.array([3, 9]), np.array([0, 4])
    g = cgan.build_generator(16, shape, num_colours=5, attention=True, base_filters=16)
    d = cgan.build_discriminator(shape, num_colours=5, condition=condition, attention=True, base_filters=16)
    images = np.asarray(g([z, labels, colours]))
    assert images.shape == (2, *shape)
    logit, cls, colour = d([images, labels, colours])
    assert logit.shape == (2, 1) and cls.shape == (2, 10) and colour.shape == (2, 5)
    plain = cgan.build_discriminator(shape, condition=condition, ac=False, base_filters=16)
    assert plain([images, labels]).shape == (2, 1)
    tac = cgan.build_discriminator(shape, num_colours=5, condition=condition, twin=True, base_filters=16)
    logit, cls, twin = cgan._split(tac([images, labels, colours]), num_conditions=2)
    assert [t.shape for t in cls] == [t.shape for t in twin] == [(2, 10), (2, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_infogan_shapes_and_codes(shape):
    g = infogan.build_generator(latent_dim=16, image_shape=shape, base_filters=16)
    d = infogan.build_discriminator(image_shape=shape, base_filters=16)
    trainer = infogan.InfoGAN(g, d)
    images = trainer.sample(4, seed=1, codes={"category": 3, "continuous": [0.5, -0.5]})
    assert images.shape == (4, *shape) and images.min() >= 0 and images.max() <= 1
    logit, q_cat, q_cont = d(images * 2 - 1)
    assert logit.shape == (4, 1) and q_cat.shape == (4, 10) and q_cont.shape == (4, 2)
    np.testing.assert_array_equal(images, trainer.sample(4, seed=1, codes={"category": 3, "continuous": [0.5, -0.5]}))
    assert not np.array_equal(images, trainer.sample(4, seed=1, codes={"category": 4, "continuous": [0.5, -0.5]}))
    with pytest.raises(ValueError, match="unknown code"):
        trainer.sample(2, codes={"colour": 1})


def test_gan_optimizers_take_one_rate_or_a_pair():
    g, d = gan.gan_optimizers(1e-3)
    assert float(g.learning_rate) == float(d.learning_rate) == pytest.approx(1e-3)
    g, d = gan.gan_optimizers((1e-3, 2e-4), ema=0.999)
    assert float(g.learning_rate) == pytest.approx(1e-3) and float(d.learning_rate) == pytest.approx(2e-4)
    assert g.use_ema and not d.use_ema


def test_bad_shapes_and_options_are_rejected():
    with pytest.raises(ValueError, match="image_shape"):
        dcgan.build_generator(image_shape=(28, 28))
    with pytest.raises(ValueError, match="square"):
        dcgan.build_generator(image_shape=(28, 32, 1))
    with pytest.raises(ValueError, match="condition"):
        cgan.build_discriminator(condition="sum")
    d = cgan.build_discriminator(ac=False, base_filters=8)
    with pytest.raises(ValueError, match="ac_weight"):
        cgan.CGAN(cgan.build_generator(base_filters=8), d, ac_weight=1.0)
    with pytest.raises(ValueError, match="twin"):
        cgan.build_discriminator(ac=False, twin=True, base_filters=8)
    with pytest.raises(ValueError, match="twin_weight"):
        cgan.CGAN(cgan.build_generator(base_filters=8), cgan.build_discriminator(base_filters=8), twin_weight=1.0)
    with pytest.raises(ValueError, match="twin_weight=0 with ac_weight=0"):
        cgan.build_cgan(base_filters=8, ac_weight=0)
    assert len(cgan.build_cgan(base_filters=8, ac_weight=0, twin_weight=0).discriminator.outputs) == 1
    with pytest.raises(ValueError, match="ema"):
        cgan.build_cgan(base_filters=8, ema=1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        cgan.build_cgan(base_filters=8, loss="wasserstein")
    with pytest.raises(ValueError, match='needs? loss="bce"'):
        cgan.build_cgan(base_filters=8, label_smoothing=0.1)
    assert cgan.build_cgan(base_filters=8, loss="bce", label_smoothing=0.1).label_smoothing == 0.1


def test_self_attention_starts_as_identity_and_serialises():
    x = np.random.default_rng(0).standard_normal((2, 7, 7, 16)).astype("float32")
    layer = SelfAttention()
    np.testing.assert_allclose(layer(x), x, atol=1e-6)  # gamma = 0
    layer.gamma.assign(1.0)
    assert not np.allclose(layer(x), x)
    clone = SelfAttention.from_config(layer.get_config())
    assert clone.key_ratio == layer.key_ratio
    model = keras.Sequential([keras.Input((7, 7, 16)), SelfAttention(key_ratio=4)])
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert restored.layers[0].key_ratio == 4


def test_loss_option_reaches_the_training_step():
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    y = np.arange(32) % 10
    logs = {}
    for loss, smoothing in (("hinge", 0.0), ("bce", 0.1)):
        keras.utils.set_random_seed(0)  # same weights and fakes: only the loss differs
        trainer = cgan.build_cgan(latent_dim=16, base_filters=8, loss=loss, label_smoothing=smoothing,
                                  precision="float32")
        logs[loss] = {k: float(v) for k, v in trainer.train_on_batch(x, y, return_dict=True).items()}
    assert logs["hinge"]["d_acc"] == logs["bce"]["d_acc"]  # the same logits ...
    # ... scored differently: at initialisation (logits near 0) the hinge D loss is near 2, the
    # cross-entropy near 2 log 2; the hinge G loss is -mean(logit), the cross-entropy's is > 0
    assert 1.5 < logs["hinge"]["d_loss"] < 2.5 and 1.2 < logs["bce"]["d_loss"] < 1.7
    assert logs["bce"]["g_loss"] > 0 and abs(logs["hinge"]["g_loss"]) < 0.5


def test_sample_is_deterministic_and_in_range():
    trainer = cgan.build_cgan(latent_dim=16, base_filters=8)
    a = trainer.sample(12, seed=3)
    np.testing.assert_array_equal(a, trainer.sample(12, seed=3))
    assert not np.array_equal(a, trainer.sample(12, seed=4))
    assert a.dtype == np.float32 and a.shape == (12, 28, 28, 1) and 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="labels"):
        trainer.sample(2, labels=[0, 10])


# --------------------------------------------------------------------------- precision


def test_precision_auto_is_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("auto means float32 on a GPU machine")
    monkeypatch.setattr(gan, "native_bfloat16_cpu", lambda: True)
    assert gan.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(gan, "native_bfloat16_cpu", lambda: False)
    assert gan.resolve_precision("auto") == "float32"
    assert gan.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with gan.dtype_policy("mixed_float16"):  # a policy chosen globally (get_strategy) is kept
        assert gan.resolve_precision("auto") == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'float32'"):
        cgan.build_cgan(base_filters=8, precision="bf16")


def test_bfloat16_cgan_trains_and_its_weights_load_into_float32(sample):
    seed_everything(0)
    trainer = cgan.build_cgan(latent_dim=16, base_filters=8, attention=True, precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # only this trainer's layers
    attention = trainer.generator.get_layer("self_attention")
    computing = {attention.compute_dtype, attention.f.compute_dtype,
                 trainer.discriminator.layers[-1].compute_dtype}
    assert computing == {"bfloat16"}
    assert {v.dtype for v in trainer.generator.weights + trainer.discriminator.weights} == {"float32"}
    logs = trainer.fit(make_dataset(sample.x_train[:256], sample.y_train[:256], batch_size=64),
                       epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    twin = cgan.build_cgan(latent_dim=16, base_filters=8, attention=True, precision="float32", ema=None)
    twin.generator.set_weights(trainer.generator.get_weights())
    images, exact = trainer.sample(32, seed=2), twin.sample(32, seed=2)
    assert images.dtype == np.float32
    # bfloat16 keeps about 3 significant digits: close to the float32 images, not equal to them
    assert 0 < np.abs(images - exact).mean() < 0.01 and np.abs(images - exact).max() < 0.1


# --------------------------------------------------------------------------- learning


def _d_scores(trainer, real, labels, z):
    d_real, cls, _ = cgan._split(trainer.discriminator([real, labels], training=False))
    fake = np.asarray(trainer.generator([z, labels], training=False))
    d_fake, _, _ = cgan._split(trainer.discriminator([fake, labels], training=False))
    d_acc = float(gan.discriminator_accuracy(d_real, d_fake))
    cls_acc = float(np.mean(np.argmax(cls, -1) == labels))
    return d_acc, cls_acc


def test_cgan_learns_on_real_products():
    seed_everything(0)
    data = load_sample()
    ds = make_dataset(data.x_train, data.y_train, batch_size=50, seed=0)
    trainer = cgan.build_cgan(latent_dim=16, base_filters=16)
    real = (data.x_test[..., None].astype("float32") / 127.5 - 1.0)
    labels = data.y_test.astype("int32")
    z = np.random.default_rng(0).standard_normal((len(labels), 16)).astype("float32")
    d_acc0, cls_acc0 = _d_scores(trainer, real, labels, z)
    history = trainer.fit(ds, epochs=2, verbose=0)
    d_acc1, cls_acc1 = _d_scores(trainer, real, labels, z)
    assert set(history.history) >= {"g_loss", "d_loss", "d_acc", "ac_loss", "ac_acc"}
    # the auxiliary classifier learns the categories of held-out real products
    assert cls_acc0 < 0.2 and cls_acc1 > 0.35, (cls_acc0, cls_acc1)
    # the condition loss goes down
    assert history.history["ac_loss"][-1] < history.history["ac_loss"][0]
    assert d_acc1 > 0.5, (d_acc0, d_acc1)


def test_twin_classifier_learns_fakes_and_the_generator_plays_against_it():
    data = load_sample()
    labels = np.arange(500, dtype="int32") % 10
    z = np.random.default_rng(0).standard_normal((500, 16)).astype("float32")

    def twin_accuracy_after_training(twin_weight):
        seed_everything(0)
        trainer = cgan.CGAN(cgan.build_generator(16, base_filters=16),
                            cgan.build_discriminator(twin=True, base_filters=16), twin_weight=twin_weight)
        trainer.compile()
        history = trainer.fit(make_dataset(data.x_train, data.y_train, batch_size=50, seed=0), epochs=6, verbose=0)
        assert all(np.isfinite(v).all() for v in history.history.values())
        # fakes as the twin saw them in training (BatchNorm on batch statistics)
        fake = np.asarray(trainer.generator([z, labels], training=True))
        _, _, twin = cgan._split(trainer.discriminator([fake, labels], training=False))
        return float(np.mean(np.argmax(twin[0], -1) == labels))

    # D's twin learns from the fakes themselves which category each was asked to be ...
    unopposed = twin_accuracy_after_training(0.0)
    assert unopposed > 0.45, unopposed
    # ... and with twin_weight > 0 the generator makes that harder (TAC-GAN's minus sign)
    opposed = twin_accuracy_after_training(1.0)
    assert opposed < unopposed - 0.15, (opposed, unopposed)


def test_generator_takes_the_moving_average_of_its_weights_when_fit_ends():
    seed_everything(0)
    data = load_sample()
    trainer = cgan.build_cgan(latent_dim=16, base_filters=8, ema=0.5)
    untrained = trainer.sample(4, seed=1)  # no step yet: no average, G as built
    z = np.random.default_rng(1).standard_normal((4, 16)).astype("float32")  # sample's noise for seed 1
    assert np.array_equal(untrained, as_float(trainer.generator([z, np.arange(4)], training=False), "unit", given="tanh"))
    raw, during = [], []  # G's own weights after each step; samples taken during training

    def after_step(batch, logs):
        raw.append([v.numpy() for v in trainer.generator.trainable_variables])
        during.append(trainer.sample(4, seed=1))
        # sampling swaps the average in and back out: training goes on from G's own weights
        now = [v.numpy() for v in trainer.generator.trainable_variables]
        assert all(np.array_equal(v, w) for v, w in zip(now, raw[-1]))

    trainer.fit(make_dataset(data.x_train[:256], data.y_train[:256], batch_size=64), epochs=1,
                verbose=0, callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=after_step)])
    assert len(raw) == 4
    expected = raw[0]  # the average starts at the first step's weights
    for t, step in enumerate(raw[1:], start=1):
        m = min(0.5, t / (t + 10))  # the warm-up
        expected = [m * a + (1 - m) * w for a, w in zip(expected, step)]
    final = [v.numpy() for v in trainer.generator.trainable_variables]
    for got, want in zip(final, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(g, last) for g, last in zip(final, raw[-1]))
    # the last sample taken during training is the finished generator's
    np.testing.assert_allclose(during[-1], trainer.sample(4, seed=1), atol=1e-6)


def test_multi_condition_cgan_learns_the_colour_it_is_asked_for():
    seed_everything(0)
    colours = colour_catalogue(load_sample())
    x, y = colours.x_train, colours.y_train
    trainer = cgan.build_cgan((28, 28, 3), latent_dim=16, base_filters=8, colour=True, precision="float32", ema=None,
                              learning_rate=2e-3)
    measured = trainer._conditions(make_dataset(x[:64], y[:64], batch_size=64, shuffle=False).get_single_element()[0],
                                   y[:64])[1]
    np.testing.assert_array_equal(np.asarray(measured), colour_of(x[:64]))  # measured exactly in the graph
    before = trainer.colour_compliance(n=200)
    trainer.fit(colours.dataset("train", batch_size=50).repeat(), steps_per_epoch=60, epochs=3, verbose=0)
    after = trainer.colour_compliance(n=200)
    assert before < 0.3 and after > 0.6, (before, after)  # chance is 0.2
    images = trainer.sample(10, labels=1, colours=[0, 1, 2, 3, 4] * 2)
    assert images.shape == (10, 28, 28, 3)
    with pytest.raises(ValueError, match="RGB"):
        cgan.build_cgan(colour=True)


def test_gan_and_infogan_train_steps_are_finite():
    data = load_sample()
    ds = make_dataset(data.x_train[:128], data.y_train[:128], batch_size=64)
    for trainer in (
        gan.GAN(gan.build_generator(16, hidden=(32,)), gan.build_discriminator(hidden=(32,))),
        dcgan.DCGAN(dcgan.build_generator(16, base_filters=8), dcgan.build_discriminator(base_filters=8)),
        infogan.InfoGAN(infogan.build_generator(16, base_filters=8), infogan.build_discriminator(base_filters=8)),
    ):
        trainer.compile()
        logs = trainer.fit(ds, epochs=1, verbose=0).history
        assert all(np.isfinite(v[-1]) for v in logs.values()), logs


def test_dcgan_and_infogan_recipes_take_the_hinge_loss_and_one_forward_pass():
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    for build in (dcgan.build_dcgan, infogan.build_infogan):
        keras.utils.set_random_seed(0)
        trainer = build(latent_dim=16, base_filters=8, precision="float32")
        assert trainer.loss == "hinge" and trainer.g_optimizer.use_ema
        logs = {k: float(v) for k, v in trainer.train_on_batch(x, return_dict=True).items()}
        # hinge at initialisation: D's loss near 2, G's loss -mean(logit) near 0
        assert 1.5 < logs["d_loss"] < 2.5 and abs(logs["g_loss"]) < 0.5, logs
        # one forward pass: G and D each took exactly one optimiser step
        assert int(trainer.g_optimizer.iterations) == 1 and int(trainer.d_optimizer.iterations) == 1
    with pytest.raises(ValueError, match="bce"):
        dcgan.build_dcgan(latent_dim=16, base_filters=8, label_smoothing=0.1)


def test_sampling_runs_in_batches_with_the_same_images():
    trainer = dcgan.build_dcgan(latent_dim=8, base_filters=8, precision="float32")
    calls = []
    generator = trainer.generator
    trainer.generator = lambda x, training=False: calls.append(len(x)) or generator(x, training=training)
    images = trainer.sample(1200, seed=3)
    assert calls == [500, 500, 200] and images.shape == (1200, 28, 28, 1)
    trainer.generator = generator
    assert np.allclose(images[:7], trainer.sample(7, seed=3), atol=1e-5)  # same z, same images
    assert trainer.sample(0).shape == (0, 28, 28, 1)
