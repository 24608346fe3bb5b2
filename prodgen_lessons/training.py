"""Training helpers shared by the GAN trainers: seeding, device strategy, and Keras callbacks.

- `seed_everything(seed)`: Python, NumPy and TensorFlow/Keras seeds in one call.
- `get_strategy()`: MirroredStrategy over all visible GPUs when there are 2+, else the default.
- `atomic_write`, `write_json`, `save_png`: files written all-or-nothing (temp file, fsync, rename).
- `SampleGrid`: a fixed-noise sample grid PNG per epoch, and `make_gif()` of the whole run.
- `Checkpoint` + `resume`: networks, both optimisers' state and the epoch number in one
  `.weights.h5` file, written atomically, so an interrupted run continues where it stopped.
- `HistoryLog`: the losses of every epoch in a JSON file, kept across resumed runs.
- `NaNGuard`: stops training when a loss turns NaN/inf or explodes, and rolls back to the last
  good weights.
"""

import contextlib
import hashlib
import json
import os
import random
import tempfile
from pathlib import Path

import keras
import numpy as np

from prodgen_lessons.plotting import image_grid

CHECKPOINT_NAME = "checkpoint.weights.h5"


def seed_everything(seed=0):
    """Seed Python's `random`, NumPy and TensorFlow/Keras (keras.utils.set_random_seed)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    return seed


def get_strategy(mixed_precision=False, verbose=True):
    """The tf.distribute strategy for this machine, with a one-line description printed.

    2+ visible GPUs -> MirroredStrategy over all of them; otherwise the default strategy (one
    device). Build and compile the trainer inside `with strategy.scope():`.
    mixed_precision: False, True (mixed_float16 on GPU, mixed_bfloat16 on CPU) or a policy name;
    it sets keras.mixed_precision.set_global_policy, so call this before building models.
    XLA is chosen per trainer: `trainer.compile(..., jit_compile=True)` (slower on this CPU).
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if mixed_precision:
        policy = mixed_precision if isinstance(mixed_precision, str) else (
            "mixed_float16" if gpus else "mixed_bfloat16")
        keras.mixed_precision.set_global_policy(policy)
    policy = keras.mixed_precision.global_policy().name
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([g.name for g in gpus])
        text = f"MirroredStrategy over {len(gpus)} GPUs"
    else:
        strategy = tf.distribute.get_strategy()
        device = "1 GPU" if gpus else f"CPU ({os.cpu_count()} cores)"
        text = f"default strategy on {device}"
    if verbose:
        print(f"strategy: {text}, {strategy.num_replicas_in_sync} replica(s), policy {policy}")
    return strategy


# ---------------------------------------------------------------------------------------------
# atomic files


@contextlib.contextmanager
def atomic_write(path):
    """Yields a temp file name in `path`'s folder to write to; on success the file is fsynced and
    renamed onto `path` (os.replace, atomic on POSIX), on failure removed. A crash or a full disk
    leaves the previous file, never half of a new one. A system OSError names `path`."""
    path = Path(path)
    tmp = None
    try:
        # The temp name ends like the real one: Keras and Pillow pick the format from the suffix.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="." + path.name, dir=path.parent)
        os.close(fd)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make outputs private
        os.replace(tmp, path)
    except OSError as err:
        # Name the file the user asked for, not the temp file (ENOSPC from write() names none).
        if err.errno is not None and (err.filename is None or Path(err.filename).name.startswith(".tmp-")):
            err.filename = str(path)
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, obj, **dump_options):
    """json.dump `obj` to `path` atomically."""
    text = json.dumps(obj, **dump_options)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text)


def save_png(grid, path):
    """Save a uint8 image array (e.g. `image_grid`'s) to `path` atomically, in the format its
    suffix names."""
    from PIL import Image

    image = Image.fromarray(grid)
    with atomic_write(path) as tmp:
        image.save(tmp)


# ---------------------------------------------------------------------------------------------
# sample grids


class SampleGrid(keras.callbacks.Callback):
    """Saves `trainer.sample(n, seed=seed)` as a grid PNG every `every` epochs.

    The seed fixes the noise, so successive grids show the same "products" improving.
    """

    def __init__(self, out_dir, every=1, n=100, seed=0, nrow=10):
        super().__init__()
        if every < 1 or n < 1:
            raise ValueError(f"every and n must be >= 1, got every={every}, n={n}")
        self.out_dir = Path(out_dir)
        self.every, self.n, self.seed, self.nrow = int(every), int(n), int(seed), int(nrow)
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"epoch_{epoch + 1:03d}.png"
        save_png(image_grid(self.model.sample(self.n, seed=self.seed), ncols=self.nrow), path)
        self.paths.append(path)

    def make_gif(self, path=None, duration_ms=400):
        """An animated GIF of all grids saved so far (default out_dir/training.gif)."""
        from PIL import Image

        paths = self.paths or sorted(self.out_dir.glob("epoch_*.png"))
        if not paths:
            raise ValueError(f"no sample grids in {self.out_dir}: train with this callback first")
        frames = [Image.open(p).convert("P") for p in paths]
        path = Path(path or self.out_dir / "training.gif")
        with atomic_write(path) as tmp:
            frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
        return path


