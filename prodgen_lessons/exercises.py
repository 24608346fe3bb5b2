"""Checks for the exercises in which students write code themselves.

    exercises.check(my_loss, models.gan.generator_loss, cases)

runs the student's function and the library's on the same inputs and says in one line whether
they agree, and if not, on which input and how: nothing raises, so a notebook runs on whatever
state the exercise is in. `diagnose` also names the typical mistake a wrong answer makes, and the
exercises on the core of a chapter have their own checks, which do the same:

- `check_gan_step`: one training step of a GAN with two gradient tapes (chapter 3);
- `check_reparameterise` and `check_negative_elbo`: the VAE's sampling trick and loss (chapter 4);
- `check_reverse_step`: one step of a diffusion model's reverse chain (chapter 8).
"""

import numpy as np


def _outcome(student, reference, cases, name, atol, rtol):
    """(True, message) when student(*args) equals reference(*args) on every case, else (False,
    message saying where), or (None, message) when the student's code is not written or raised."""
    for k, args in enumerate(cases, 1):
        try:
            got = student(*args)
        except NotImplementedError:
            return None, f"{name}: not written yet — replace `raise NotImplementedError` with your code"
        except Exception as err:  # the student's code failed: say how, do not stop the notebook
            return None, f"{name}: case {k} raised {type(err).__name__}: {err}"
        want = np.asarray(reference(*args), dtype=np.float64)
        got = np.asarray(np.float64(np.nan) if got is None else got, dtype=np.float64)
        if got.shape != want.shape:
            return False, f"{name}: case {k} gives shape {got.shape}, the answer has shape {want.shape}"
        if not np.allclose(got, want, atol=atol, rtol=rtol):
            return False, f"{name}: case {k} gives {np.round(got, 4)}, the answer is {np.round(want, 4)}"
    return True, f"{name}: correct on all {len(cases)} cases"


def check(student, reference, cases, name=None, atol=1e-4, rtol=1e-4):
    """True when student(*args) equals reference(*args) (to atol/rtol) for every args in `cases`;
    prints one line either way."""
    name = name or getattr(student, "__name__", "your function")
    ok, message = _outcome(student, reference, cases, name, atol, rtol)
    print(message)
    return bool(ok)


def diagnose(student, reference, cases, mistakes, name=None, atol=1e-4, rtol=1e-4):
    """`check`, and for a wrong answer the typical mistake it makes: `mistakes` maps a description
    to a function that makes that mistake; the first one that agrees with the student's function
    on every case is printed instead of the first wrong case."""
    name = name or getattr(student, "__name__", "your function")
    ok, message = _outcome(student, reference, cases, name, atol, rtol)
    if ok is False:
        for description, wrong in mistakes.items():
            if _outcome(student, wrong, cases, name, atol, rtol)[0]:
                message = f"{name}: {description}"
                break
    print(message)
    return bool(ok)


# ---------------------------------------------------------------------------------------------
# chapter 3: a GAN training step with two tapes


def gan_train_step(real, noise, generator, discriminator, g_optimizer, d_optimizer):
    """The answer: one discriminator update, then one generator update, both on `noise`, with the
    article's losses written on D's logits (softplus form, see models.gan). Returns (L_D, L_G)."""
    import tensorflow as tf
    from keras import ops

    with tf.GradientTape() as tape:
        d_real = discriminator(real, training=True)
        d_fake = discriminator(generator(noise, training=True), training=True)
        d_loss = ops.mean(ops.softplus(-d_real)) + ops.mean(ops.softplus(d_fake))
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
    with tf.GradientTape() as tape:   # a new tape: the generator's images must be made inside it
        g_loss = ops.mean(ops.softplus(-discriminator(generator(noise, training=True), training=True)))
    grads = tape.gradient(g_loss, generator.trainable_variables)
    g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    return d_loss, g_loss


def _gan_mistakes():
    """Steps that each make one typical mistake, to recognise a student's step by what it does."""
    import tensorflow as tf
    from keras import ops

    def step(d_loss_of, g_loss_of, g_input=lambda fake: fake):
        def train_step(real, noise, generator, discriminator, g_optimizer, d_optimizer):
            with tf.GradientTape() as tape:
                d_loss = d_loss_of(discriminator(real), discriminator(generator(noise)))
            d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                            discriminator.trainable_variables))
            with tf.GradientTape() as tape:
                g_loss = g_loss_of(discriminator(g_input(generator(noise))))
            g_optimizer.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables),
                                            generator.trainable_variables))
        return train_step

    d_right = lambda r, f: ops.mean(ops.softplus(-r)) + ops.mean(ops.softplus(f))  # noqa: E731
    g_right = lambda f: ops.mean(ops.softplus(-f))  # noqa: E731
    return {
        "the discriminator's loss has the wrong sign: D learns to call real photos fake and fakes real":
            step(lambda r, f: -d_right(r, f), g_right),
        "the discriminator's labels are swapped (real photos as 0, fakes as 1)":
            step(lambda r, f: ops.mean(ops.softplus(r)) + ops.mean(ops.softplus(-f)), g_right),
        "the generator's loss has the wrong sign: G makes its images easier for D to reject":
            step(d_right, lambda f: -g_right(f)),
        "the generator minimises log(1 - D(G(z))), the saturating loss; use -log D(G(z)) = softplus(-logit)":
            step(d_right, lambda f: -ops.mean(ops.softplus(f))),
    }


