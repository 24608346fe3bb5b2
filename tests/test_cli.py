"""The `prodgen` command: happy paths and clear errors with meaningful exit codes."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from prodgen_lessons import cli, pretrained


def run(*args):
    return subprocess.run([sys.executable, "-m", "prodgen_lessons.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_data_info(capsys):
    assert cli.main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "10 categories" in out and "28x28 grayscale" in out and "Ankle boot" in out and "短靴" in out


def test_models_lists_every_model(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("gan", "dcgan", "cgan", "infogan", "vae", "cvae", "cyclegan", "classifier"):
        assert name in out


def test_unknown_model_is_a_usage_error(capsys):
    assert cli.main(["generate", "stylegan"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown model 'stylegan'" in err and "cgan" in err


def test_unknown_category_lists_valid_ones(capsys):
    assert cli.main(["generate", "cgan", "--category", "kettle"]) == cli.EXIT_USAGE
    assert "Ankle boot" in capsys.readouterr().err


def test_category_on_unconditional_model_is_refused(capsys):
    assert cli.main(["generate", "dcgan", "--category", "bag"]) == cli.EXIT_USAGE
    assert "not conditional" in capsys.readouterr().err


def test_missing_checkpoint_says_which(tmp_path, capsys):
    assert cli.main(["generate", "cgan", "--checkpoint", str(tmp_path)]) == cli.EXIT_ERROR
    assert "checkpoint.weights.h5" in capsys.readouterr().err


def test_train_then_generate_from_checkpoint(tmp_path, sample, monkeypatch):
    from prodgen_lessons import data

    monkeypatch.setattr(data, "load_fashion_mnist", lambda **kw: sample)
    out = tmp_path / "run"
    assert cli.main(["train", "cgan", "--epochs", "1", "--batch-size", "100", "--latent-dim", "16",
                     "--out", str(out)]) == 0
    grid = tmp_path / "grid.png"
    assert cli.main(["generate", "cgan", "--checkpoint", str(out), "--category", "sneaker",
                     "--count", "9", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (3 * 29 + 1, 3 * 29 + 1)
    # A checkpoint of another architecture is refused, naming the file.
    assert cli.main(["generate", "dcgan", "--checkpoint", str(out)]) == cli.EXIT_ERROR


def test_train_with_the_shipped_recipe(tmp_path, sample, monkeypatch, capsys):
    import json

    from prodgen_lessons import data

    monkeypatch.setattr(data, "load_fashion_mnist", lambda **kw: sample)
    out = tmp_path / "run"
    # the shipped DCGAN is self-conditioned: --recipe gives a shop that model, not the builder's defaults
    assert cli.main(["train", "dcgan", "--recipe", "--epochs", "1", "--out", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    recipe = pretrained.RECIPES["dcgan"]
    assert settings["options"] == recipe["options"] and settings["batch_size"] == recipe["batch_size"]
    assert "shipped model's recipe" in capsys.readouterr().out
    assert cli.main(["generate", "dcgan", "--checkpoint", str(out), "--count", "4",
                     "--out", str(tmp_path / "grid.png")]) == 0
    # a resumed run keeps its own settings; a model without a shipped recipe says which have one
    assert cli.main(["train", "dcgan", "--recipe", "--resume", "--out", str(out)]) == cli.EXIT_USAGE
    assert "leave out --recipe" in capsys.readouterr().err
    assert cli.main(["train", "gan", "--recipe", "--out", str(tmp_path / "gan")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "gan has no shipped recipe" in err and "dcgan" in err and "cgan_no_bags" not in err
    assert not (tmp_path / "gan").exists()


@pytest.mark.skipif(not (pretrained.PRETRAINED_DIR / "cgan" / "card.json").exists(), reason="no shipped cgan")
def test_generate_from_shipped_model_in_a_subprocess(tmp_path):
    grid = tmp_path / "boots.png"
    result = run("generate", "cgan", "--category", "ankle boot", "--count", "16", "--seed", "0", "--out", str(grid))
    assert result.returncode == 0, result.stderr
    assert "16 cgan images (Ankle boot, seed 0)" in result.stdout
    assert np.asarray(Image.open(grid)).std() > 10  # not a blank image


@pytest.mark.skipif(not pretrained.is_shipped("vae_no_bags"), reason="no shipped variants")
def test_shipped_variants_by_name(tmp_path, capsys):
    assert cli.main(["models"]) == 0
    assert "vae_no_bags" in capsys.readouterr().out
    grid = tmp_path / "grid.png"
    assert cli.main(["generate", "vae_no_bags", "--count", "4", "--out", str(grid)]) == 0
    assert "4 vae_no_bags images" in capsys.readouterr().out and grid.exists()
    # measured on its recipe's data: the catalogue without the category it never saw
    assert cli.main(["evaluate", "vae_no_bags", "--sample-size", "200"]) == 0
    assert "vae_no_bags on " in (out := capsys.readouterr().out) and "(without Bag)" in out
    # with --checkpoint (a run of one's own) or for training, the model is named
    for command in (["generate", "vae_no_bags", "--checkpoint", str(tmp_path)],
                    ["train", "vae_no_bags", "--out", str(tmp_path / "run")]):
        assert cli.main(command) == cli.EXIT_USAGE
        assert "name its model, vae" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_temperature_and_guidance_change_how_a_vae_draws(tmp_path, capsys):
    from prodgen_lessons import plotting

    grids = {}
    for name, options in (("own", []), ("cold", ["--temperature", "0.25"])):
        grid = tmp_path / f"{name}.png"
        assert cli.main(["generate", "vae", "--count", "4", "--seed", "3", "--out", str(grid)] + options) == 0
        grids[name] = np.asarray(Image.open(grid))
    assert "temperature 0.25" in capsys.readouterr().out
    vae = pretrained.load_pretrained("vae")
    vae.temperature = 0.25
    np.testing.assert_array_equal(grids["cold"], plotting.image_grid(vae.sample(4, seed=3), ncols=2))
    assert not np.array_equal(grids["own"], grids["cold"])
    reports = []
    for options in ([], ["--guidance", "0"]):   # the card's guidance, then the decoder as trained
        assert cli.main(["evaluate", "cvae", "--sample-size", "200"] + options) == 0
        reports.append(capsys.readouterr().out)
    assert reports[0] != reports[1]
    # a model whose sample() has no such setting: refused before anything loads, naming those that have
    for command, takes in ((["generate", "cgan", "--temperature", "0.5"], "models that do: vae, cvae"),
                           (["evaluate", "vae", "--guidance", "1"], "models that do: cvae")):
        assert cli.main(command + ["--out", str(tmp_path / "x.png")] * (command[0] == "generate")) == cli.EXIT_USAGE
        assert takes in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_bad_option_value_exits_2():
    result = run("generate", "cgan", "--count", "many")
    assert result.returncode == 2 and "invalid int value" in result.stderr
    result = run("generate", "vae", "--temperature", "0")
    assert result.returncode == 2 and "0 is out of range: use a number above 0" in result.stderr
