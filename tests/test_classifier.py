"""The evaluation classifier (prodgen_lessons.models.classifier). The >= 92 % test accuracy of the
full recipe is shown by the pretrained model; here it trains briefly on the bundled sample."""

import numpy as np
import pytest

from prodgen_lessons.models import classifier as clf


def test_shapes_and_features_layer():
    model = clf.build_classifier()
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.get_layer("features").units == 128
    features = clf.feature_extractor(model)
    out = np.asarray(features(x, training=False))
    assert out.shape == (3, 128) and out.min() >= 0.0  # ReLU features
    # shares the weights: same numbers as the classifier's own features layer
    assert features.get_layer("features") is model.get_layer("features")


def test_feature_extractor_needs_a_features_layer():
    import keras

    inputs = keras.Input((4,))
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="features"):
        clf.feature_extractor(other)


def test_brief_training_on_the_sample_beats_chance(sample):
    model = clf.train_classifier(sample, epochs=6, batch_size=50, seed=0, verbose=0)
    assert len(model.history.history["val_accuracy"]) == 6
    x = sample.x_test[..., None].astype("float32") / 255.0
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == sample.y_test))
    assert accuracy > 0.6  # chance is 0.1; 1,000 training images and 6 short epochs


def test_train_classifier_rejects_bad_arguments(sample):
    with pytest.raises(ValueError, match="epochs"):
        clf.train_classifier(sample, epochs=0)