def _tiny_gan(seed):
    import keras

    keras.utils.set_random_seed(seed)
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(4)])
    discriminator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                                      keras.layers.Dense(1)])
    return generator, discriminator


def check_gan_step(train_step, name=None, seed=0):
    """Runs `train_step(real, noise, generator, discriminator, g_optimizer, d_optimizer)` once on
    two tiny networks with plain SGD and compares how far each network moved with the answer's
    step from the same weights; says which network went wrong and, if it can, which mistake."""
    import keras

    name = name or getattr(train_step, "__name__", "your step")
    rng = np.random.default_rng(seed)
    real = rng.normal(1.0, 0.5, (16, 4)).astype("float32")
    noise = rng.normal(size=(16, 3)).astype("float32")

    def run(step):
        generator, discriminator = _tiny_gan(seed)
        start = [np.concatenate([w.ravel() for w in net.get_weights()]) for net in (generator, discriminator)]
        error = None
        try:
            step(real, noise, generator, discriminator, keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001 (reported below)
            error = err
        moved = [np.concatenate([w.ravel() for w in net.get_weights()]) - s
                 for net, s in zip((generator, discriminator), start)]
        return moved[0], moved[1], error

    try:
        g_moved, d_moved, error = run(train_step)
    except NotImplementedError:
        print(f"{name}: not written yet — replace `raise NotImplementedError` with your code")
        return False
    g_want, d_want, _ = run(gan_train_step)
    same = lambda x, y: np.allclose(x, y, rtol=1e-3, atol=1e-6)  # noqa: E731

    if error is not None:
        if "No gradients" in str(error) and same(d_moved, d_want):
            print(f"{name}: the generator is detached — it got no gradient (None). Its images must be made "
                  "inside the generator's tape, not reused from the discriminator's tape or passed through "
                  "tf.stop_gradient")
        elif "No gradients" in str(error):
            print(f"{name}: the discriminator got no gradient (None): compute its loss inside its tape, "
                  "from discriminator(...) calls made there")
        elif "GradientTape" in str(error):
            print(f"{name}: one tape was asked for gradients twice ({error}); use one tape per network")
        else:
            print(f"{name}: raised {type(error).__name__}: {error}")
        return False
    if same(d_moved, d_want) and same(g_moved, g_want):
        print(f"{name}: correct — both networks moved exactly as in the answer's step")
        return True
    if not np.any(g_moved) and same(d_moved, d_want):
        print(f"{name}: the generator did not move: its gradients are zero or were not applied to "
              "generator.trainable_variables (a detached generator)")
        return False
    if not np.any(d_moved):
        print(f"{name}: the discriminator did not move: apply its gradients to discriminator.trainable_variables")
        return False
    for description, wrong in _gan_mistakes().items():
        g_wrong, d_wrong, _ = run(wrong)
        if same(d_moved, d_wrong) and same(g_moved, g_wrong):
            print(f"{name}: {description}")
            return False
    which = "discriminator" if not same(d_moved, d_want) else "generator"
    print(f"{name}: the {which} did not move as in the answer's step; check its loss and that it is "
          "computed inside its own tape")
    return False


# ---------------------------------------------------------------------------------------------
# chapter 4: the reparameterisation and the ELBO


def reparameterise(mu, log_var, eps):
    """The answer: z = mu + sigma * eps with sigma = exp(log_var / 2)."""
    from keras import ops

    return mu + ops.exp(0.5 * log_var) * eps


def check_reparameterise(student, name=None):
    """Checks `student(mu, log_var, eps) -> z` on TensorFlow tensors: the value, and that the
    gradients of a loss of z reach mu and log_var (the point of the trick)."""
    import tensorflow as tf

    name = name or getattr(student, "__name__", "your function")
    rng = np.random.default_rng(0)
    mu = tf.Variable(rng.normal(size=(3, 4)).astype("float32"))
    log_var = tf.Variable(rng.normal(size=(3, 4)).astype("float32"))
    eps = tf.constant(rng.normal(size=(3, 4)).astype("float32"))
    try:
        with tf.GradientTape() as tape:
            z = student(mu, log_var, eps)
            loss = tf.reduce_sum(tf.square(tf.cast(z, tf.float32))) if z is not None else None
        grads = tape.gradient(loss, [mu, log_var]) if loss is not None else [None, None]
        again = student(mu, log_var, eps)
    except NotImplementedError:
        print(f"{name}: not written yet — replace `raise NotImplementedError` with your code")
        return False
    except Exception as err:  # noqa: BLE001
        print(f"{name}: raised {type(err).__name__}: {err}")
        return False
    z, again = np.asarray(z, np.float64), np.asarray(again, np.float64)
    m, lv, e = (np.asarray(t, np.float64) for t in (mu, log_var, eps))
    candidates = {
        "right": m + np.exp(0.5 * lv) * e,
        "eps is multiplied by the variance exp(log_var), not the standard deviation exp(log_var / 2)":
            m + np.exp(lv) * e,
        "eps is multiplied by log_var itself; the standard deviation is exp(log_var / 2)": m + lv * e,
        "z = mu: the noise is missing, so the decoder never sees the spread of q(z|x)": m,
    }
    if z.shape != m.shape:
        print(f"{name}: z has shape {z.shape}, it should have mu's shape {m.shape}")
        return False
    if not np.allclose(z, again):
        print(f"{name}: two calls with the same eps give different z — your function draws its own noise. "
              "Use the eps it is given: z = mu + sigma * eps is then a differentiable function of mu and sigma")
        return False
    found = next((k for k, v in candidates.items() if np.allclose(z, v, atol=1e-5)), None)
    if found is None:
        print(f"{name}: z differs from mu + exp(log_var / 2) * eps, e.g. {z[0, 0]:.4f} instead of "
              f"{candidates['right'][0, 0]:.4f}")
        return False
    if found != "right":
        print(f"{name}: {found}")
        return False
    if grads[0] is None or grads[1] is None or not np.any(np.asarray(grads[1])):
        print(f"{name}: the value is right but no gradient reaches mu and log_var — z was computed outside "
              "TensorFlow (NumPy) or through tf.stop_gradient: without the noise path the encoder learns nothing "
              "from the reconstruction loss")
        return False
    print(f"{name}: correct — right values, and the gradients reach mu and log_var")
    return True


def _bce_per_image(x, logits):
    per_pixel = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    return per_pixel.reshape(len(x), -1)


def negative_elbo(x, logits, mu, log_var):
    """The answer, in NumPy: mean over the batch of [ -log p(x|z) (Bernoulli, summed over pixels)
    + KL(q(z|x) || N(0, I)) (closed form, summed over the latent dimensions) ]."""
    x, logits, mu, log_var = (np.asarray(t, np.float64) for t in (x, logits, mu, log_var))
    kl = -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=-1)
    return float(np.mean(_bce_per_image(x, logits).sum(1) + kl))