# ---------------------------------------------------------------------------------------------
# checkpoints


def _h5_layout(path):
    """{dataset path: shape} of a .weights.h5 file."""
    import h5py

    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: layout.__setitem__(name, obj.shape)
                     if isinstance(obj, h5py.Dataset) else None)
        epoch = f.attrs.get("epoch")
    return layout, epoch


def _weights_digest(h5file):
    """(SHA-256 over every dataset's name and bytes, in name order; names of datasets holding NaN
    or inf). The checksum covers the weights, not the file, so attributes may change."""
    import h5py

    datasets = {}
    h5file.visititems(lambda name, obj: datasets.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    digest, not_finite = hashlib.sha256(), []
    for name in sorted(datasets):
        value = np.asarray(datasets[name])
        digest.update(name.encode() + value.tobytes())
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            not_finite.append(name)
    return digest.hexdigest(), not_finite


def _build_optimizers(trainer):
    """Optimiser slots are created lazily; a fresh trainer needs them before loading.

    GAN trainers have g_optimizer/d_optimizer (CycleGAN's cover two networks each); a VAE or the
    classifier has the one Keras `optimizer`.
    """
    pairs = {"g_optimizer": ("generator", "generator_ab", "generator_ba"),
             "d_optimizer": ("discriminator", "discriminator_a", "discriminator_b")}
    found = False
    for opt_name, net_names in pairs.items():
        opt = getattr(trainer, opt_name, None)
        if opt is None:
            continue
        found = True
        if not opt.built:
            variables = [v for n in net_names if getattr(trainer, n, None) is not None
                         for v in getattr(trainer, n).trainable_variables]
            opt.build(variables)
    if not found:
        if getattr(trainer, "optimizer", None) is None:
            raise ValueError(f"{type(trainer).__name__} has no optimizer: compile it before resume()")
        if not trainer.optimizer.built:
            trainer.optimizer.build(trainer.trainable_variables)


def _save_checkpoint(trainer, path, epoch):
    """Write the trainer and `epoch` to `path` atomically (`atomic_write`)."""
    import h5py

    _build_optimizers(trainer)  # same layout whether or not a step has run yet
    with atomic_write(path) as tmp:
        trainer.save_weights(tmp, overwrite=True)
        with h5py.File(tmp, "a") as f:
            f.attrs["epoch"] = int(epoch)
            f.attrs["weights_sha256"] = _weights_digest(f)[0]  # checked by `resume`


class Checkpoint(keras.callbacks.Callback):
    """At the end of every epoch, saves the trainer (generator, discriminator, g_optimizer and
    d_optimizer state -- Keras 3 `save_weights` includes optimiser attributes) and the number of
    finished epochs to `directory/checkpoint.weights.h5`. Continue with `resume`.

    With a `guard` (NaNGuard), nothing is saved once it has stopped the run: that epoch did not
    finish, and the file keeps the last good one."""

    def __init__(self, directory, filename=CHECKPOINT_NAME, guard=None):
        super().__init__()
        if not str(filename).endswith(".weights.h5"):
            raise ValueError(f"filename must end in .weights.h5, got {filename!r}")
        self.directory = Path(directory)
        self.path = self.directory / filename
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.stopped is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        _save_checkpoint(self.model, self.path, epoch + 1)


def resume(trainer, directory, filename=CHECKPOINT_NAME):
    """Load `Checkpoint`'s file into a compiled trainer; returns the epoch to continue from
    (use as `fit(..., initial_epoch=resume(trainer, dir))`), 0 when there is no checkpoint.

    Raises ValueError naming the file when it is unreadable or was written by a different model.
    """
    path = Path(directory) / filename
    if not path.exists():
        return 0
    _build_optimizers(trainer)
    try:
        saved, epoch = _h5_layout(path)
    except Exception as err:  # h5py raises OSError for truncated / non-HDF5 files
        raise ValueError(f"checkpoint {path} is not a readable .weights.h5 file "
                         f"(corrupt or truncated?): {err}") from err
    if epoch is None:
        raise ValueError(f"checkpoint {path} has no epoch number: it was not written by Checkpoint")
    import h5py

    with h5py.File(path, "r") as f:
        expected_digest = f.attrs.get("weights_sha256")
        digest, not_finite = _weights_digest(f)
    if expected_digest is not None and digest != expected_digest:
        raise ValueError(f"checkpoint {path}: its weights do not match the checksum written with them "
                         "(the file was damaged or altered); resume from another copy or start anew")
    if not_finite:
        raise ValueError(f"checkpoint {path} holds NaN or inf weights ({', '.join(not_finite[:3])}"
                         f"{', ...' if len(not_finite) > 3 else ''}); it cannot generate: start anew")
    # The layout this trainer would write, to compare variable by variable.
    with tempfile.TemporaryDirectory() as tmp:
        expected, _ = _h5_layout(_write_layout_probe(trainer, tmp))
    problems = [f"{k}: file has {'no such variable' if k not in saved else saved[k]}, "
                f"trainer expects {expected[k]}" for k in expected if saved.get(k) != expected[k]]
    problems += [f"{k}: in the file but not in this trainer" for k in saved if k not in expected]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} mismatches)" if len(problems) > 5 else "")
        raise ValueError(f"checkpoint {path} does not match this trainer "
                         f"(different architecture or settings?): {shown}")
    trainer.load_weights(path)
    return int(epoch)


