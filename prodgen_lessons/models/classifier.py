"""A small Fashion-MNIST classifier, the judge behind the course's evaluation metrics.

The generative models are scored in this network's feature space (a FID-like distance and
class-conditional accuracy of generated images), so it lives apart from the generators and is
never trained on generated data.

Architecture (about 0.24 M parameters): three conv blocks (Conv-BatchNorm-ReLU, max-pool,
dropout 0.1) -> Dense(128, name="features") -> Dropout(0.3) -> Dense(10, softmax). The
Fashion-MNIST README benchmark puts "2 conv + pool + batch norm" at about 93 %; the shipped one's
test accuracy is on its model card.
Input: images in [0, 1] of shape (28, 28, 1) (``make_dataset(..., scale="unit")`` or x / 255).

A FID measured in one network's features can reward a generator tuned to that network's quirks.
`build_classifier(architecture="allconv")` is a second, independent judge: no pooling and no
BatchNorm, strided convolutions with LeakyReLU, global average pooling and a 96-wide feature
layer, trained from another seed (the shipped "classifier2"). Every FID is reported in both.
"""

import keras
import numpy as np
from keras import layers

from prodgen_lessons.data import as_float, check_image_shape
from prodgen_lessons.models.gan import batch_normalization

FEATURES_LAYER = "features"


ARCHITECTURES = ("cnn", "allconv")


def build_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=128, dropout=0.1,
                     head_dropout=0.3, architecture="cnn"):
    """Return an uncompiled classifier with a penultimate Dense layer named "features":
    architecture "cnn" (the course's judge) or "allconv" (the independent second judge)."""
    image_shape = check_image_shape(image_shape)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if architecture == "allconv":
        return _build_allconv(image_shape, num_classes, head_dropout)
    inputs = keras.Input(shape=image_shape, name="image")
    x = inputs
    for filters in (32, 64, 128):
        # No bias before BatchNorm: its beta does the same job.
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        # momentum 0.9: moving statistics settle within ~50 steps, so short runs evaluate well
        x = batch_normalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)  # 28 -> 14 -> 7 -> 3
        x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(head_dropout)(features)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="classifier")


def _build_allconv(image_shape, num_classes, head_dropout, feature_dim=96):
    """Strided 3x3 convolutions (28 -> 14 -> 7), LeakyReLU, global average pooling."""
    inputs = keras.Input(shape=image_shape, name="image")
    x = inputs
    for filters, stride in ((48, 1), (48, 2), (96, 1), (96, 2), (160, 1)):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        x = layers.LeakyReLU(0.1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(head_dropout)(features)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="classifier_allconv")


def feature_extractor(classifier):
    """A model sharing the classifier's weights that outputs the "features" layer activations."""
    try:
        features = classifier.get_layer(FEATURES_LAYER).output
    except ValueError as err:
        raise ValueError(
            f"classifier has no layer named {FEATURES_LAYER!r}; build it with build_classifier()"
        ) from err
    return keras.Model(classifier.inputs, features, name="classifier_features")


def build_compiled_classifier(image_shape=(28, 28, 1), latent_dim=None, num_classes=10,
                              learning_rate=2e-3, decay_steps=None, **options):
    """`build_classifier`, compiled with Adam whose learning rate follows a cosine decay to 0 over
    `decay_steps` (fast early progress, a calm finish); constant without decay_steps.
    latent_dim is not used; every model builder takes it."""
    model = build_classifier(image_shape, num_classes, **options)
    lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps) if decay_steps else learning_rate
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train_classifier(data, epochs=8, batch_size=128, seed=0, learning_rate=2e-3,
                     validate=True, verbose=2):
    """Train ``build_classifier()`` on a `Catalogue` held in memory (e.g. ``load_fashion_mnist()``).

    Recipe: Adam whose learning rate decays along a cosine from 2e-3 to 0 over all the steps
    (fast early progress, a calm finish without tuning a schedule), batch 128, 8 epochs,
    no augmentation. With ``validate=True`` the test split is evaluated after every epoch,
    for reporting only: nothing is selected on it. Returns the trained, compiled classifier;
    ``classifier.history.history`` holds the per-epoch numbers.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    keras.utils.set_random_seed(seed)
    x_train, y_train = as_float(data.x_train), np.asarray(data.y_train).astype("int32")
    x_test, y_test = as_float(data.x_test), np.asarray(data.y_test).astype("int32")

    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    classifier = build_compiled_classifier(x_train.shape[1:], None, data.num_classes,
                                           learning_rate, decay_steps=steps)
    classifier.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        validation_data=(x_test, y_test) if validate else None,
        verbose=verbose,
    )
    return classifier