def _elbo_mistakes():
    def loss(recon="sum", kl="right", sign=1.0, kl_sign=1.0):
        def f(x, logits, mu, log_var):
            x, logits, mu, lv = (np.asarray(t, np.float64) for t in (x, logits, mu, log_var))
            bce = _bce_per_image(x, logits)
            rec = bce.sum(1) if recon == "sum" else bce.mean(1)
            terms = {"right": -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv), -1),
                     "reverse": 0.5 * np.sum(lv + (1 + mu**2) / np.exp(lv) - 1, -1),
                     "no half": -np.sum(1 + lv - mu**2 - np.exp(lv), -1),
                     "sigma": -0.5 * np.sum(1 + lv - mu**2 - np.exp(0.5 * lv), -1),
                     "mean": -0.5 * np.mean(1 + lv - mu**2 - np.exp(lv), -1)}
            return float(sign * np.mean(rec + kl_sign * terms[kl]))
        return f

    return {
        "the sign is wrong: this is the ELBO, which training maximises; the loss is its negative":
            loss(sign=-1.0),
        "the KL is subtracted; the loss is reconstruction + KL (the ELBO is minus both)": loss(kl_sign=-1.0),
        "the KL is in the wrong direction: KL(N(0, I) || q) instead of KL(q(z|x) || N(0, I))": loss(kl="reverse"),
        "the KL lacks its factor 1/2": loss(kl="no half"),
        "the KL uses sigma = exp(log_var / 2) where the formula has sigma^2 = exp(log_var)": loss(kl="sigma"),
        "the KL is averaged over the latent dimensions; it is a sum": loss(kl="mean"),
        "the reconstruction term is averaged over the pixels; -log p(x|z) is a sum over them, "
        "else the KL outweighs it 784-fold": loss(recon="mean"),
    }


