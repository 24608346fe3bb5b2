"""Training helpers: seeding, strategy, sample grids, atomic checkpoints + resume, NaN guard."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from prodgen_lessons import training
from prodgen_lessons.data import load_sample, make_dataset
from prodgen_lessons.models import cgan


def tiny_cgan(base_filters=8):
    return cgan.build_cgan(latent_dim=8, base_filters=base_filters)


@pytest.fixture(scope="module")
def tiny_data():
    data = load_sample()
    return make_dataset(data.x_train[:96], data.y_train[:96], batch_size=32, seed=0)


def state(trainer):
    """Every variable that a resumed run must get back: networks and both optimisers."""
    variables = trainer.weights + trainer.g_optimizer.variables + trainer.d_optimizer.variables
    return [np.array(v.numpy()) for v in variables]


def assert_same_state(a, b):
    sa, sb = state(a), state(b)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        np.testing.assert_array_equal(x, y)


def test_image_grid_shape():
    from prodgen_lessons.plotting import image_grid

    grid = image_grid(np.zeros((7, 28, 28, 1)), ncols=3, pad=2)
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)
    assert image_grid(np.zeros((4, 8, 8, 3)), ncols=4, pad=0).shape == (8, 32, 3)
    with pytest.raises(ValueError, match="images"):
        image_grid(np.zeros((28, 28)))


def test_get_strategy_on_this_machine(capsys):
    strategy = training.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert "strategy:" in capsys.readouterr().out


def test_seed_everything_gives_identical_training():
    data = load_sample()
    results = []
    for _ in range(2):
        training.seed_everything(123)
        # a fresh pipeline: a reused one reshuffles on its second pass
        ds = make_dataset(data.x_train[:96], data.y_train[:96], batch_size=32, seed=0)
        trainer = tiny_cgan()
        trainer.fit(ds, epochs=1, verbose=0)
        results.append(state(trainer))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)
    training.seed_everything(124)
    other = tiny_cgan()
    assert not np.array_equal(results[0][0], state(other)[0])


class Crash(Exception):
    pass


class CrashAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Crash(f"simulated crash at the start of epoch {epoch + 1}")


def test_checkpoint_resume_after_interrupted_fit(tmp_path, tiny_data):
    training.seed_everything(0)
    trainer = tiny_cgan()
    grids = training.SampleGrid(tmp_path / "grids", n=10, nrow=5)
    with pytest.raises(Crash):
        trainer.fit(tiny_data, epochs=5, verbose=0,
                    callbacks=[training.Checkpoint(tmp_path / "ckpt"), grids, CrashAtEpoch(2)])
    assert [p.name for p in grids.paths] == ["epoch_001.png", "epoch_002.png"]
    assert grids.make_gif().stat().st_size > 0
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["checkpoint.weights.h5"]  # no temp files left

    fresh = tiny_cgan()
    assert training.resume(fresh, tmp_path / "ckpt") == 2
    assert_same_state(trainer, fresh)
    assert int(fresh.g_optimizer.iterations) == 2 * 3 and int(fresh.d_optimizer.iterations) == 6
    # and it goes on from epoch 3
    history = fresh.fit(tiny_data, epochs=3, initial_epoch=2, verbose=0)
    assert len(history.history["d_loss"]) == 1
    assert int(fresh.g_optimizer.iterations) == 9


def test_resume_without_checkpoint_starts_at_zero(tmp_path):
    assert training.resume(tiny_cgan(), tmp_path) == 0


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = tiny_cgan()
    callback = training.Checkpoint(tmp_path)
    callback.set_model(trainer)
    callback.on_epoch_end(0)
    before = callback.path.read_bytes()

    def broken_save(path, overwrite=True):
        path.write(b"half a file")  # Keras writes the checkpoint into memory (training._save_checkpoint)
        raise OSError("disk full")

    monkeypatch.setattr(trainer, "save_weights", broken_save)
    with pytest.raises(OSError, match="disk full"):
        callback.on_epoch_end(1)
    assert callback.path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.weights.h5"]
    monkeypatch.undo()
    assert training.resume(tiny_cgan(), tmp_path) == 1


def test_corrupt_and_incompatible_checkpoints_are_named(tmp_path):
    path = tmp_path / "checkpoint.weights.h5"
    path.write_bytes(b"\x89HDF\r\n not really")
    with pytest.raises(ValueError, match="checkpoint.weights.h5.*corrupt or truncated"):
        training.resume(tiny_cgan(), tmp_path)

    small = tiny_cgan(base_filters=8)
    training.Checkpoint(tmp_path).set_model(small)
    training._save_checkpoint(small, path, epoch=1)
    with pytest.raises(ValueError, match=r"checkpoint\.weights\.h5 does not match.*expects"):
        training.resume(tiny_cgan(base_filters=16), tmp_path)


def test_nan_guard_stops_and_restores_good_weights():
    data = load_sample()
    images = data.x_train[:128].astype("float32")[..., None] / 127.5 - 1.0
    images[70] = np.nan  # the third batch of 32 is poisoned
    training.seed_everything(0)
    trainer = tiny_cgan()
    guard = training.NaNGuard()
    trainer.fit(images, data.y_train[:128].astype("int32"), batch_size=32, shuffle=False,
                epochs=3, verbose=0, callbacks=[guard])
    assert guard.stopped is not None and guard.stopped[:2] == (0, 2), guard.stopped
    assert all(np.all(np.isfinite(v)) for v in state(trainer))
    assert np.all(np.isfinite(trainer.sample(4)))
    # without the guard the weights are ruined
    training.seed_everything(0)
    unguarded = tiny_cgan()
    unguarded.fit(images, data.y_train[:128].astype("int32"), batch_size=32, shuffle=False,
                  epochs=1, verbose=0)
    assert not all(np.all(np.isfinite(v)) for v in state(unguarded))


def test_nan_guard_catches_exploding_loss():
    guard = training.NaNGuard(max_loss=10.0)
    guard.set_model(tiny_cgan())
    guard.on_train_begin()
    guard.on_train_batch_end(0, {"d_loss": 1.0, "g_loss": 5.0})
    assert guard.stopped is None
    guard.on_train_batch_end(1, {"d_loss": 1.0, "g_loss": 50.0})
    assert guard.stopped == (0, 1, "g_loss", 50.0) and guard.model.stop_training


MIRRORED = textwrap.dedent("""
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from prodgen_lessons.data import load_sample, make_dataset
    from prodgen_lessons.models import cgan
    from prodgen_lessons.training import seed_everything
    seed_everything(0)
    data = load_sample()
    ds = make_dataset(data.x_train[:64], data.y_train[:64], batch_size=32)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        trainer = cgan.build_cgan(latent_dim=8, base_filters=8)
    logs = trainer.fit(ds, epochs=1, verbose=0).history
    images = trainer.sample(4)  # swaps the averaged weights in and out of the mirrored variables
    print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync,
                                  "sample_finite": bool(np.isfinite(images).all()),
                                  "steps": int(trainer.g_optimizer.iterations.numpy()),
                                  "logs": {k: float(v[-1]) for k, v in logs.items()}}))
