"""The original GAN (article 3.1): an MLP generator, an MLP discriminator and the two losses.

The discriminator outputs a *logit* l, so D(x) = sigmoid(l). The article's losses are written
with softplus, which is the numerically stable form of their logs:

    -log sigmoid(l)     = softplus(-l)
    -log(1 - sigmoid(l)) = softplus(l)

so nothing overflows or returns -inf when D is very sure of itself. The hinge loss, which the
course's cGAN uses instead, works on the logit directly.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import as_float, check_image_shape


# ---------------------------------------------------------------------------------------------
# losses (inputs are discriminator logits)


def generator_loss(d_fake):
    """Non-saturating generator loss of the article, L_G = -log D(G(z)).

    With D = sigmoid(logit): L_G = mean(softplus(-d_fake)).
    """
    return ops.mean(ops.softplus(-ops.cast(d_fake, "float32")))


def minimax_generator_loss(d_fake):
    """Goodfellow's original (saturating) generator objective, minimised: L_G = log(1 - D(G(z))).

    With D = sigmoid(logit): log(1 - sigmoid(l)) = -softplus(l), so L_G = mean(-softplus(d_fake)).
    Its gradient vanishes when D rejects the fakes confidently (early training), which is why the
    article (and everybody) uses `generator_loss` instead.
    """
    return ops.mean(-ops.softplus(ops.cast(d_fake, "float32")))


def discriminator_loss(d_real, d_fake, label_smoothing=0.0):
    """Discriminator loss of the article, L_D = -log D(x) - log(1 - D(G(z))).

    With D = sigmoid(logit): L_D = mean(softplus(-d_real)) + mean(softplus(d_fake)).
    `label_smoothing` s > 0 is one-sided smoothing (Salimans et al. 2016): real images get the
    target 1 - s, i.e. the real term becomes (1 - s)·softplus(-d_real) + s·softplus(d_real);
    fakes keep the target 0.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    d_real = ops.cast(d_real, "float32")
    d_fake = ops.cast(d_fake, "float32")
    t = 1.0 - label_smoothing
    real = t * ops.softplus(-d_real) + (1.0 - t) * ops.softplus(d_real)
    return ops.mean(real) + ops.mean(ops.softplus(d_fake))


def hinge_discriminator_loss(d_real, d_fake):
    """Hinge loss (Lim & Ye 2017; Miyato & Koyama 2018):
    L_D = mean(relu(1 - d_real)) + mean(relu(1 + d_fake)).

    Logits already beyond the margin (real > 1, fake < -1) give no gradient, so D stops pushing
    on images it has settled and spends its capacity on the ones near the boundary.
    """
    d_real = ops.cast(d_real, "float32")
    d_fake = ops.cast(d_fake, "float32")
    return ops.mean(ops.relu(1.0 - d_real)) + ops.mean(ops.relu(1.0 + d_fake))


def hinge_generator_loss(d_fake):
    """The generator's side of the hinge loss: L_G = -mean(d_fake), raise D's score of the fakes."""
    return -ops.mean(ops.cast(d_fake, "float32"))


def discriminator_accuracy(d_real, d_fake):
    """Fraction of real logits > 0 and fake logits < 0 (a readable training signal)."""
    real = ops.cast(d_real > 0, "float32")
    fake = ops.cast(d_fake < 0, "float32")
    return 0.5 * (ops.mean(real) + ops.mean(fake))


# ---------------------------------------------------------------------------------------------
# networks


def batch_normalization(**kwargs):
    """BatchNormalization whose batch statistics are synchronised across replicas when the model
    is built under a strategy with several (workers, GPUs): every copy then holds the same moving
    statistics. On one device it is the plain layer."""
    strategy = tf.distribute.get_strategy()
    return layers.BatchNormalization(synchronized=strategy.num_replicas_in_sync > 1, **kwargs)


def build_generator(latent_dim=64, image_shape=(28, 28, 1), hidden=(256, 512)):
    """MLP generator z -> image in [-1, 1] (tanh), as in Goodfellow et al. 2014."""
    image_shape = check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = z
    for units in hidden:
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(int(np.prod(image_shape)), activation="tanh")(x)
    image = layers.Reshape(image_shape)(x)
    return keras.Model(z, image, name="generator")


def build_discriminator(image_shape=(28, 28, 1), hidden=(512, 256), dropout=0.3):
    """MLP discriminator image -> one logit (D(x) = sigmoid(logit))."""
    image_shape = check_image_shape(image_shape)
    image = keras.Input(image_shape, name="image")
    x = layers.Flatten()(image)
    for units in hidden:
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(dropout)(x)
    logit = layers.Dense(1, name="logit")(x)
    return keras.Model(image, logit, name="discriminator")


