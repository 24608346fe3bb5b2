"""The conditional diffusion model: network shapes, the sampler's passes and guidance, a short
real training that lowers the denoising loss and resumes, a shop's folder, the multi-worker path,
and `--steps` on the command line."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from prodgen_lessons import cli, data, models, pretrained, training
from prodgen_lessons.models import diffusion

TINY = {"widths": [8, 16], "embed_dim": 16, "precision": "float32"}


def tiny(image_shape=(28, 28, 1), **options):
    return models.build("diffusion", image_shape=image_shape, **{**TINY, **options})


@pytest.mark.parametrize("shape, lean", [((28, 28, 1), False), ((16, 16, 3), False), ((30, 30, 3), True),
                                         ((20, 36, 3), True)])
def test_denoiser_keeps_any_even_image_shape(shape, lean):
    cheaper = dict(merge="add", middle=False) if lean else {}
    denoiser = diffusion.build_denoiser(shape, num_classes=4, widths=(8, 16), embed_dim=16, **cheaper)
    x = np.random.default_rng(0).standard_normal((3, *shape)).astype("float32")
    out = denoiser([x, np.zeros(3, "float32"), np.array([0, 3, 4], "int32")])  # 4: no category
    assert tuple(out.shape) == (3, *shape) and keras.backend.standardize_dtype(out.dtype) == "float32"
    with pytest.raises(ValueError, match="even image sides"):
        diffusion.build_denoiser((27, 27, 1), num_classes=4)


def test_noise_levels_fall_from_sigma_max_to_zero():
    levels = diffusion.noise_levels(12)
    assert len(levels) == 13 and levels[-1] == 0.0
    np.testing.assert_allclose(levels[[0, -2]], [diffusion.SIGMA_MAX, diffusion.SIGMA_MIN])
    assert np.all(np.diff(levels) < 0)
    np.testing.assert_allclose(diffusion.noise_levels(1), [diffusion.SIGMA_MAX, 0.0])


def test_preconditioning_gives_the_image_back_when_the_network_hits_its_target():
    trainer = tiny()
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, (4, 28, 28, 1))
    for sigma in (0.01, 1.0, 50.0):
        x = y + sigma * rng.standard_normal(y.shape)
        c_skip, c_out, c_in, _ = (float(v) for v in trainer.preconditioning(np.float64(sigma)))
        target = (y - c_skip * x) / c_out
        np.testing.assert_allclose(c_skip * x + c_out * target, y, atol=1e-9)  # D = y
        assert abs(c_in * np.sqrt(1.0 + trainer.sigma_data**2 / sigma**2) * sigma - 1.0) < 1e-9


class CountingNetwork:
    """Stands in for `trainer.network` and counts the images that pass through it."""

    def __init__(self, trainer):
        self.network, self.rows, self.calls = trainer.network, 0, []

    def __call__(self, x, c_noise, labels):
        self.rows += len(x)
        self.calls.append(np.asarray(labels).copy())
        return self.network(x, c_noise, labels)


@pytest.mark.parametrize("sampler, steps, guidance, passes", [
    ("heun", 3, 0.0, 5), ("heun", 3, 1.5, 10), ("euler", 3, 0.0, 3), ("euler", 4, 0.5, 8), ("heun", 1, 0.0, 1)])
def test_sampler_makes_the_stated_number_of_passes(sampler, steps, guidance, passes):
    trainer = tiny(sampler=sampler)
    counter = CountingNetwork(trainer)
    trainer.network = counter
    images = trainer.sample(6, seed=0, steps=steps, guidance=guidance)
    assert images.shape == (6, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
    assert trainer.passes(steps, guidance) == passes
    assert counter.rows == 6 * passes
    assert tiny().passes() == 46  # the recipe: 12 Heun steps with guidance


def test_guidance_zero_is_the_conditional_denoiser_and_w_follows_its_formula():
    trainer = tiny()
    rng = np.random.default_rng(0)
    for weight in trainer.denoiser.trainable_weights:  # from its zero output layer, so the category matters
        weight.assign(weight.numpy() + rng.normal(0.0, 0.05, weight.shape).astype("float32"))
    labels = np.arange(5, dtype="int32") % 10
    counter = CountingNetwork(trainer)
    trainer.network = counter
    guided_free = trainer.sample(5, labels=labels, seed=3, steps=2, guidance=0.0)
    assert all(np.array_equal(c, labels) for c in counter.calls)  # never the "no category" token

    # the same Heun steps written out with the conditional denoiser only
    x = np.random.default_rng(3).standard_normal((5, 28, 28, 1)).astype("float32") * diffusion.SIGMA_MAX
    sigmas = diffusion.noise_levels(2)
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - trainer.denoise(x, s, labels)) / s
        x_next = x + (s_next - s) * d
        if s_next > 0:
            x_next = x + (s_next - s) * 0.5 * (d + (x_next - trainer.denoise(x_next, s_next, labels)) / s_next)
        x = x_next
    np.testing.assert_allclose(guided_free, np.clip((x + 1) / 2, 0, 1), atol=1e-5)

    noisy = np.random.default_rng(4).standard_normal((5, 28, 28, 1)).astype("float32")
    conditional = trainer.denoise(noisy, 1.0, labels)
    unconditional = trainer.denoise(noisy, 1.0, np.full(5, trainer.num_classes))
    np.testing.assert_allclose(trainer.denoise(noisy, 1.0, labels, guidance=2.0),
                               conditional + 2.0 * (conditional - unconditional), atol=1e-4)
    assert np.abs(conditional - unconditional).max() > 1e-2  # so the test above could fail


def test_bad_settings_raise_value_error():
    trainer = tiny()
    for bad in ({"steps": 0}, {"steps": 2.5}, {"guidance": -1.0}):
        with pytest.raises(ValueError):
            trainer.sample(2, **bad)
    with pytest.raises(ValueError, match="labels must be in"):
        trainer.sample(2, labels=[0, 10])
    with pytest.raises(ValueError, match="sampler"):
        tiny(sampler="ddpm")
    with pytest.raises(ValueError, match="merge"):
        tiny(merge="stack")


def held_out_loss(trainer, images, labels, levels=(0.05, 0.2, 0.5, 1.0, 2.0, 5.0)):
    """The training objective on held-out images, with fixed noise at fixed levels:
    mean over the levels of lambda(sigma) * ||D(y + sigma n) - y||^2 = ||F - target||^2."""
    rng = np.random.default_rng(0)
    y = data.as_float(images, "tanh")
    total = 0.0
    for sigma in levels:
        c_out = float(trainer.preconditioning(np.float64(sigma))[1])
        denoised = trainer.denoise(y + sigma * rng.standard_normal(y.shape).astype("float32"), sigma, labels)
        total += np.mean((denoised - y) ** 2) / c_out**2
    return total / len(levels)


def test_a_short_training_lowers_the_denoising_loss_and_resumes(sample, tmp_path):
    # the recipe's network, 10 epochs of the bundled sample (150 steps)
    held_x, held_y = sample.take("test", n=200, seed=0)
    before = held_out_loss(models.build("diffusion"), held_x, held_y)
    trainer, history, info = training.train("diffusion", sample, epochs=10, minutes=10, out_dir=tmp_path,
                                            samples=False, verbose=0)  # no grids: 46 passes x 100 images each
    after = held_out_loss(trainer, held_x, held_y)
    assert info["epochs_done"] == 10 and not info["stopped_by_time"]
    assert after < 0.7 * before, (before, after)
    assert np.mean(history["loss"][-3:]) < 0.85 * history["loss"][0], history["loss"]

    done = info["epochs_done"]
    steps_before = int(trainer.optimizer.iterations.numpy())
    again, history2, info2 = training.train("diffusion", sample, epochs=done + 2, out_dir=tmp_path, resume=True,
                                            verbose=0)
    assert info2["epochs_done"] == done + 2 and len(history2["loss"]) == 2
    assert int(again.optimizer.iterations.numpy()) == steps_before + 2 * (len(sample.train) // 64)
    assert max(history2["loss"]) < history["loss"][0]  # it went on from the trained weights
    log = json.loads((tmp_path / "history.json").read_text())
    assert len(log["history"]["loss"]) == done + 2
    assert (tmp_path / "samples" / f"epoch_{done + 2:03d}.png").exists()


def test_a_shop_folder_trains_and_generates_in_steps(sample, tmp_path, capsys):
    """RGB photos at a side whose half is odd (30 -> 15): padded for the U-Net, cropped again."""
    shop = tmp_path / "shop"
    data.write_colour_variants(shop, per_category=8, image_size=30, source=sample)
    run = tmp_path / "run"
    assert cli.main(["train", "diffusion", "--data", str(shop), "--image-size", "30", "--epochs", "1",
                     "--batch-size", "16", "--out", str(run)]) == 0, capsys.readouterr().err
    settings = json.loads((run / "settings.json").read_text())
    assert settings["image_shape"] == [30, 30, 3] and settings["model"] == "diffusion"
    category = settings["data"]["class_names"][2]
    grid = tmp_path / "grid.png"
    assert cli.main(["generate", "diffusion", "--checkpoint", str(run), "--category", category, "--count", "4",
                     "--steps", "3", "--guidance", "1", "--out", str(grid)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "steps 3" in out and "guidance 1" in out
    assert Image.open(grid).size == (2 * 30 + 3, 2 * 30 + 3) and Image.open(grid).mode == "RGB"


def test_steps_is_refused_for_models_that_do_not_sample_in_steps(tmp_path, capsys):
    for command in (["generate", "cgan", "--steps", "20", "--out", str(tmp_path / "x.png")],
                    ["evaluate", "vae", "--steps", "20"]):
        assert cli.main(command) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert f"{command[1]} does not sample in steps, so --steps does not apply; models that do: diffusion" in err
    assert cli.main(["generate", "diffusion", "--steps", "0"]) == cli.EXIT_USAGE
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


DISTRIBUTED = textwrap.dedent("""
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from prodgen_lessons import models
    from prodgen_lessons.data import load_sample, make_dataset
    from prodgen_lessons.training import distributed_fit, seed_everything
    seed_everything(0)
    data = load_sample()
    ds = make_dataset(data.x_train[:128], data.y_train[:128], batch_size=32).repeat()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        trainer = models.build("diffusion", widths=[8, 16], embed_dim=16)
    history = distributed_fit(trainer, ds, strategy, epochs=2, steps_per_epoch=2, verbose=0)
    images = trainer.sample(4, steps=2)  # swaps the averaged weights in and out of the mirrored variables
    print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync,
                                  "steps": int(trainer.optimizer.iterations.numpy()),
                                  "loss": history.history["loss"],
                                  "sample_finite": bool(np.isfinite(images).all())}))
