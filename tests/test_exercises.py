"""The exercise checks accept a right answer and name each typical mistake a student makes."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from prodgen_lessons import exercises


def said(capsys):
    return capsys.readouterr().out.strip()


def not_written(*args):
    raise NotImplementedError


# ----------------------------------------------------------------------------- check / diagnose


def test_check_reports_unwritten_failing_and_right(capsys):
    cases = [(np.array([1.0, 2.0]),)]
    assert not exercises.check(not_written, np.square, cases) and "not written yet" in said(capsys)
    assert not exercises.check(lambda x: [][1], np.square, cases) and "raised IndexError" in said(capsys)
    assert not exercises.check(lambda x: x + 1, np.square, cases) and "case 1 gives" in said(capsys)
    assert exercises.check(lambda x: x * x, np.square, cases) and "correct" in said(capsys)


def test_diagnose_names_the_matching_mistake_only(capsys):
    cases = [(np.array([1.0, 3.0]),)]
    mistakes = {"cubed": lambda x: x**3, "doubled": lambda x: 2 * x}
    assert not exercises.diagnose(lambda x: x + x, np.square, cases, mistakes)
    assert said(capsys).endswith("doubled")
    assert not exercises.diagnose(lambda x: x - 1, np.square, cases, mistakes)
    assert "case 1 gives" in said(capsys)  # an unknown mistake: where it goes wrong
    assert exercises.diagnose(lambda x: x * x, np.square, cases, mistakes) and "correct" in said(capsys)


# ----------------------------------------------------------------------------- chapter 3: GAN step


def nonsat_d(r, f):
    return ops.mean(ops.softplus(-r)) + ops.mean(ops.softplus(f))


def student_step(d_loss_of=nonsat_d, g_loss_of=lambda f: ops.mean(ops.softplus(-f)), detach=False,
                 reuse_fake=False, one_tape=False, apply_g=True):
    """A student's step, right by default, with one typical mistake switched on."""
    def train_step(real, noise, generator, discriminator, g_optimizer, d_optimizer):
        with tf.GradientTape(persistent=False) as tape:
            fake = generator(noise, training=True)
            d_loss = d_loss_of(discriminator(real, training=True), discriminator(fake, training=True))
            if one_tape:
                g_loss = g_loss_of(discriminator(fake, training=True))
        d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                        discriminator.trainable_variables))
        if one_tape:
            g_grads = tape.gradient(g_loss, generator.trainable_variables)
        else:
            with tf.GradientTape() as tape:
                new = fake if reuse_fake else generator(noise, training=True)
                g_loss = g_loss_of(discriminator(tf.stop_gradient(new) if detach else new, training=True))
            g_grads = tape.gradient(g_loss, generator.trainable_variables)
        if apply_g:
            g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        return d_loss, g_loss
    return train_step


@pytest.mark.parametrize("step, expected", [
    (student_step(), "correct"),
    (student_step(detach=True), "generator is detached"),
    (student_step(reuse_fake=True), "generator is detached"),
    (student_step(apply_g=False), "generator did not move"),
    (student_step(g_loss_of=lambda f: -ops.mean(ops.softplus(-f))), "generator's loss has the wrong sign"),
    (student_step(d_loss_of=lambda r, f: -nonsat_d(r, f)), "discriminator's loss has the wrong sign"),
    (student_step(d_loss_of=lambda r, f: ops.mean(ops.softplus(r)) + ops.mean(ops.softplus(-f))), "labels are swapped"),
    (student_step(g_loss_of=lambda f: -ops.mean(ops.softplus(f))), "saturating"),
    (student_step(one_tape=True), "one tape"),
    (not_written, "not written yet"),
])
def test_gan_step_check_names_the_mistake(step, expected, capsys):
    assert exercises.check_gan_step(step, name="step") == (expected == "correct")
    assert expected in said(capsys)


# ----------------------------------------------------------------------------- chapter 4: VAE