# ---------------------------------------------------------------------------------------------
# trainer


def _images_of(data):
    """The dataset yields (images, labels) or images only."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


SAMPLE_BATCH = 500  # images per forward pass when sampling: memory stays flat whatever n is


def in_batches(network, inputs, batch_size=SAMPLE_BATCH):
    """network(inputs, training=False) over slices of `batch_size` rows, as one numpy array.
    `inputs`: an array or a list of arrays with the same number of rows."""
    listed = isinstance(inputs, (list, tuple))
    parts = list(inputs) if listed else [inputs]
    starts = range(0, len(parts[0]), batch_size) or [0]  # an empty input still gives its shape
    return np.concatenate([np.asarray(network([x[i:i + batch_size] for x in parts] if listed
                                              else parts[0][i:i + batch_size], training=False))
                           for i in starts])


def _with_loss_scaling(optimizer):
    """float16 gradients underflow: under the "mixed_float16" policy wrap in a LossScaleOptimizer
    (train steps call optimizer.scale_loss, a no-op for ordinary optimisers)."""
    if (keras.mixed_precision.global_policy().name == "mixed_float16"
            and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def native_bfloat16_cpu():
    """True when this CPU multiplies bfloat16 in hardware (Intel AMX or AVX-512 BF16, read from
    /proc/cpuinfo); elsewhere bfloat16 is emulated and slower than float32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision="auto"):
    """The Keras dtype policy name for `precision`. "auto" keeps a global policy that was set on
    purpose (e.g. by `training.get_strategy(mixed_precision=True)`); otherwise it is
    "mixed_bfloat16" on a CPU-only machine whose CPU has native bfloat16, else "float32"."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if precision != "auto":
        return precision
    chosen = keras.mixed_precision.global_policy().name
    if chosen != "float32":
        return chosen
    cpu_only = not tf.config.list_physical_devices("GPU")
    return "mixed_bfloat16" if cpu_only and native_bfloat16_cpu() else "float32"


@contextlib.contextmanager
def dtype_policy(name):
    """Layers (and optimisers, for loss scaling) created in the block compute in policy `name`;
    the global policy is restored after, so other models are not affected. Weights stay float32."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


class WeightAveragingAdam(keras.optimizers.Adam):
    """Adam that also keeps an exponential moving average of the weights it trains (Keras's
    `use_ema`), with a momentum that warms up: min(ema_momentum, t / (t + 10)) at step t. A short
    run then averages about its last tenth, a long one its last 1 / (1 - ema_momentum) steps; a
    fixed 0.999 would keep the random start in the average for thousands of steps."""

    def __init__(self, learning_rate=2e-4, ema_momentum=0.999, **kwargs):
        kwargs.pop("use_ema", None)  # from get_config
        super().__init__(learning_rate, use_ema=True, ema_momentum=ema_momentum, **kwargs)

    def _update_model_variables_moving_average(self, trainable_variables):
        t = ops.cast(self.iterations, "float32")  # 0 at the first step: the average starts there
        momentum = ops.minimum(self.ema_momentum, t / (t + 10.0))
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                average.assign(momentum * average + (1.0 - momentum) * var)


LOSSES = ("bce", "hinge")


def gan_optimizers(learning_rate=2e-4, ema=None):
    """(G's, D's) Adam(learning_rate, beta_1=0.5); with `ema` a momentum, G's also keeps a moving
    average of G's weights (`WeightAveragingAdam`), which `sample` and the end of `fit` use.
    learning_rate: one rate for both, or a pair (G's, D's)."""
    if ema is not None and not 0.0 <= ema < 1.0:
        raise ValueError(f"ema must be a momentum in [0, 1) or None, got {ema}")
    g_rate, d_rate = learning_rate if isinstance(learning_rate, (list, tuple)) else (learning_rate,) * 2
    g = (WeightAveragingAdam(g_rate, beta_1=0.5, ema_momentum=ema) if ema
         else keras.optimizers.Adam(g_rate, beta_1=0.5))
    return g, keras.optimizers.Adam(d_rate, beta_1=0.5)


