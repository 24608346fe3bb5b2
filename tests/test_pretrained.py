"""Shipped models: recipes, the checksum on load, model cards, and the resumable `train`."""

import json
import shutil

import numpy as np
import pytest

from prodgen_lessons import models, pretrained, training

SHIPPED = sorted(p.parent.name for p in pretrained.PRETRAINED_DIR.glob("*/card.json"))


def test_every_recipe_names_a_model_whose_networks_ship():
    for name, recipe in pretrained.RECIPES.items():
        trainer = models.build(recipe["model"], image_shape=recipe.get("image_shape", (28, 28, 1)),
                               **recipe.get("options", {}))
        shipped = pretrained.shipped_networks(trainer, recipe)
        assert shipped and all(hasattr(net, "save_weights") for net in shipped.values()), name
        assert all(f"{n}.weights.h5" in pretrained.read_card(name)["files"] for n in shipped), name


def test_unknown_pretrained_name_lists_valid_ones():
    with pytest.raises(ValueError, match="shipped models are: classifier, classifier2, cgan"):
        pretrained.load_pretrained("stylegan")


def test_shipped_weights_stay_under_60_mb():
    total = sum(p.stat().st_size for p in pretrained.PRETRAINED_DIR.rglob("*.weights.h5"))
    assert total < 60e6, f"{total / 1e6:.1f} MB of shipped weights"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_card_is_complete(name):
    card = pretrained.read_card(name)
    assert card["recipe"]["model"] in models.MODELS
    assert card["training"]["seconds"] > 0 and card["training"]["machine"]
    for fname, meta in card["files"].items():
        assert pretrained.sha256(pretrained.PRETRAINED_DIR / name / fname) == meta["sha256"]
    if card["recipe"]["model"] == "classifier":  # the judge, and the second, independent one
        assert card["metrics"]["test_accuracy"] >= {"classifier": 0.92}.get(name, 0.89)
    else:
        assert card["noise_floor"]["fid"] is not None and card["metrics"]["fid"] is not None


@pytest.mark.skipif("classifier" not in SHIPPED, reason="no shipped classifier")
def test_shipped_classifier_is_accurate(fashion_mnist):
    clf = pretrained.load_pretrained("classifier")
    x = fashion_mnist.x_test[:2000, ..., None] / 255.0
    acc = float(np.mean(np.argmax(clf.predict(x, verbose=0), 1) == fashion_mnist.y_test[:2000]))
    assert acc > 0.9


@pytest.mark.skipif("cgan" not in SHIPPED, reason="no shipped cgan")
def test_shipped_cgan_makes_requested_products():
    trainer = pretrained.load_pretrained("cgan")
    clf = pretrained.load_pretrained("classifier")
    labels = np.arange(200) % 10
    images = trainer.sample(200, labels=labels, seed=1)
    assert images.shape == (200, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    predicted = np.argmax(clf.predict(images, verbose=0), 1)
    assert np.mean(predicted == labels) > 0.9


@pytest.mark.skipif("cvae" not in SHIPPED, reason="no shipped cvae")
def test_guidance_makes_the_shipped_cvae_draw_the_requested_category_more_often():
    trainer = pretrained.load_pretrained("cvae")
    clf = pretrained.load_pretrained("classifier")
    recipe_guidance = trainer.guidance
    assert recipe_guidance > 0
    labels = np.arange(500) % 10
    accuracy = {}
    for guidance in (0.0, recipe_guidance):
        trainer.guidance = guidance
        predicted = np.argmax(clf.predict(trainer.sample(500, labels=labels, seed=1), verbose=0), 1)
        accuracy[guidance] = np.mean(predicted == labels)
    assert accuracy[recipe_guidance] > accuracy[0.0] + 0.02, accuracy


@pytest.mark.skipif(not SHIPPED, reason="no shipped model")
def test_tampered_weights_are_refused(tmp_path):
    name = SHIPPED[0]
    copy = tmp_path / name
    shutil.copytree(pretrained.PRETRAINED_DIR / name, copy)
    weights = next(copy.glob("*.weights.h5"))
    raw = bytearray(weights.read_bytes())
    raw[-100] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rf"{weights.name}: SHA-256 .* does not match"):
        pretrained.load_pretrained(name, directory=copy)