def _write_layout_probe(trainer, folder):
    probe = os.path.join(folder, "probe.weights.h5")
    trainer.save_weights(probe)
    return probe


# ---------------------------------------------------------------------------------------------
# history


class HistoryLog(keras.callbacks.Callback):
    """Writes the logs of every finished epoch to a JSON file ({"history": {metric: [...]}, ...})
    at each epoch end, atomically. A run resumed after `initial_epoch` epochs keeps the file's
    first `initial_epoch` entries and appends to them; the file's other keys are kept. With a
    `guard` (NaNGuard), the epoch it stopped is not recorded, as `Checkpoint` does not save it."""

    def __init__(self, path, initial_epoch=0, guard=None):
        super().__init__()
        self.path = Path(path)
        self.guard = guard
        self.record = {}
        if initial_epoch and self.path.exists():
            try:
                self.record = json.loads(self.path.read_text())
            except ValueError as err:
                raise ValueError(f"{self.path}: not valid JSON ({err}); move it away to start "
                                 "a new history") from err
            if not isinstance(self.record, dict) or not isinstance(self.record.get("history", {}), dict):
                raise ValueError(f"{self.path}: not a history file (no \"history\" object)")
        # Epochs after the checkpoint's (an interrupted session) are trained again.
        self.record["history"] = {k: list(v)[:initial_epoch]
                                  for k, v in self.record.get("history", {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.stopped is not None:
            return
        history = self.record["history"]
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        self.record["epochs_done"] = epoch + 1
        self.write()

    def write(self, **extra):
        """Write the record (plus `extra` keys) to the file now."""
        self.record.update(extra)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self.record, indent=1)


# ---------------------------------------------------------------------------------------------
# NaN guard


class NaNGuard(keras.callbacks.Callback):
    """Stops training when a logged loss is NaN/inf or its absolute value exceeds `max_loss`,
    and restores the networks and optimiser states saved at the last good epoch end (or at the
    start of training). `check_every` > 0 also snapshots every that many good batches.
    After a stop, `self.stopped` holds (epoch, batch, metric, value)."""

    def __init__(self, max_loss=1e4, check_every=0, verbose=True):
        super().__init__()
        self.max_loss = float(max_loss)
        self.check_every = int(check_every)
        self.verbose = verbose
        self.stopped = None
        self._epoch = 0
        self._good = None

    def _variables(self):
        variables = list(self.model.weights)
        for name in ("g_optimizer", "d_optimizer"):
            opt = getattr(self.model, name, None)
            if opt is not None:
                variables += list(opt.variables)
        return variables

    def _snapshot(self):
        self._good = [(v, np.array(v.numpy())) for v in self._variables()]

    def on_train_begin(self, logs=None):
        self._snapshot()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _bad(self, logs):
        for key, value in (logs or {}).items():
            if "loss" in key:
                value = float(value)
                if not np.isfinite(value) or abs(value) > self.max_loss:
                    return key, value
        return None

    def on_train_batch_end(self, batch, logs=None):
        bad = self._bad(logs)
        if bad:
            self.stopped = (self._epoch, batch, *bad)
            self.model.stop_training = True
            for variable, value in self._good:
                if variable.shape == value.shape:
                    variable.assign(value)
            if self.verbose:
                print(f"NaNGuard: {bad[0]}={bad[1]} at epoch {self._epoch + 1}, batch {batch}: "
                      "stopped and restored the last good weights")
        elif ((self.check_every and (batch + 1) % self.check_every == 0)
              or len(self._good) != len(self._variables())):  # optimiser slots created lazily
            self._snapshot()

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped is None and not self._bad(logs):
            self._snapshot()
