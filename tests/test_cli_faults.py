"""`prodgen` under bad input and faults (issue #19): exit codes 0/1/2/130, one line on stderr that
names the problem, never a traceback, and no file changed by a command that is refused."""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prodgen_lessons import cli, data, plotting, pretrained, training

LATENT_DIM = 8
OPTIONS = {"base_filters": 8}  # a small cGAN, which only its saved settings can rebuild


@pytest.fixture(scope="module")
def tiny(sample):
    """64 training images: an epoch of batches of 32 is two steps."""
    return data.Catalogue.from_arrays(sample.x_train[:64], sample.y_train[:64], sample.x_test, sample.y_test,
                                      "tiny sample")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny):
    out = tmp_path_factory.mktemp("trained") / "run"
    training.train("cgan", tiny, epochs=1, batch_size=32, latent_dim=LATENT_DIM, out_dir=out,
                   options=OPTIONS, verbose=0)
    return out


@pytest.fixture
def run(trained_run, tmp_path, tiny, monkeypatch):
    """A copy of a one-epoch cGAN run in tmp_path/run; `--data fashion-mnist` gives `tiny`."""
    load = data.load_fashion_mnist
    monkeypatch.setattr(data, "load_fashion_mnist",
                        lambda data_dir=None, **kw: tiny if data_dir is None else load(data_dir, **kw))
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    return out