@pytest.mark.skipif("cgan_midway" not in SHIPPED, reason="no shipped cgan_midway")
def test_continue_from_changes_an_option_and_keeps_the_shipped_weights():
    shipped = pretrained.load_pretrained("cgan_midway")
    run = pretrained.continue_from("cgan_midway", learning_rate=1e-3, loss="bce")
    for name in ("generator", "discriminator"):
        for a, b in zip(getattr(run, name).get_weights(), getattr(shipped, name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert run.loss == "bce" and float(run.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(run.g_optimizer.iterations) == 0  # a fresh optimiser
    with pytest.raises(ValueError, match=r"\['base_filters'\] change the shape of 'cgan_midway'"):
        pretrained.continue_from("cgan_midway", base_filters=32)


def test_train_checkpoints_and_resumes(tmp_path, sample):
    out = tmp_path / "run"
    trainer, history, info = training.train("dcgan", epochs=1, batch_size=100, data=sample,
                                              out_dir=out, verbose=0, latent_dim=8)
    assert info["epochs_done"] == 1 and (out / training.CHECKPOINT_NAME).exists()
    assert (out / "samples" / "epoch_001.png").exists()
    with pytest.raises(FileExistsError, match="pass resume=True"):
        training.train("dcgan", epochs=2, data=sample, out_dir=out, verbose=0, latent_dim=8)
    trainer2, history2, info2 = training.train("dcgan", epochs=2, batch_size=100, data=sample,
                                                 out_dir=out, resume=True, verbose=0, latent_dim=8)
    assert info2["epochs_done"] == 2 and len(history2["g_loss"]) == 1  # only epoch 2 ran
    saved = json.loads((out / "history.json").read_text())
    assert saved["epochs_done"] == 2


def test_load_or_train_loads_what_ships_and_trains_what_does_not(monkeypatch, sample):
    assert type(pretrained.load_or_train("cgan")).__name__ == "CGAN"
    monkeypatch.setitem(pretrained.RECIPES, "tiny", dict(model="gan", data="sample", epochs=1, batch_size=100, seed=0))
    trainer = pretrained.load_or_train("tiny", verbose=0)  # nothing ships under that name: trained here
    assert trainer.sample(2).shape == (2, 28, 28, 1)


def test_time_budget_stops_training(sample):
    _, history, info = training.train("gan", epochs=50, batch_size=50, data=sample, minutes=0.05,
                                        verbose=0, samples=False)
    assert info["stopped_by_time"] and info["epochs_done"] < 50


def test_retrain_ships_a_finished_run_without_training_it_again(monkeypatch, tmp_path, sample):
    recipe = dict(model="gan", data="sample", epochs=1, batch_size=100, seed=0)
    monkeypatch.setitem(pretrained.RECIPES, "tiny", recipe)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "shipped")
    monkeypatch.setattr(pretrained, "judges", lambda catalogue: (_untrained_judge(), None))
    work = tmp_path / "run"
    first = pretrained.retrain("tiny", work, verbose=0)
    shipped = pretrained.load_pretrained("tiny").generator.get_weights()
    assert pretrained.finished_run(work, recipe) is not None
    assert pretrained.finished_run(work, dict(recipe, seed=1)) is None  # another recipe's run is not taken
    checkpoint = work / training.CHECKPOINT_NAME
    before = checkpoint.stat().st_mtime_ns
    second = pretrained.retrain("tiny", work, verbose=0)
    assert checkpoint.stat().st_mtime_ns == before  # scored, not trained again
    assert second["training"]["seconds"] == first["training"]["seconds"]
    again = pretrained.load_pretrained("tiny").generator.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(shipped, again))  # the weights fit left behind


def _untrained_judge():
    from prodgen_lessons.models import classifier

    return classifier.build_classifier((28, 28, 1), 10)


@pytest.mark.skipif(not pretrained.is_shipped("diffusion"), reason="no shipped diffusion model")
def test_the_diffusion_card_scores_the_sampler_at_10_20_and_50_steps():
    by_steps = pretrained.read_card("diffusion")["metrics"]["by_steps"]
    assert sorted(by_steps, key=int) == ["10", "20", "50"]
    for steps, m in by_steps.items():
        assert m["passes"] == 2 * (2 * int(steps) - 1) and m["ms_per_image"] > 0 and m["fid"] > 0
    assert "sampler steps" in pretrained.model_card("diffusion")