def elbo_cases(seed=0):
    """Inputs for `check_negative_elbo`: (x, logits, mu, log_var) batches, as float32 arrays."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, d in ((2, 2), (3, 4), (5, 8)):
        x = rng.uniform(0, 1, (n, 4, 4, 1)).astype("float32")
        cases.append((x, rng.normal(0, 2, x.shape).astype("float32"), rng.normal(0, 1, (n, d)).astype("float32"),
                      rng.normal(0, 1, (n, d)).astype("float32")))
    return cases


def check_negative_elbo(student, name=None):
    """Checks `student(x, logits, mu, log_var) -> loss` against the negative ELBO, naming the
    usual mistakes (sign, KL direction or formula, averaging where the formula sums)."""
    return diagnose(student, negative_elbo, elbo_cases(), _elbo_mistakes(), name=name, rtol=1e-3)


# ---------------------------------------------------------------------------------------------
# chapter 8: one step of the reverse (denoising) chain


def reverse_step(x_t, t, eps_hat, z, betas):
    """The answer (DDPM, chapter 8's notation; t = 1..T, arrays indexed t - 1):
    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) * eps_hat) / sqrt(alpha_t) + sqrt(beta_t) z, z = 0 at t = 1."""
    betas = np.asarray(betas, np.float64)
    beta, abar = betas[t - 1], np.cumprod(1.0 - betas)[t - 1]
    mean = (x_t - beta / np.sqrt(1.0 - abar) * eps_hat) / np.sqrt(1.0 - beta)
    return mean + (np.sqrt(beta) * z if t > 1 else 0.0)


def _reverse_mistakes(betas):
    betas = np.asarray(betas, np.float64)
    abars = np.cumprod(1.0 - betas)

    def step(divide="alpha", coef="right", sign=-1.0, noise="sqrt", last_noise=False, index=-1):
        def f(x_t, t, eps_hat, z):
            i = t + index
            beta, abar = betas[i], abars[i]
            c = {"right": beta / np.sqrt(1 - abar), "no sqrt": beta / (1 - abar),
                 "forward": np.sqrt(1 - abar)}[coef]
            d = np.sqrt(1 - beta) if divide == "alpha" else np.sqrt(abar)
            sigma = {"sqrt": np.sqrt(beta), "beta": beta, "none": 0.0}[noise]
            return (x_t + sign * c * eps_hat) / d + (sigma * z if t > 1 or last_noise else 0.0)
        return f

    return {
        "divides by sqrt(abar_t); the reverse step divides by sqrt(alpha_t) = sqrt(1 - beta_t)": step(divide="abar"),
        "the noise estimate's coefficient is sqrt(1 - abar_t), the forward process's; the step's is "
        "beta_t / sqrt(1 - abar_t)": step(coef="forward"),
        "the noise estimate's coefficient lacks its square root: beta_t / sqrt(1 - abar_t)": step(coef="no sqrt"),
        "the noise estimate is added; it must be subtracted": step(sign=1.0),
        "the fresh noise is scaled by beta_t; its standard deviation is sqrt(beta_t)": step(noise="beta"),
        "no fresh noise: x_{t-1} needs + sqrt(beta_t) z for t > 1": step(noise="none"),
        "noise is added at the last step (t = 1): x_0 is the mean alone, z = 0": step(last_noise=True),
        "the step t reads betas[t], one step off: the arrays hold beta_1 .. beta_T at indices 0 .. T - 1":
            step(index=0),
    }


def reverse_step_cases(betas, seed=0):
    """Inputs (x_t, t, eps_hat, z) for `check_reverse_step`, at the first, a middle and the last step."""
    rng = np.random.default_rng(seed)
    steps = (len(betas) - 1, len(betas) // 2, 2, 1)  # t = T - 1 (so that t + 1 still exists), ..., 1
    return [(rng.normal(size=(2, 5)), t, rng.normal(size=(2, 5)), rng.normal(size=(2, 5))) for t in steps]


def check_reverse_step(student, betas, name=None):
    """Checks `student(x_t, t, eps_hat, z) -> x_{t-1}` against the DDPM step for schedule `betas`,
    naming the usual mistakes (a wrong coefficient, sign or noise term, an index one step off)."""
    return diagnose(student, lambda x, t, e, z: reverse_step(x, t, e, z, betas), reverse_step_cases(betas),
                    _reverse_mistakes(betas), name=name)