def snapshot(folder):
    """{relative path: SHA-256 of the file, or "folder"} of everything under `folder`."""
    return {str(p.relative_to(folder)): "folder" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*"))}


def prodgen(capsys, *argv):
    """The command run in this process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err):
    """The single line a failed command writes to stderr."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def prodgen_process(*argv, cwd=None):
    """The command as a user runs it, in a process of its own."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "prodgen_lessons.cli", *map(str, argv)], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=env)


# ------------------------------------------------------------------ every refusal, one table

def _break_settings(run, tmp_path):
    (run / "settings.json").write_text('{"model": "cgan", ')


def _break_checkpoint(run, tmp_path):
    (run / training.CHECKPOINT_NAME).write_bytes(b"\x89HDF\r\n truncated")


def _make_targets(run, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder.png").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "grid.png").write_bytes(b"an earlier grid")


# id, command line ({run}, {tmp} filled in), exit code, words the message must contain, set-up
CASES = [
    ("epochs 0", "train cgan --epochs 0 --out {run}", 2, ["--epochs", "1 or more"], None),
    ("epochs not a number", "train cgan --epochs two --out {run}", 2, ["--epochs", "'two'"], None),
    ("batch size negative", "train cgan --batch-size -4 --out {run}", 2, ["--batch-size", "1 or more"], None),
    ("latent dim too large", "train cgan --latent-dim 100000 --out {run}", 2, ["--latent-dim", "1 to 1,024"], None),
    ("minutes nan", "train cgan --minutes nan --out {run}", 2, ["--minutes", "positive"], None),
    ("minutes inf", "train cgan --minutes inf --out {run}", 2, ["--minutes", "positive"], None),
    ("minutes 0", "train cgan --minutes 0 --out {run}", 2, ["--minutes", "positive"], None),
    ("count 0", "generate cgan --count 0 --out {tmp}/new.png", 2, ["--count", "1 to 10,000"], None),
    ("count above the limit", "generate cgan --count 10001 --out {tmp}/new.png", 2, ["--count", "10,000"], None),
    ("sample size 1", "evaluate cgan --sample-size 1", 2, ["--sample-size", "2 to 10,000"], None),
    ("seed negative", "generate cgan --seed -1 --out {tmp}/new.png", 2, ["--seed", "0 to"], None),
    ("unknown model", "train stylegan --out {run}", 2, ["unknown model 'stylegan'"], None),
    ("unknown image type", "generate cgan --out {tmp}/grid.txt", 2, ["grid.txt", ".png"], None),
    ("train again without --resume", "train cgan --epochs 2 --out {run}", 1,
     ["checkpoint.weights.h5 exists", "--resume"], None),
    ("resume a run of another model", "train dcgan --resume --epochs 2 --out {run}", 1,
     ["cgan run", "not dcgan"], None),
    ("resume with another latent dim", "train cgan --resume --epochs 2 --latent-dim 16 --out {run}", 2,
     ["--latent-dim 16", "latent_dim 8"], None),
    ("resume with another batch size", "train cgan --resume --epochs 2 --batch-size 16 --out {run}", 2,
     ["--batch-size 16", "batch_size 32"], None),
    ("resume with another seed", "train cgan --resume --epochs 2 --seed 3 --out {run}", 2,
     ["--seed 3", "seed 0"], None),
    ("resume without a checkpoint", "train cgan --resume --out {tmp}/empty", 1,
     ["no checkpoint.weights.h5", "empty", "leave out --resume"], _make_targets),
    ("resume a corrupt checkpoint", "train cgan --resume --epochs 2 --out {run}", 1,
     ["checkpoint.weights.h5", "corrupt or truncated"], _break_checkpoint),
    ("resume with broken settings", "train cgan --resume --epochs 2 --out {run}", 1,
     ["settings.json", "not valid JSON"], _break_settings),
    ("batch larger than the data", "train cgan --batch-size 100 --out {tmp}/new", 1,
     ["batch size 100", "64 training images"], None),
    ("data folder without data", "train cgan --data {tmp}/empty --out {tmp}/new", 1,
     ["empty", "no category sub-folders"], _make_targets),
    ("data folder missing", "train cgan --data {tmp}/missing --out {tmp}/new", 1,
     ["missing", "no such folder"], None),
    ("train under a file", "train cgan --out {tmp}/a_file/run", 1,
     ["a_file/run", "a_file is not a folder"], _make_targets),
    ("train into a file", "train cgan --out {tmp}/a_file", 1, ["a_file", "not a folder"], _make_targets),
    ("samples folder is a file", "train cgan --resume --epochs 2 --out {run}", 1, ["samples", "not a folder"],
     lambda run, tmp: (shutil.rmtree(run / "samples"), (run / "samples").write_text("x"))),
    ("generate into a missing folder", "generate cgan --out {tmp}/missing/grid.png", 1,
     ["missing/grid.png", "does not exist"], None),
    ("generate under a file", "generate cgan --out {tmp}/a_file/grid.png", 1,
     ["a_file is not a folder"], _make_targets),
    ("generate onto a folder", "generate cgan --out {tmp}/a_folder.png", 1,
     ["a_folder.png", "is a folder"], _make_targets),
    ("generate from another model's run", "generate dcgan --checkpoint {run} --out {tmp}/grid.png", 1,
     ["cgan run", "not dcgan"], _make_targets),
    ("generate from broken settings", "generate cgan --checkpoint {run} --out {tmp}/grid.png", 1,
     ["settings.json", "not valid JSON"], _break_settings),
    ("category of an unconditional model", "generate dcgan --category bag --out {tmp}/grid.png", 2,
     ["not conditional"], _make_targets),
]


@pytest.mark.parametrize("argv,code,words,prepare", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_command_exits_with_one_line_and_changes_no_file(run, tmp_path, capsys, argv, code, words,
                                                                 prepare):
    if prepare:
        prepare(run, tmp_path)
    before = snapshot(tmp_path)
    status, out, err = prodgen(capsys, *argv.format(run=run, tmp=tmp_path).split())
    assert status == code, err
    line = error_line(err)
    assert "error:" in line
    for word in words:
        assert word in line, line
    assert snapshot(tmp_path) == before
    assert "done" not in out


def test_refusals_in_a_process_of_their_own(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    usage = prodgen_process("train", "cgan", "--epochs", "0")  # argparse: TensorFlow not even loaded
    wrong_type = prodgen_process("generate", "cgan", "--out", tmp_path / "grid.txt")
    no_folder = prodgen_process("generate", "cgan", "--out", tmp_path / "a_file" / "grid.png")
    assert (usage.returncode, wrong_type.returncode, no_folder.returncode) == (2, 2, 1)
    assert "--epochs" in error_line(usage.stderr)
    assert "grid.txt" in error_line(wrong_type.stderr)  # TensorFlow's start-up notes kept quiet
    assert error_line(no_folder.stderr) == (f"prodgen: error: {tmp_path / 'a_file' / 'grid.png'}: "
                                            f"{tmp_path / 'a_file'} is not a folder")
    assert os.listdir(tmp_path) == ["a_file"]


# ------------------------------------------------------------------ resume

def test_resume_takes_the_saved_settings_and_keeps_the_history(run, tmp_path, capsys):
    settings = json.loads((run / "settings.json").read_text())
    assert {k: settings[k] for k in ("model", "image_shape", "latent_dim", "num_classes", "batch_size", "seed",
                                     "options")} == {"model": "cgan", "image_shape": [28, 28, 1], "latent_dim": LATENT_DIM,
                                                     "num_classes": 10, "batch_size": 32, "seed": 0, "options": OPTIONS}
    assert settings["data"]["class_names"] == list(data.CATEGORIES)
    first = json.loads((run / "history.json").read_text())
    # No --latent-dim, --batch-size or --seed: the run's own are used (the default 64 would not load).
    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "2", "--out", run)
    assert status == 0, err
    assert "done: 2 epochs" in out
    history = json.loads((run / "history.json").read_text())
    assert history["epochs_done"] == 2 and history["stopped_on_nan"] is None
    for key, values in first["history"].items():
        assert len(history["history"][key]) == 2 and history["history"][key][0] == values[0]
    assert json.loads((run / "settings.json").read_text()) == settings
    assert training.resume(cli._load_run("cgan", str(run))[0], run) == 2

    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "2", "--out", run)
    assert status == 0 and "nothing to do" in out and "2 epochs" in out
    # --checkpoint rebuilds the small cGAN from settings.json and draws from it
    grid = tmp_path / "grid.png"
    status, out, err = prodgen(capsys, "generate", "cgan", "--checkpoint", run, "--count", "4", "--out", grid)
    assert status == 0, err
    assert Image.open(grid).size == (2 * 29 + 1, 2 * 29 + 1)


class NaNInSecondBatch(training.NaNGuard):
    """A NaNGuard that sees a NaN loss in the second batch of the run."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            logs = dict(logs, d_loss=float("nan"))
        super().on_train_batch_end(batch, logs)


def test_nan_stop_is_an_error_and_keeps_the_good_checkpoint(run, capsys, monkeypatch):
    monkeypatch.setattr(training, "NaNGuard", NaNInSecondBatch)
    checkpoint = (run / training.CHECKPOINT_NAME).read_bytes()
    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "3", "--out", run)
    assert status == 1
    line = error_line(err)
    assert "training stopped on NaN: d_loss=nan at epoch 2, batch 1" in line
    assert "keeps epoch 1" in line and "done" not in out
    assert (run / training.CHECKPOINT_NAME).read_bytes() == checkpoint
    history = json.loads((run / "history.json").read_text())
    assert history["epochs_done"] == 1 and history["stopped_on_nan"]["epoch"] == 2
    assert {len(v) for v in history["history"].values()} == {1}


