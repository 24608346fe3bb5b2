"""Conditional GAN for product images (article 3.2, 5.4, 6.1, 6.3) -- the course's flagship model.

Article 3.2: G(z, c) and D(x, c) with
    L_G = -log D(G(z, c)),     L_D = -log D(x, c) - log(1 - D(G(z, c)))   (loss="bce").
The default recipe uses the hinge loss on D's logit l instead (loss="hinge", measured below):
    L_G = -l(G(z, c)),         L_D = max(0, 1 - l(x, c)) + max(0, 1 + l(G(z, c))).
Article 6.1 adds a "condition encoder" (here: a label Embedding) and a "condition loss" that makes
generated images obey the condition. We implement the condition loss as an auxiliary classifier
head on the discriminator (AC-GAN, Odena et al. 2017): D also predicts the category; D learns it on
real images, G is rewarded when D recognises the requested category on fakes:
    L_D += ac_weight * CE(class(x), c),     L_G += ac_weight * CE(class(G(z, c)), c).
That alone pays G most for the easiest, most typical product of each category. A twin head
(TAC-GAN, Gong et al. 2019) learns the categories from fakes, and G's reward is reduced by how
easily the twin recognises them:
    L_D += ac_weight * CE(twin(G(z, c)), c),   L_G -= ac_weight * twin_weight * CE(twin(G(z, c)), c).

How the discriminator sees c (argument `condition`):
- "concat": one-hot label maps appended to the image as extra channels (Mirza & Osindero 2014);
- "projection": logit = w.h(x) + embed(c).h(x) (Miyato & Koyama 2018), usually the better one.
Article 6.3: optional self-attention in both networks, and several conditions at once: here the
category plus the product's colour ("a red sneaker"), which `data.colour_of` measures exactly from
the pixels of the colour catalogue (`data.colour_catalogue`).

Default recipe (28x28x1, latent 64, G 7x7x128 -> 14x14x64 -> 28x28x1, batch 64, projection D
without dropout, with an AC head of weight 1 and its twin of weight 0.75, the hinge loss,
Adam(2e-4, 0.5), G and D updated together from one forward pass, samples from a
moving average of G's weights, bfloat16 compute on CPUs that have it): see `build_cgan`.
Time-to-quality on 2 CPU cores: benchmarks/RESULTS.md.

What each of these choices is worth, measured: benchmarks/README.md.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import COLOURS, as_float, check_image_shape, colour_of
from prodgen_lessons.models.attention import SelfAttention
from prodgen_lessons.models.convnets import discriminator_body, generator_body
from prodgen_lessons.models.gan import (
    GAN,
    discriminator_accuracy,
    dtype_policy,
    gan_optimizers,
    in_batches,
    resolve_precision,
)

DEFAULT_BATCH_SIZE = 64


def _cardinalities(num_classes, num_colours):
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if num_colours not in (0, None) and int(num_colours) < 2:
        raise ValueError(f"num_colours must be 0 (no colour condition) or >= 2, got {num_colours}")
    return [int(num_classes)] + ([int(num_colours)] if num_colours else [])


def _condition_inputs(cards):
    names = ["label", "colour"]
    return [keras.Input((), dtype="int32", name=names[i]) for i in range(len(cards))]


def build_generator(latent_dim=64, image_shape=(28, 28, 1), num_classes=10, num_colours=0,
                    combine="concat", embed_dim=None, base_filters=64, attention=False):
    """G([z, label(, colour)]) -> image in [-1, 1].

    The condition encoder is an Embedding per condition; `combine="concat"` appends the embeddings
    to z, `combine="multiply"` multiplies z by them (embed_dim is then latent_dim).
    """
    image_shape = check_image_shape(image_shape)
    cards = _cardinalities(num_classes, num_colours)
    if combine not in ("concat", "multiply"):
        raise ValueError(f'combine must be "concat" or "multiply", got {combine!r}')
    if combine == "multiply":
        embed_dim = latent_dim
    embed_dim = int(embed_dim or 32)
    z = keras.Input((latent_dim,), name="z")
    conds = _condition_inputs(cards)
    embeddings = [layers.Embedding(k, embed_dim, name=f"{c.name}_embedding")(c)
                  for k, c in zip(cards, conds)]
    if combine == "concat":
        x = layers.Concatenate()([z] + embeddings)
    else:
        x = z
        for e in embeddings:
            x = layers.Multiply()([x, e])
    att = SelfAttention(name="self_attention") if attention else None
    image = generator_body(x, image_shape, base_filters, attention=att)
    return keras.Model([z] + conds, image, name="cgan_generator")


def build_discriminator(image_shape=(28, 28, 1), num_classes=10, num_colours=0,
                        condition="projection", ac=True, twin=False, base_filters=64, dropout=0.0,
                        attention=False, hidden=0):
    """D([image, label(, colour)]) -> logit, or [logit, class logits(, colour logits)] when ac=True;
    twin=True (needs ac) appends a twin classifier head per condition, trained on fakes (TAC-GAN).
    hidden > 0: a fully connected layer of that many units on the features (the DCGAN's choice)."""
    image_shape = check_image_shape(image_shape)
    cards = _cardinalities(num_classes, num_colours)
    if condition not in ("concat", "projection"):
        raise ValueError(f'condition must be "concat" or "projection", got {condition!r}')
    if twin and not ac:
        raise ValueError("twin=True needs the auxiliary classifier (ac=True)")
    image = keras.Input(image_shape, name="image")
    conds = _condition_inputs(cards)
    x = image
    if condition == "concat":
        ones = ops.ones_like(image[..., :1])  # (B, H, W, 1)
        # (B, 1, 1, k) * (B, H, W, 1) -> one-hot label map (B, H, W, k)
        maps = [ops.one_hot(c, k)[:, None, None, :] * ones for k, c in zip(cards, conds)]
        x = layers.Concatenate()([image] + maps)
    att = SelfAttention(name="self_attention") if attention else None
    h = discriminator_body(x, image_shape, base_filters, dropout, attention=att, hidden=hidden)
    logit = layers.Dense(1, name="linear")(h)
    if condition == "projection":
        dim = h.shape[-1]
        for k, c in zip(cards, conds):
            e = layers.Embedding(k, dim, name=f"{c.name}_projection")(c)
            logit = logit + ops.sum(e * h, axis=-1, keepdims=True)
    outputs = [logit]
    if ac:
        outputs += [layers.Dense(k, name=f"{c.name}_classifier")(h) for k, c in zip(cards, conds)]
    if twin:
        outputs += [layers.Dense(k, name=f"{c.name}_twin")(h) for k, c in zip(cards, conds)]
    return keras.Model([image] + conds, outputs if ac else logit, name="cgan_discriminator")


def _split(d_out, num_conditions=1):
    """Discriminator output -> (logit, [class logits per condition], [twin logits per condition])."""
    if not isinstance(d_out, (list, tuple)):
        return d_out, [], []
    return d_out[0], list(d_out[1:1 + num_conditions]), list(d_out[1 + num_conditions:])


def _ce(targets, logits):
    return ops.mean(keras.losses.sparse_categorical_crossentropy(targets, ops.cast(logits, "float32"),
                                                                 from_logits=True))


class CGAN(GAN):
    """Conditional GAN trainer; data = (images in [-1, 1], int labels).

    loss: "hinge" (default, `hinge_discriminator_loss`) or "bce", the article's cross-entropy losses
    of 3.2. label_smoothing: one-sided (real targets 1 - s), for "bce" only, since the hinge has no
    targets to smooth. ac_weight: weight of the condition loss
    (needs a discriminator built with ac=True; 0 = plain cGAN of article 3.2).
    twin_weight (needs a discriminator built with twin=True): the condition loss alone pays G for
    images D's classifier is *sure* about, so G drifts to each category's most typical product.
    A twin classifier learns the conditions from fakes, and G's condition loss becomes
    CE(classifier(fake), c) - twin_weight * CE(twin(fake), c): with weight 1 it is small when fakes
    are as easy to classify as real images, no easier (TAC-GAN, Gong et al. 2019).
    """

    def __init__(self, generator, discriminator, latent_dim=None, loss="hinge", label_smoothing=0.0,
                 ac_weight=1.0, twin_weight=0.0, **kwargs):
        super().__init__(generator, discriminator, latent_dim=latent_dim, loss=loss,
                         label_smoothing=label_smoothing, **kwargs)
        self.num_conditions = len(generator.inputs) - 1
        if self.num_conditions < 1:
            raise ValueError("CGAN needs a generator with inputs [z, label, ...]; "
                             "use GAN/DCGAN for an unconditional one")
        self.cardinalities = [int(l.input_dim) for l in generator.layers
                              if isinstance(l, layers.Embedding)][: self.num_conditions]
        self.num_classes = self.cardinalities[0]
        has_ac = len(discriminator.outputs) > 1
        if ac_weight and not has_ac:
            raise ValueError(f"ac_weight={ac_weight} needs a discriminator with an auxiliary "
                             "classifier (build_discriminator(ac=True)); or pass ac_weight=0")
        has_twin = len(discriminator.outputs) > 1 + self.num_conditions
        if twin_weight and not has_twin:
            raise ValueError(f"twin_weight={twin_weight} needs a discriminator with a twin classifier "
                             "(build_discriminator(twin=True)); or pass twin_weight=0")
        self.ac_weight = float(ac_weight) if has_ac else 0.0
        self.twin_weight = float(twin_weight)
        self.ac_loss_tracker = keras.metrics.Mean(name="ac_loss")
        self.ac_acc_tracker = keras.metrics.Mean(name="ac_acc")

    @property
    def metrics(self):
        return super().metrics + [self.ac_loss_tracker, self.ac_acc_tracker]

    def _conditions(self, images, labels):
        """The list of condition tensors for a real batch (overridden for several conditions)."""
        return [tf.cast(labels, "int32")]

    def _condition_loss(self, cls_logits, conds):
        return sum(_ce(c, l) for c, l in zip(conds, cls_logits)) if cls_logits else 0.0

    def train_step(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("CGAN needs a dataset of (images, labels)")
        real, labels = data[0], data[1]
        batch_size = tf.shape(real)[0]
        conds = self._conditions(real, labels)

        # One forward pass serves both players (as in the TF DCGAN tutorial): G draws the fakes
        # once, and D's verdict on them gives both losses. Both networks then step together,
        # which saves the second pass through G that alternating steps (GAN.train_step) need.
        z = self._noise(batch_size)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator([z] + conds, training=True)
            n = len(conds)
            d_real, cls_real, _ = _split(self.discriminator([real] + conds, training=True), n)
            d_fake, cls_fake, twin_fake = _split(self.discriminator([fake] + conds, training=True), n)
            # the adversarial game: D tells real from fake, G tries to fool it
            d_loss, g_loss = self._d_loss(d_real, d_fake), self._g_loss(d_fake)
            # D's auxiliary classifier learns the conditions on real images, its twin (if any) on fakes
            ac_loss = self._condition_loss(cls_real, conds)
            twin_loss = self._condition_loss(twin_fake, conds)
            d_total = self.d_optimizer.scale_loss(d_loss + self.ac_weight * (ac_loss + twin_loss))
            # G also makes D's classifier see the requested condition (no more easily than real
            # images show it, when there is a twin)
            g_total = self.g_optimizer.scale_loss(g_loss + self.ac_weight * (
                self._condition_loss(cls_fake, conds) - self.twin_weight * twin_loss))
        d_grads = d_tape.gradient(d_total, self.discriminator.trainable_variables)
        g_grads = g_tape.gradient(g_total, self.generator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_tracker.update_state(discriminator_accuracy(d_real, d_fake))
        if cls_real:
            self.ac_loss_tracker.update_state(ac_loss)
            predicted = ops.cast(ops.argmax(cls_fake[0], axis=-1), "int32")
            acc = ops.mean(ops.cast(predicted == conds[0], "float32"))
            self.ac_acc_tracker.update_state(acc)  # D's classifier on fakes: condition compliance
        return {m.name: m.result() for m in self.metrics}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _labels(self, n, labels, cardinality, what="labels"):
        if labels is None:
            return np.arange(n, dtype="int32") % cardinality
        labels = np.broadcast_to(np.asarray(labels, dtype="int64"), (n,)).astype("int32")
        if labels.min() < 0 or labels.max() >= cardinality:
            raise ValueError(f"{what} must be in [0, {cardinality - 1}], got {labels.min()}..{labels.max()}")
        return labels

    def sample(self, n, labels=None, seed=0):
        """n images in [0, 1]; labels: int array (or one int), None = 0, 1, ..., 9, 0, 1, ..."""
        if self.num_conditions != 1:
            raise ValueError("this generator takes several conditions; use MultiConditionCGAN.sample")
        n = int(n)
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        labels = self._labels(n, labels, self.num_classes)
        with self.averaged_generator() as generator:
            return as_float(in_batches(generator, [z, labels]), "unit", given="tanh")


# ---------------------------------------------------------------------------------------------
# several conditions: category + colour, the colour measured from the pixels


class MultiConditionCGAN(CGAN):
    """cGAN with two conditions: category and colour (article 6.3 "multi-condition input"), for
    RGB products on white such as the colour catalogue's.

    The colour of each real image is measured on the fly from its pixels (`data.colour_of`: the
    palette colour of its ink), so the dataset stays (images, labels).
    """

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if self.num_conditions != 2 or self.cardinalities[1] != len(COLOURS):
            raise ValueError(f"MultiConditionCGAN needs a generator built with num_colours={len(COLOURS)}")

    def _conditions(self, images, labels):
        colours = tf.numpy_function(lambda x: colour_of(x, given="tanh"), [images], tf.int32)
        colours.set_shape(labels.shape)
        return [tf.cast(labels, "int32"), colours]

    def sample(self, n, labels=None, colours=None, seed=0):
        """labels None -> cycle through the categories; colours (indices into `data.COLOURS`)
        None -> cycle through the palette, a step per round of categories."""
        n = int(n)
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        labels = self._labels(n, labels, self.num_classes)
        if colours is None:
            colours = (np.arange(n) // self.num_classes) % len(COLOURS)
        colours = self._labels(n, colours, len(COLOURS), what="colours")
        with self.averaged_generator() as generator:
            return as_float(in_batches(generator, [z, labels, colours]), "unit", given="tanh")

    def colour_compliance(self, n=1000, seed=0):
        """Fraction of `n` samples (random categories and colours) whose measured colour is the
        one asked for."""
        rng = np.random.default_rng(seed + 1)
        labels, colours = rng.integers(0, self.num_classes, n), rng.integers(0, len(COLOURS), n)
        return float(np.mean(colour_of(self.sample(n, labels=labels, colours=colours, seed=seed)) == colours))


# ---------------------------------------------------------------------------------------------
# the recipe


def build_cgan(image_shape=(28, 28, 1), latent_dim=64, num_classes=10, colour=False, condition="projection", attention=False, ac_weight=1.0,
               twin_weight=0.75, loss="hinge", label_smoothing=0.0, base_filters=64, learning_rate=2e-4,
               dropout=0.0, ema=0.999, precision="auto", hidden=0):
    """The course's default cGAN, compiled and ready for `fit(make_dataset(..., batch_size=64))`.

    colour=True gives a MultiConditionCGAN: category and colour (RGB images, `data.COLOURS`).
    ema: G's optimiser keeps an exponential moving average of G's weights with this momentum
    (`WeightAveragingAdam`); `sample` and the G that `fit` leaves use the average (Yazici et al.
    2019). None or 0 switches it off.
    twin_weight > 0 adds the twin classifier of TAC-GAN (see `CGAN`); it needs ac_weight > 0.
    hidden > 0 adds a fully connected layer of that many units to D; learning_rate may be a pair
    (G's, D's), as the DCGAN's (1e-3, 2e-4).
    loss: "hinge" or "bce" (the article's, where `label_smoothing` applies); see `CGAN`.
    precision: "auto" computes in bfloat16 (weights stay float32) on a CPU that multiplies
    bfloat16 in hardware, else in float32, unless a global policy was set (`resolve_precision`);
    or "float32", "mixed_bfloat16", "mixed_float16".
    """
    if twin_weight and not ac_weight:
        raise ValueError(f"twin_weight={twin_weight} needs the auxiliary classifier (ac_weight > 0); "
                         "pass twin_weight=0 with ac_weight=0")
    if colour and check_image_shape(image_shape)[-1] != 3:
        raise ValueError(f"colour=True needs RGB images (height, width, 3), got {image_shape!r}")
    num_colours = len(COLOURS) if colour else 0
    with dtype_policy(resolve_precision(precision)):
        generator = build_generator(latent_dim, image_shape, num_classes, num_colours,
                                    base_filters=base_filters, attention=attention)
        discriminator = build_discriminator(image_shape, num_classes, num_colours, condition=condition,
                                            ac=ac_weight > 0, twin=twin_weight > 0, base_filters=base_filters,
                                            dropout=dropout, attention=attention, hidden=hidden)
        if colour:
            trainer = MultiConditionCGAN(generator, discriminator, ac_weight=ac_weight,
                                         twin_weight=twin_weight, loss=loss, label_smoothing=label_smoothing)
        else:
            trainer = CGAN(generator, discriminator, ac_weight=ac_weight, twin_weight=twin_weight,
                           loss=loss, label_smoothing=label_smoothing)
        g_optimizer, d_optimizer = gan_optimizers(learning_rate, ema)
        trainer.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    return trainer