""")


def test_mirrored_strategy_on_two_logical_cpus():
    # logical devices must be configured before TensorFlow initialises -> a fresh process
    out = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["replicas"] == 2
    assert result["steps"] == 2
    assert result["sample_finite"]
    assert all(np.isfinite(v) for v in result["logs"].values()), result


# ------------------------------------------------------------------ atomic files, history


def test_atomic_write_replaces_whole_files_or_nothing(tmp_path):
    path = tmp_path / "settings.json"
    training.write_json(path, {"model": "cgan"})
    assert json.loads(path.read_text()) == {"model": "cgan"}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    with pytest.raises(RuntimeError):
        with training.atomic_write(path) as tmp:
            with open(tmp, "w") as f:
                f.write('{"model": "half')
            raise RuntimeError("crash while writing")
    assert json.loads(path.read_text()) == {"model": "cgan"}
    assert os.listdir(tmp_path) == ["settings.json"]  # no temp file left


def test_atomic_write_names_the_file_on_a_full_disk(tmp_path, monkeypatch):
    import errno

    grid = tmp_path / "grid.png"
    training.save_png(np.zeros((4, 4), np.uint8), grid)
    before = grid.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as err:
        training.save_png(np.full((4, 4), 255, np.uint8), grid)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(grid)
    assert grid.read_bytes() == before and os.listdir(tmp_path) == ["grid.png"]


def test_history_log_keeps_earlier_epochs_on_resume(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": {"d_loss": [3.0, 2.0, 9.0]}, "data": "sample"}))
    log = training.HistoryLog(path, initial_epoch=2)  # epoch 3 was interrupted: trained again
    log.on_epoch_end(2, {"d_loss": 1.0})
    saved = json.loads(path.read_text())
    assert saved["history"] == {"d_loss": [3.0, 2.0, 1.0]} and saved["epochs_done"] == 3
    assert saved["data"] == "sample"
    fresh = training.HistoryLog(path)  # a new run starts a new history
    fresh.on_epoch_end(0, {"d_loss": 5.0})
    assert json.loads(path.read_text())["history"] == {"d_loss": [5.0]}
    path.write_text("{not json")
    with pytest.raises(ValueError, match="history.json: not valid JSON"):
        training.HistoryLog(path, initial_epoch=1)


def test_nothing_is_saved_for_the_epoch_nan_guard_stopped(tmp_path):
    trainer = tiny_cgan()
    guard = training.NaNGuard(verbose=False)
    checkpoint = training.Checkpoint(tmp_path, guard=guard)
    log = training.HistoryLog(tmp_path / "history.json", guard=guard)
    for callback in (guard, checkpoint, log):
        callback.set_model(trainer)
    guard.on_train_begin()
    checkpoint.on_epoch_end(0)
    log.on_epoch_end(0, {"d_loss": 1.0})
    before = checkpoint.path.read_bytes()
    guard.on_train_batch_end(3, {"d_loss": float("nan")})
    checkpoint.on_epoch_end(1)
    log.on_epoch_end(1, {"d_loss": float("nan")})
    assert checkpoint.path.read_bytes() == before
    assert training.resume(tiny_cgan(), tmp_path) == 1
    assert json.loads((tmp_path / "history.json").read_text())["history"] == {"d_loss": [1.0]}


def test_damaged_or_nan_checkpoints_are_refused_by_their_checksum(tmp_path):
    import h5py

    trainer = tiny_cgan()
    path = tmp_path / training.CHECKPOINT_NAME
    training._save_checkpoint(trainer, path, epoch=1)
    assert training.resume(tiny_cgan(), tmp_path) == 1  # intact: loads

    def first_kernel(f):
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.ndim > 1 else None)
        return f[names[0]]

    with h5py.File(path, "a") as f:  # one weight changed: a bit flip, or an edit
        kernel = first_kernel(f)
        value = kernel[()]
        value.flat[0] += 1.0
        kernel[...] = value
    with pytest.raises(ValueError, match="do not match the checksum"):
        training.resume(tiny_cgan(), tmp_path)

    with h5py.File(path, "a") as f:  # NaN weights with a matching checksum are refused too
        kernel = first_kernel(f)
        value = kernel[()]
        value.flat[0] = np.nan
        kernel[...] = value
        f.attrs["weights_sha256"] = training._weights_digest(f)[0]
    with pytest.raises(ValueError, match="NaN or inf"):
        training.resume(tiny_cgan(), tmp_path)