class GAN(keras.Model):
    """Trains a generator against a discriminator with the article's losses.

    loss: "bce" (the article's cross-entropy; `label_smoothing` one-sided, and `minimax=True`
    swaps in the saturating generator loss log(1 - D(G(z))) for comparison) or "hinge".
    """

    def __init__(self, generator, discriminator, latent_dim=None, minimax=False, loss="bce",
                 label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "hinge" and (label_smoothing or minimax):
            raise ValueError("label_smoothing and minimax need loss=\"bce\"; the hinge loss has no "
                             "targets to smooth and no saturating form")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim or generator.inputs[0].shape[-1])
        self.minimax = bool(minimax)
        self.loss = loss
        self.label_smoothing = float(label_smoothing)
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_acc_tracker = keras.metrics.Mean(name="d_acc")
        # The networks are already built; marking the trainer built lets save_weights work
        # before the first fit.
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Extra kwargs go to keras.Model.compile (e.g. jit_compile=True, steps_per_execution)."""
        super().compile(**kwargs)
        self.g_optimizer = _with_loss_scaling(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        self.d_optimizer = _with_loss_scaling(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        # Create the optimiser slots now, eagerly: under MirroredStrategy they cannot be created
        # lazily inside the first distributed step, and checkpoints then always hold them.
        self.build_optimizers()

    def _averaging_optimizer(self):
        """G's optimiser if it keeps a moving average of G's weights (`use_ema=True`) and has
        taken a step (before that its averages are zeros), else None."""
        opt = getattr(self, "g_optimizer", None)  # None before compile
        opt = getattr(opt, "inner_optimizer", opt)  # under loss scaling
        return opt if opt is not None and opt.use_ema and opt.built and int(opt.iterations.numpy()) > 0 else None

    def fit(self, *args, **kwargs):
        """keras.Model.fit; then G takes the averaged weights when its optimiser keeps them
        (Keras itself does this only for `self.optimizer`)."""
        history = super().fit(*args, **kwargs)
        opt = self._averaging_optimizer()
        if opt is not None:
            opt.finalize_variable_values(self.generator.trainable_variables)
        return history

    @contextlib.contextmanager
    def averaged_generator(self):
        """Within the block G holds the averaged weights (if G's optimiser keeps them): the
        generator `fit` would leave if it stopped now. `sample` uses it, so sample grids and
        scores taken during training show the averaged generator, as after training."""
        opt = self._averaging_optimizer()
        if opt is None:
            yield self.generator
            return
        variables = self.generator.trainable_variables
        raw = [v.numpy() for v in variables]
        opt.finalize_variable_values(variables)
        try:
            yield self.generator
        finally:
            for v, value in zip(variables, raw):
                v.assign(value)

    def build_optimizers(self):
        """Create the optimisers' slot variables now (needed before loading a checkpoint)."""
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.g_loss_tracker, self.d_loss_tracker, self.d_acc_tracker]

    def _noise(self, batch_size):
        return tf.random.normal((batch_size, self.latent_dim))

    def _d_loss(self, d_real, d_fake):
        if self.loss == "hinge":
            return hinge_discriminator_loss(d_real, d_fake)
        return discriminator_loss(d_real, d_fake, self.label_smoothing)

    def _g_loss(self, d_fake):
        if self.loss == "hinge":
            return hinge_generator_loss(d_fake)
        return minimax_generator_loss(d_fake) if self.minimax else generator_loss(d_fake)

    def train_step(self, data):
        real = _images_of(data)
        batch_size = tf.shape(real)[0]

        # 1) discriminator: push D(x) up and D(G(z)) down
        z = self._noise(batch_size)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_real = self.discriminator(real, training=True)
            d_fake = self.discriminator(fake, training=True)
            d_loss = self._d_loss(d_real, d_fake)
            scaled = self.d_optimizer.scale_loss(d_loss)
        grads = tape.gradient(scaled, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))

        # 2) generator: fresh noise, make D(G(z)) go up
        z = self._noise(batch_size)
        with tf.GradientTape() as tape:
            d_fake_g = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self._g_loss(d_fake_g)
            scaled = self.g_optimizer.scale_loss(g_loss)
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_tracker.update_state(discriminator_accuracy(d_real, d_fake))
        return {m.name: m.result() for m in self.metrics}

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def sample(self, n, labels=None, seed=0):
        """n images as float32 numpy in [0, 1], shape (n, H, W, C); same seed -> same images."""
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype("float32")
        with self.averaged_generator() as generator:
            return as_float(in_batches(generator, z), "unit", given="tanh")


def build_gan(image_shape=(28, 28, 1), latent_dim=64, num_classes=None, learning_rate=2e-4, **options):
    """The article's GAN with MLP networks, compiled (Adam, beta_1 0.5). num_classes is not used
    (the GAN is unconditional); every model builder takes the same arguments."""
    trainer = GAN(build_generator(latent_dim, image_shape), build_discriminator(image_shape), **options)
    trainer.compile(g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                    d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return trainer