# ------------------------------------------------------------------ generation

@pytest.fixture
def spied_sample(run, monkeypatch):
    """The CLI gets the run's trainer, whose sample() calls are recorded as (n, seed).
    Returns (calls, the unrecorded sample method)."""
    trainer, settings = cli._load_run("cgan", str(run))
    calls, real = [], trainer.sample

    def sample(n, labels=None, seed=0):
        calls.append((n, seed))
        return real(n, labels=labels, seed=seed)

    monkeypatch.setattr(trainer, "sample", sample)
    monkeypatch.setattr(cli, "_load_run", lambda name, checkpoint: (trainer, settings))
    return calls, real


def test_generate_is_deterministic(spied_sample, tmp_path, capsys, monkeypatch):
    grids = []
    for name in ("a.png", "b.png"):
        status, out, err = prodgen(capsys, "generate", "cgan", "--count", "10", "--seed", "7",
                                   "--category", "bag", "--out", tmp_path / name)
        assert status == 0, err
        grids.append(np.asarray(Image.open(tmp_path / name)))
    calls, real_sample = spied_sample
    assert calls == [(10, 7)] * 2  # the model samples in batches (memory flat in --count)
    np.testing.assert_array_equal(grids[0], grids[1])
    # the grid is exactly what one sample() call gives
    status, out, err = prodgen(capsys, "generate", "cgan", "--count", "4", "--seed", "7", "--out", tmp_path / "c.png")
    assert status == 0, err
    expected = plotting.image_grid(real_sample(4, seed=7), ncols=2)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), expected)


