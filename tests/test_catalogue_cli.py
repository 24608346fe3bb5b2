"""A shop's catalogue end to end (issue #18): `prodgen` trains, generates and evaluates on a folder
of category sub-folders, and `prodgen train` runs on two workers (MultiWorkerMirroredStrategy)."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from prodgen_lessons import cli, data, training


def prodgen(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


@pytest.fixture(scope="module")
def shop(tmp_path_factory, sample):
    """A colour catalogue whose folders carry Chinese names, as a shop's might."""
    root = tmp_path_factory.mktemp("shop") / "colours"
    data.write_colour_variants(root, per_category=12, image_size=32, source=sample)
    for split in ("train", "test"):
        (root / split / "Sneaker").rename(root / split / "运动鞋")
    return root


def test_a_shop_trains_generates_and_evaluates_from_its_folder(shop, tmp_path, capsys):
    (shop / "train" / "Bag" / "price-list.txt").write_text("not a photo")
    status, out, err = prodgen(capsys, "train", "classifier", "--data", shop, "--image-size", "16",
                               "--epochs", "1", "--batch-size", "16", "--out", tmp_path / "judge")
    assert status == 0, err
    assert "note: 1 entries" in err and "price-list.txt" in err  # reported, not silently dropped
    status, out, err = prodgen(capsys, "train", "cgan", "--data", shop, "--image-size", "16", "--epochs", "1",
                               "--batch-size", "16", "--latent-dim", "8", "--out", tmp_path / "run")
    assert status == 0, err
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert settings["image_shape"] == [16, 16, 3] and "运动鞋" in settings["data"]["class_names"]

    status, out, err = prodgen(capsys, "generate", "cgan", "--checkpoint", tmp_path / "run", "--category", "运动鞋",
                               "--count", "4", "--out", tmp_path / "grid.png")
    assert status == 0, err
    assert "(运动鞋, seed 0)" in out and Image.open(tmp_path / "grid.png").size == (35, 35)
    status, out, err = prodgen(capsys, "generate", "cgan", "--checkpoint", tmp_path / "run", "--category", "hat",
                               "--out", tmp_path / "hat.png")
    assert status == 2 and "运动鞋" in err and not (tmp_path / "hat.png").exists()

    status, out, err = prodgen(capsys, "evaluate", "cgan", "--checkpoint", tmp_path / "run",
                               "--classifier", tmp_path / "judge", "--sample-size", "50")
    assert status == 0, err
    assert str(shop) in out and "FID" in out and "conditional accuracy" in out
    status, out, err = prodgen(capsys, "evaluate", "cgan", "--checkpoint", tmp_path / "run")
    assert status == 1 and "prodgen train classifier --data" in err  # the shipped judges know Fashion-MNIST

    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "2", "--out", tmp_path / "run")
    assert status == 0 and "done: 2 epochs" in out, err  # the run remembers its folder and image size
    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "3", "--image-size", "32",
                               "--out", tmp_path / "run")
    assert status == 2 and "--image-size 32 contradicts the image_size 16" in err


def test_a_broken_photo_is_named_or_skipped_and_listed(shop, tmp_path, capsys):
    import shutil

    copy = tmp_path / "shop"
    shutil.copytree(shop, copy)
    (copy / "train" / "Bag" / "red-broken.png").write_bytes(b"\x89PNG but not really")
    status, out, err = prodgen(capsys, "train", "cgan", "--data", copy, "--image-size", "16", "--epochs", "1",
                               "--out", tmp_path / "run")
    assert status == 1 and "red-broken.png: unreadable image" in err and "--skip-broken" in err
    assert not (tmp_path / "run").exists()  # refused before any work
    status, out, err = prodgen(capsys, "train", "cgan", "--data", copy, "--image-size", "16", "--epochs", "1",
                               "--batch-size", "16", "--latent-dim", "8", "--skip-broken", "--out", tmp_path / "run")
    assert status == 0, err
    assert "skipped 1 unreadable files" in err and "red-broken.png" in err


def test_colour_variants_command(tmp_path, capsys, sample, monkeypatch):
    monkeypatch.setattr(data, "load_fashion_mnist", lambda *a, **kw: sample)
    status, out, err = prodgen(capsys, "data", "colour-variants", tmp_path / "c", "--per-category", "5",
                               "--image-size", "24")
    assert status == 0, err and "60 product photos" in out
    assert len(list((tmp_path / "c" / "train" / "Bag").iterdir())) == 5
    status, out, err = prodgen(capsys, "data", "colour-variants", tmp_path / "c")
    assert status == 1 and "not an empty folder" in err
    status, out, err = prodgen(capsys, "data", "info", "--data", tmp_path / "c", "--image-size", "24")
    assert status == 0 and "24x24 RGB" in out and "运动鞋" in out


WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from prodgen_lessons import data, training
    out = sys.argv[1]
    catalogue = data.load_sample().subset(256)
    trainer, history, info = training.train("cgan", catalogue, epochs=2, batch_size=32, latent_dim=8,
                                            options={"base_filters": 8}, out_dir=out, verbose=0)
    weights = [np.asarray(w) for w in trainer.generator.weights + trainer.discriminator.weights]
    np.savez(sys.argv[2], *weights)
    print(json.dumps(info["epochs_done"]))
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_train_one_model_and_end_with_identical_weights(tmp_path):
    cluster = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                   TF_CONFIG=json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / "run"),
                                         str(tmp_path / f"weights{index}.npz")],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, results):
        assert w.returncode == 0, err[-3000:]
        assert out.strip().endswith("2")
    first, second = (np.load(tmp_path / f"weights{i}.npz") for i in range(2))
    assert len(first.files) == len(second.files) > 10
    for key in first.files:  # trainable weights and BatchNorm statistics alike
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # worker 0 wrote the run; a resumed run continues from its checkpoint
    assert training.resume(training.train("cgan", data.load_sample().subset(256), epochs=1, batch_size=32,
                                          latent_dim=8, options={"base_filters": 8}, verbose=0)[0],
                           tmp_path / "run") == 2
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epochs_done"] == 2
