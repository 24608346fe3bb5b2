"""A conditional diffusion model for product images (Ho et al. 2020; Karras et al. 2022, "EDM").

Training takes a real image y in [-1, 1], adds Gaussian noise of a random level sigma,
x = y + sigma * n, and teaches a denoiser D(x; sigma, c) to give y back, told the category c.
Sampling starts from pure noise at sigma_max = 80 and follows the probability-flow ODE

    dx / dsigma = (x - D(x; sigma, c)) / sigma

down to sigma = 0. The path is deterministic, so a good ODE solver can take large steps: `sample`
uses Heun's method (Euler's step, then the slope at its end point averaged with the slope at its
start) on the noise levels of `noise_levels`, or plain Euler steps (`sampler="euler"`, which is the
deterministic DDIM update, Song et al. 2021, written in sigma).

The parameterisation is EDM's. The U-Net F never sees x or predicts y directly:

    D(x; sigma, c) = c_skip * x + c_out * F(c_in * x; c_noise, c)
    c_in = 1 / sqrt(sigma^2 + sigma_data^2)          (F's input has unit variance at every sigma)
    c_skip = sigma_data^2 / (sigma^2 + sigma_data^2),  c_out = sigma * sigma_data * c_in,
    c_noise = ln(sigma) / 4

c_skip and c_out make F's training target (y - c_skip * x) / c_out unit-variance at every sigma:
at low noise F predicts the noise, at high noise the image. The loss is the mean squared error
between F and that target (EDM's loss weighting lambda(sigma) = 1 / c_out^2 then cancels), with
ln sigma ~ N(p_mean, p_std^2): most training happens at the middle noise levels, where the
denoiser decides what the product is.

Classifier-free guidance (Ho & Salimans 2022): during training the category is replaced by a
"no category" token (index num_classes) for a fraction `condition_dropout` of each batch, so one
network is both conditional and unconditional. Sampling with guidance w uses

    D_w = D(x; sigma, c) + w * (D(x; sigma, c) - D(x; sigma, no category))

which pushes the image further towards what makes it a c. w = 0 is the conditional denoiser as
trained, and skips the unconditional pass.

Network passes per image: 2 * steps - 1 with Heun (the last step, to sigma = 0, is an Euler
step), steps with Euler; twice that with guidance (`Diffusion.passes`).

The network (`build_denoiser`): space-to-depth turns each 2x2 patch of pixels into one pixel with
4x the channels, so a 28x28 image is worked on at 14x14 and 7x7; a U-Net of GroupNorm residual
blocks, each told the noise level (sinusoidal features of c_noise through a small MLP) plus the
category (an embedding); skip connections from the way down to the way up; depth-to-space back
to the image. Any even image side works: the image is padded to a multiple of what the U-Net
halves and cropped again.

`Diffusion` trains through `fit` with its own `train_step`; the optimiser keeps a moving average
of the weights (`WeightAveragingAdam`), which sampling uses.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import as_float, check_image_shape
from prodgen_lessons.models.gan import (
    SAMPLE_BATCH,
    WeightAveragingAdam,
    _with_loss_scaling,
    dtype_policy,
    resolve_precision,
)

SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # EDM's noise levels for sampling
SAMPLERS = ("heun", "euler")


# ---------------------------------------------------------------------------------------------
# network


class NoiseLevelEmbedding(layers.Layer):
    """Sinusoidal features of the noise level c_noise (as transformers embed positions):
    sin and cos of c_noise times `dim / 2` frequencies from 1 to `max_frequency`. Computed in
    float32 whatever the policy: bfloat16 would blur nearby noise levels together."""

    def __init__(self, dim=32, max_frequency=64.0, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.dim, self.max_frequency = int(dim), float(max_frequency)

    def call(self, c_noise):
        frequencies = ops.exp(ops.linspace(0.0, math.log(self.max_frequency), self.dim // 2))
        angles = ops.cast(c_noise, "float32")[:, None] * frequencies[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_frequency": self.max_frequency}


class SpaceToDepth(layers.Layer):
    """(B, H, W, C) -> (B, H/2, W/2, 4C): each 2x2 patch of pixels becomes one pixel."""

    def call(self, x):
        return tf.nn.space_to_depth(x, 2)


class DepthToSpace(layers.Layer):
    """(B, H, W, 4C) -> (B, 2H, 2W, C), the inverse of `SpaceToDepth`."""

    def call(self, x):
        return tf.nn.depth_to_space(x, 2)


def residual_block(x, condition, width):
    """[GroupNorm -> swish -> 3x3 conv] twice, the condition added between them as a shift of
    every channel, around a skip connection (1x1 conv when the width changes)."""
    groups = math.gcd(8, width)
    skip = x if x.shape[-1] == width else layers.Conv2D(width, 1)(x)
    h = layers.Conv2D(width, 3, padding="same")(layers.Activation("swish")(layers.GroupNormalization(groups)(x)))
    h = h + layers.Dense(width)(condition)[:, None, None, :]
    h = layers.Conv2D(width, 3, padding="same")(layers.Activation("swish")(layers.GroupNormalization(groups)(h)))
    return skip + h


def build_denoiser(image_shape=(28, 28, 1), num_classes=10, widths=(48, 96), embed_dim=128, merge="concat",
                   middle=True):
    """F([noisy image * c_in, c_noise, label]) -> F's output, shape image_shape (float32).

    label num_classes means "no category" (the unconditional denoiser of guidance). The U-Net
    has one resolution per entry of `widths`, the first at half the image side. What a step
    costs: merge "concat" joins the way down's features to the way up's, "add" sums them (the
    block after them then works at its own width); middle=False drops the coarsest level's second
    block."""
    height, width, channels = check_image_shape(image_shape)
    if height % 2 or width % 2:
        raise ValueError(f"the diffusion model needs even image sides (space-to-depth), got {height}x{width}")
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be one or more positive channel counts, got {widths}")
    if merge not in ("concat", "add"):
        raise ValueError(f'merge must be "concat" or "add", got {merge!r}')
    multiple = 2 ** len(widths)  # space-to-depth halves once, every level below the first once more
    pad_h, pad_w = -height % multiple, -width % multiple

    image = keras.Input((height, width, channels), name="noisy_image")
    c_noise = keras.Input((), name="noise_level")
    label = keras.Input((), dtype="int32", name="label")
    noise = layers.Dense(embed_dim, activation="swish")(NoiseLevelEmbedding(name="noise_embedding")(c_noise))
    noise = layers.Dense(embed_dim)(noise)
    category = layers.Embedding(num_classes + 1, embed_dim, name="label_embedding")(label)
    condition = layers.Activation("swish")(noise + category)

    x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)))(image) if pad_h or pad_w else image
    x = layers.Conv2D(widths[0], 3, padding="same")(SpaceToDepth()(x))
    skips = []
    for i, w in enumerate(widths):  # down
        if i:
            x = layers.Conv2D(w, 3, strides=2, padding="same")(x)
        x = residual_block(x, condition, w)
        skips.append(x)
    if middle:
        x = residual_block(x, condition, widths[-1])  # the coarsest resolution, once more
    for i in reversed(range(len(widths))):  # up, each level given its twin from the way down
        x = layers.Concatenate()([x, skips[i]]) if merge == "concat" else x + skips[i]
        x = residual_block(x, condition, widths[i])
        if i:
            x = layers.Conv2D(widths[i - 1], 3, padding="same")(layers.UpSampling2D()(x))
    x = layers.Activation("swish")(layers.GroupNormalization(math.gcd(8, widths[0]))(x))
    # zero-initialised: F starts at 0, so D starts as c_skip * x, a sensible blur
    x = DepthToSpace()(layers.Conv2D(4 * channels, 3, padding="same", kernel_initializer="zeros")(x))
    if pad_h or pad_w:
        x = layers.Cropping2D(((0, pad_h), (0, pad_w)))(x)
    out = layers.Activation("linear", dtype="float32", name="output")(x)
    return keras.Model([image, c_noise, label], out, name="denoiser")


# ---------------------------------------------------------------------------------------------
# sampling schedule


def noise_levels(steps, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho=RHO):
    """sigma_0 = sigma_max > ... > sigma_{steps-1} = sigma_min, then 0: `steps` + 1 levels evenly
    spaced in sigma^(1/rho) (Karras et al. 2022, eq. 5), dense near 0, where fine detail is set."""
    steps = int(steps)
    ramp = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
    top, bottom = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return np.append((top + ramp * (bottom - top)) ** rho, 0.0)


def _steps(value):
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {value!r}")
    return int(value)


def _guidance(value):
    if not float(value) >= 0:
        raise ValueError(f"guidance must be >= 0 (0: the conditional denoiser as trained), got {value}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# trainer


class Diffusion(keras.Model):
    """Trains the denoiser on (images in [-1, 1], labels); `sample` draws with the ODE solver.

    sigma_data: the data's standard deviation (EDM's preconditioning); p_mean, p_std: the
    log-normal distribution of training noise levels; condition_dropout: the share of each batch
    trained without its category. steps, guidance and sampler change how `sample` draws only.
    """

    def __init__(self, denoiser, num_classes, sigma_data=0.7, p_mean=-1.2, p_std=1.2, condition_dropout=0.1,
                 steps=12, guidance=0.75, sampler="heun", **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= condition_dropout < 1.0:
            raise ValueError(f"condition_dropout must be in [0, 1), got {condition_dropout}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        self.denoiser = denoiser
        self.num_classes = int(num_classes)
        self.image_shape = tuple(denoiser.inputs[0].shape[1:])
        self.sigma_data, self.p_mean, self.p_std = float(sigma_data), float(p_mean), float(p_std)
        self.condition_dropout = float(condition_dropout)
        self.steps, self.guidance, self.sampler = _steps(steps), _guidance(guidance), sampler
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._compiled_network = None
        self.built = True  # the denoiser is built: save_weights works before the first fit

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=_with_loss_scaling(optimizer or WeightAveragingAdam(1e-3, ema_momentum=0.999)),
                        **kwargs)
        # slots now, eagerly: under a distribution strategy they cannot be made inside a step
        self.optimizer.build(self.denoiser.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def preconditioning(self, sigma):
        """(c_skip, c_out, c_in, c_noise) at noise level `sigma` (any shape)."""
        total = sigma**2 + self.sigma_data**2
        c_in = 1.0 / ops.sqrt(total)
        return self.sigma_data**2 / total, sigma * self.sigma_data * c_in, c_in, ops.log(sigma) / 4.0

    def training_sigmas(self, batch):
        """The noise levels a training batch is corrupted with, shape (batch, 1, 1, 1): log-normal,
        ln(sigma) ~ N(p_mean, p_std^2), most of them where the denoiser's task is neither trivial
        nor hopeless."""
        return tf.exp(self.p_mean + self.p_std * tf.random.normal((batch, 1, 1, 1)))

    def train_step(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("Diffusion needs a dataset of (images, labels)")
        images, labels = tf.cast(data[0], "float32"), tf.cast(data[1], "int32")
        batch = tf.shape(images)[0]
        sigma = self.training_sigmas(batch)
        noisy = images + sigma * tf.random.normal(tf.shape(images))
        # a share of the batch learns the unconditional denoiser that guidance needs
        dropped = tf.random.uniform((batch,)) < self.condition_dropout
        labels = tf.where(dropped, self.num_classes, labels)
        c_skip, c_out, c_in, c_noise = self.preconditioning(sigma)
        target = (images - c_skip * noisy) / c_out
        with tf.GradientTape() as tape:
            output = self.denoiser([c_in * noisy, tf.reshape(c_noise, (-1,)), labels], training=True)
            loss = ops.mean(ops.square(ops.cast(output, "float32") - target))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.denoiser.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}

    def call(self, inputs, training=False):
        return self.denoiser(inputs, training=training)

    # -- sampling -------------------------------------------------------------------------------

    def denoise(self, x, sigma, labels, guidance=0.0):
        """D(x; sigma, c) as float32 numpy for noisy images x (numpy), one noise level `sigma`;
        with guidance w > 0, D_c + w * (D_c - D_uncond), both from one batch through the network."""
        x = np.asarray(x, "float32")
        n = len(x)
        c_skip, c_out, c_in, c_noise = (float(v) for v in self.preconditioning(np.float64(sigma)))
        labels = np.asarray(labels, "int32")
        if guidance:
            x2 = np.concatenate([x, x])
            labels = np.concatenate([labels, np.full(n, self.num_classes, "int32")])
        else:
            x2 = x
        output = self.network(c_in * x2, np.full(len(x2), c_noise, "float32"), labels)
        denoised = c_skip * x2 + c_out * output
        if guidance:
            conditional, unconditional = denoised[:n], denoised[n:]
            return conditional + guidance * (conditional - unconditional)
        return denoised

    def network(self, x, c_noise, labels):
        """One pass of the network F over a batch, as float32 numpy (every pass `sample` makes
        goes through here). A compiled graph: 1.5 x as fast as calling the model eagerly."""
        if self._compiled_network is None:
            self._compiled_network = tf.function(lambda *inputs: self.denoiser(list(inputs), training=False),
                                                 reduce_retracing=True)
        return np.asarray(self._compiled_network(x, c_noise, labels), "float32")

    def passes(self, steps=None, guidance=None):
        """Network passes per image that `sample` makes with these settings."""
        steps = self.steps if steps is None else _steps(steps)
        guidance = self.guidance if guidance is None else _guidance(guidance)
        per_level = 2 * steps - 1 if self.sampler == "heun" else steps
        return per_level * (2 if guidance else 1)

    def _solve(self, x, labels, steps, guidance):
        sigmas = noise_levels(steps)
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
            slope = (x - self.denoise(x, sigma, labels, guidance)) / sigma
            x_next = x + (sigma_next - sigma) * slope
            if self.sampler == "heun" and sigma_next > 0:  # the slope at the end point corrects the step
                slope_next = (x_next - self.denoise(x_next, sigma_next, labels, guidance)) / sigma_next
                x_next = x + (sigma_next - sigma) * 0.5 * (slope + slope_next)
            x = x_next
        return x

    def _labels(self, n, labels):
        if labels is None:
            return np.arange(n) % self.num_classes
        labels = np.broadcast_to(np.asarray(labels, dtype="int64"), (n,)).astype("int32")
        if n and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes - 1}], got {labels.min()}..{labels.max()}")
        return labels

    def sample(self, n, labels=None, seed=0, steps=None, guidance=None):
        """n images in [0, 1], shape (n, H, W, C), of the requested categories (labels None ->
        0, 1, ..., 9, 0, 1, ...); same seed, same images. `steps` and `guidance` default to the
        trainer's own (`passes` says what they cost)."""
        n = int(n)
        labels = self._labels(n, labels)
        steps = self.steps if steps is None else _steps(steps)
        guidance = self.guidance if guidance is None else _guidance(guidance)
        noise = np.random.default_rng(seed).standard_normal((n, *self.image_shape)).astype("float32")
        with self.averaged_weights():
            parts = [self._solve(noise[i:i + SAMPLE_BATCH] * SIGMA_MAX, labels[i:i + SAMPLE_BATCH], steps, guidance)
                     for i in range(0, n, SAMPLE_BATCH)] or [noise]
        return as_float(np.clip(np.concatenate(parts), -1.0, 1.0), "unit", given="tanh")

    def averaged_weights(self):
        """A context in which the denoiser holds the moving average of its weights (once the
        optimiser has taken a step), so grids and scores taken during training show the network
        `fit` leaves behind."""
        return _AveragedWeights(self)