def test_full_disk_while_saving_a_grid_keeps_the_old_one(spied_sample, tmp_path, capsys, monkeypatch):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"an earlier grid")

    def half_then_full(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    status, out, err = prodgen(capsys, "generate", "cgan", "--count", "4", "--out", grid)
    assert status == 1
    assert error_line(err) == f"prodgen: error: {grid}: No space left on device"
    assert grid.read_bytes() == b"an earlier grid" and sorted(os.listdir(tmp_path)) == ["grid.png", "run"]


# ------------------------------------------------------------------ the file system

def test_full_disk_when_training_starts_changes_no_file(run, tmp_path, capsys, monkeypatch):
    before = snapshot(tmp_path)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "2", "--out", run)
    assert status == 1
    assert error_line(err) == f"prodgen: error: {run / 'settings.json'}: No space left on device"
    assert snapshot(tmp_path) == before


def test_folder_that_cannot_be_written_is_refused_before_any_work(run, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the check see what a user would get
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else access(p, mode, **kw))
    else:
        locked.chmod(0o500)
    monkeypatch.setattr(training, "train", lambda *a, **kw: pytest.fail("training started"))
    try:
        status, out, err = prodgen(capsys, "train", "cgan", "--out", locked / "run")
        assert status == 1
        assert error_line(err) == f"prodgen: error: {locked / 'run'}: cannot create it: {locked} is not writable"
        status, out, err = prodgen(capsys, "generate", "cgan", "--out", locked / "grid.png")
        assert status == 1 and error_line(err) == f"prodgen: error: {locked}: is not writable"
    finally:
        locked.chmod(0o700)
    assert os.listdir(locked) == []


# ------------------------------------------------------------------ whatever else goes wrong

@pytest.mark.parametrize("fault,code,message", [
    (RuntimeError("boom\n  in a TensorFlow kernel"), 1,
     "prodgen: error: unexpected RuntimeError: boom in a TensorFlow kernel"),
    (MemoryError(), 1, "prodgen: error: unexpected MemoryError"),
    (KeyboardInterrupt(), 130, "prodgen: interrupted"),
    (PermissionError(errno.EACCES, "Permission denied", "/srv/models"), 1,
     "prodgen: error: /srv/models: Permission denied"),
])
def test_any_fault_is_one_line_with_its_exit_code(tmp_path, capsys, monkeypatch, fault, code, message):
    def fail(name, checkpoint):
        raise fault

    monkeypatch.setattr(cli, "_load_run", fail)
    status, out, err = prodgen(capsys, "generate", "cgan", "--out", tmp_path / "grid.png")
    assert status == code
    assert error_line(err) == message
    assert os.listdir(tmp_path) == []


def test_interrupted_training_says_how_to_continue(run, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupt)
    status, out, err = prodgen(capsys, "train", "cgan", "--resume", "--epochs", "2", "--out", run)
    assert status == 130 and "--resume" in error_line(err)
