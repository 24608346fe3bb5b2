"""CycleGAN (prodgen_lessons.models.cyclegan): shapes, losses against hand-computed values, the
unpaired data pipeline, and a few training steps on real sneakers and ankle boots."""

import numpy as np
import pytest
import tensorflow as tf

from prodgen_lessons import data
from prodgen_lessons.models import cyclegan

TINY = dict(filters=8, num_residual_blocks=1)


@pytest.mark.parametrize("shape, patches", [((28, 28, 1), (7, 7, 1)), ((64, 64, 3), (8, 8, 1)),
                                            ((32, 32, 3), (8, 8, 1))])
def test_generator_and_patch_discriminator_shapes(shape, patches):
    generator = cyclegan.build_generator(shape, **TINY)
    discriminator = cyclegan.build_discriminator(shape, filters=8)
    x = tf.random.uniform((2,) + shape, -1.0, 1.0, seed=0)
    y = np.asarray(generator(x))
    assert y.shape == (2,) + shape
    assert -1.0 <= y.min() and y.max() <= 1.0  # tanh, like the input
    assert tuple(discriminator(x).shape) == (2,) + patches


def test_bad_shapes_raise_value_error():
    with pytest.raises(ValueError, match="multiples of 4"):
        cyclegan.build_generator((30, 30, 1))
    with pytest.raises(ValueError, match="image_shape"):
        cyclegan.build_discriminator((28, 28))


def test_adversarial_losses_by_hand():
    # LSGAN: G wants D(fake) = 1; D wants D(real) = 1 and D(fake) = 0
    d_fake = np.array([0.5, 1.0, -1.0], "float32")
    assert float(cyclegan.generator_adversarial_loss(d_fake)) == pytest.approx((0.25 + 0 + 4) / 3)
    d_real = np.array([1.0, 0.0], "float32")
    d_fake = np.array([0.0, 1.0], "float32")
    assert float(cyclegan.discriminator_adversarial_loss(d_real, d_fake)) == pytest.approx(0.5 * (0.5 + 0.5))
    assert float(cyclegan.discriminator_adversarial_loss(np.ones(3), np.zeros(3))) == 0.0


def test_cycle_and_identity_losses_by_hand():
    real = np.array([0.0, 1.0], "float32")
    other = np.array([0.5, -1.0], "float32")
    assert float(cyclegan.cycle_consistency_loss(real, other)) == pytest.approx(10 * (0.5 + 2.0) / 2)
    assert float(cyclegan.identity_loss(real, other)) == pytest.approx(5 * (0.5 + 2.0) / 2)
    assert float(cyclegan.cycle_consistency_loss(real, other, lambda_cycle=1.0)) == pytest.approx(1.25)
    assert float(cyclegan.identity_loss(real, real)) == 0.0


def test_domain_pair_dataset(sample):
    sneakers = cyclegan.domain_images(sample, "sneaker")
    boots = cyclegan.domain_images(sample, "ankle boot")
    assert len(sneakers) == np.sum(sample.y_train == 7) and len(boots) == np.sum(sample.y_train == 9)
    ds = cyclegan.domain_pair_dataset(sneakers, boots[:30], batch_size=16, seed=0)
    batches = list(ds)
    assert len(batches) == len(sneakers) // 16  # the smaller domain repeats
    a, b = batches[0]
    assert a.shape == b.shape == (16, 28, 28, 1) and a.dtype == tf.float32
    assert -1.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(b)) <= 1.0
    again = list(cyclegan.domain_pair_dataset(sneakers, boots[:30], batch_size=16, seed=0))[0]
    np.testing.assert_array_equal(a, again[0])  # seeded
    with pytest.raises(ValueError, match="same image shape"):
        cyclegan.domain_pair_dataset(sneakers, np.zeros((10, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        cyclegan.domain_pair_dataset(sneakers, boots[:8], batch_size=16)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        cyclegan.domain_pair_dataset(sneakers / 255.0 * 3, boots)


def test_training_steps_lower_the_cycle_loss(sample):
    tf.keras.utils.set_random_seed(0)
    sneakers = cyclegan.domain_images(sample, "sneaker")
    boots = cyclegan.domain_images(sample, "ankle boot")
    trainer = cyclegan.build_cyclegan(disc_filters=8, learning_rate=2e-3, **TINY)
    trainer.compile(run_eagerly=True,  # a few eager steps beat tracing the big step function
                    g_optimizer=tf.keras.optimizers.Adam(2e-3, beta_1=0.5),
                    d_optimizer=tf.keras.optimizers.Adam(2e-3, beta_1=0.5))
    a = data.as_float(sneakers[:32], "tanh")
    b = data.as_float(boots[:32], "tanh")

    def cycle():
        return float(cyclegan.cycle_consistency_loss(a, trainer.generator_ba(trainer.generator_ab(a)))
                     + cyclegan.cycle_consistency_loss(b, trainer.generator_ab(trainer.generator_ba(b))))

    before = cycle()
    history = trainer.fit(cyclegan.domain_pair_dataset(sneakers, boots, batch_size=16, seed=0),
                          epochs=1, verbose=0)
    assert set(history.history) == {"g_loss", "d_loss", "adversarial_loss", "cycle_loss", "identity_loss"}
    assert cycle() < 0.7 * before

    out = trainer.translate(sneakers[:3])
    assert out.shape == (3, 28, 28, 1) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert trainer.translate(boots[:3], direction="b2a").shape == (3, 28, 28, 1)
    with pytest.raises(ValueError, match="direction"):
        trainer.translate(sneakers[:3], direction="sideways")