class _AveragedWeights:
    def __init__(self, trainer):
        opt = getattr(trainer, "optimizer", None)
        opt = getattr(opt, "inner_optimizer", opt)  # under loss scaling
        self.opt = opt if opt is not None and opt.use_ema and opt.built and int(opt.iterations.numpy()) > 0 else None
        self.variables = trainer.denoiser.trainable_variables

    def __enter__(self):
        if self.opt is not None:
            self.raw = [v.numpy() for v in self.variables]
            self.opt.finalize_variable_values(self.variables)

    def __exit__(self, *exc):
        if self.opt is not None:
            for v, value in zip(self.variables, self.raw):
                v.assign(value)
        return False


# ---------------------------------------------------------------------------------------------
# the recipe


def build_diffusion(image_shape=(28, 28, 1), latent_dim=None, num_classes=10, widths=(48, 96), embed_dim=128,
                    merge="concat", middle=True, sigma_data=0.7, p_mean=-1.2, p_std=1.2, condition_dropout=0.1,
                    learning_rate=1e-3, ema=0.999, steps=12, guidance=0.75, sampler="heun", precision="auto"):
    """The course's conditional diffusion model, compiled and ready for
    `fit(make_dataset(..., batch_size=64))` on (images in [-1, 1], labels).

    latent_dim is not used (the noise a diffusion model starts from has the image's shape); every
    model builder takes it. sigma_data 0.7: about the standard deviation of Fashion-MNIST's
    pixels in [-1, 1]. ema: momentum of the weights' moving average that sampling uses.
    precision: as in `gan.resolve_precision` ("auto": bfloat16 compute on a CPU that has it).
    """
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not 0.0 < ema < 1.0:
        raise ValueError(f"ema must be a momentum in (0, 1), got {ema}")
    with dtype_policy(resolve_precision(precision)):
        trainer = Diffusion(build_denoiser(image_shape, num_classes, widths, embed_dim, merge, middle), num_classes,
                            sigma_data=sigma_data, p_mean=p_mean, p_std=p_std, condition_dropout=condition_dropout,
                            steps=steps, guidance=guidance, sampler=sampler)
        trainer.compile(optimizer=WeightAveragingAdam(learning_rate, ema_momentum=ema))
    return trainer