@pytest.mark.parametrize("fn, expected", [
    (lambda m, lv, e: m + ops.exp(0.5 * lv) * e, "correct"),
    (lambda m, lv, e: m + ops.exp(lv) * e, "variance"),
    (lambda m, lv, e: m + lv * e, "log_var itself"),
    (lambda m, lv, e: m, "noise is missing"),
    (lambda m, lv, e: np.asarray(m) + np.exp(0.5 * np.asarray(lv)) * np.asarray(e), "no gradient reaches"),
    (lambda m, lv, e: tf.stop_gradient(m + ops.exp(0.5 * lv) * e), "no gradient reaches"),
    (lambda m, lv, e: tf.random.normal(tf.shape(m), mean=m, stddev=ops.exp(0.5 * lv)), "draws its own noise"),
    (not_written, "not written yet"),
])
def test_reparameterise_check_names_the_mistake(fn, expected, capsys):
    assert exercises.check_reparameterise(fn, name="reparameterise") == (expected == "correct")
    assert expected in said(capsys)


def kl(mu, lv):
    return -0.5 * ops.sum(1 + lv - mu**2 - ops.exp(lv), axis=-1)


def recon(x, logits):  # the library's term: summed over pixels, averaged over the batch
    from prodgen_lessons.models import vae as vae_lib

    return vae_lib.reconstruction_loss(x, logits)


@pytest.mark.parametrize("fn, expected", [
    (lambda x, l, m, lv: recon(x, l) + ops.mean(kl(m, lv)), "correct"),
    (lambda x, l, m, lv: -(recon(x, l) + ops.mean(kl(m, lv))), "sign is wrong"),
    (lambda x, l, m, lv: recon(x, l) - ops.mean(kl(m, lv)), "KL is subtracted"),
    (lambda x, l, m, lv: recon(x, l) + ops.mean(0.5 * ops.sum(lv + (1 + m**2) / ops.exp(lv) - 1, -1)),
     "wrong direction"),
    (lambda x, l, m, lv: recon(x, l) + ops.mean(2 * kl(m, lv)), "factor 1/2"),
    (lambda x, l, m, lv: recon(x, l) + ops.mean(-0.5 * ops.sum(1 + lv - m**2 - ops.exp(0.5 * lv), -1)), "sigma"),
    (lambda x, l, m, lv: recon(x, l) + ops.mean(kl(m, lv) / m.shape[-1]), "averaged over the latent"),
    (lambda x, l, m, lv: recon(x, l) / 16 + ops.mean(kl(m, lv)), "averaged over the pixels"),
    (not_written, "not written yet"),
])
def test_negative_elbo_check_names_the_mistake(fn, expected, capsys):
    assert exercises.check_negative_elbo(fn, name="loss") == (expected == "correct")
    assert expected in said(capsys)


# ----------------------------------------------------------------------------- chapter 8: reverse step

T = 200
BETAS = np.linspace(1e-4, 0.05, T)
ALPHAS = 1 - BETAS
ABARS = np.cumprod(ALPHAS)


def ddpm_step(coef=lambda t: BETAS[t - 1] / np.sqrt(1 - ABARS[t - 1]), divide=lambda t: np.sqrt(ALPHAS[t - 1]),
              sigma=lambda t: np.sqrt(BETAS[t - 1]), sign=-1, last=False):
    def step(x_t, t, eps_hat, z):
        return (x_t + sign * coef(t) * eps_hat) / divide(t) + (sigma(t) * z if t > 1 or last else 0)
    return step


@pytest.mark.parametrize("fn, expected", [
    (ddpm_step(), "correct"),
    (ddpm_step(divide=lambda t: np.sqrt(ABARS[t - 1])), "divides by sqrt(abar_t)"),
    (ddpm_step(coef=lambda t: np.sqrt(1 - ABARS[t - 1])), "forward process"),
    (ddpm_step(coef=lambda t: BETAS[t - 1] / (1 - ABARS[t - 1])), "lacks its square root"),
    (ddpm_step(sign=+1), "must be subtracted"),
    (ddpm_step(sigma=lambda t: BETAS[t - 1]), "scaled by beta_t"),
    (ddpm_step(sigma=lambda t: 0.0), "no fresh noise"),
    (ddpm_step(last=True), "last step"),
    (ddpm_step(coef=lambda t: BETAS[t] / np.sqrt(1 - ABARS[t]), divide=lambda t: np.sqrt(ALPHAS[t]),
               sigma=lambda t: np.sqrt(BETAS[t])), "one step off"),
    (not_written, "not written yet"),
])
def test_reverse_step_check_names_the_mistake(fn, expected, capsys):
    assert exercises.check_reverse_step(fn, BETAS, name="step") == (expected == "correct")
    assert expected in said(capsys)