""")


def test_the_multi_worker_path_trains_it_under_strategy_run():
    # `distributed_fit` (what `train` runs under MultiWorkerMirroredStrategy) on two replicas;
    # logical devices must be configured before TensorFlow initialises -> a fresh process
    out = subprocess.run([sys.executable, "-c", DISTRIBUTED], capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["replicas"] == 2 and result["steps"] == 4 and result["sample_finite"]
    assert len(result["loss"]) == 2 and all(np.isfinite(result["loss"]))


@pytest.mark.skipif(not pretrained.is_shipped("diffusion"), reason="no shipped diffusion model")
def test_the_shipped_model_draws_what_is_asked_and_guidance_helps(tmp_path, capsys):
    trainer = pretrained.load_pretrained("diffusion")
    judge = pretrained.load_pretrained("classifier")
    labels = np.arange(100) % 10
    accuracy = {w: np.mean(judge.predict(trainer.sample(100, labels=labels, seed=1, steps=10, guidance=w),
                                         verbose=0).argmax(1) == labels) for w in (0.0, 2.0)}
    assert accuracy[2.0] > 0.8 and accuracy[2.0] > accuracy[0.0], accuracy
    out = tmp_path / "sneakers.png"
    assert cli.main(["generate", "diffusion", "--category", "运动鞋", "--steps", "20", "--guidance", "2",
                     "--count", "4", "--out", str(out)]) == 0, capsys.readouterr().err
    assert Image.open(out).size == (2 * 28 + 3, 2 * 28 + 3)
