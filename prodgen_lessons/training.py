"""Training: `train` (what `prodgen train` and the shipped recipes run), and what it is made of.

- `train(model, data, ...)`: build the model for a catalogue, stream its training split, fit
  it with checkpoints, sample grids, a NaN guard and an optional time budget, resumably.
- `seed_everything(seed)`: Python, NumPy and TensorFlow/Keras seeds in one call.
- `get_strategy()`: MultiWorkerMirroredStrategy when TF_CONFIG names several workers,
  MirroredStrategy over 2+ GPUs, else the default; `distributed_fit` trains under the first.
- `wait_for_workers`: meets the other workers before TensorFlow's own start-up (which waits for
  them deaf to Ctrl-C and for ever), naming the missing ones and giving up after a timeout.
- `atomic_write`, `write_json`, `save_png`: files written all-or-nothing (temp file, fsync, rename).
- `run_lock`: one writer per run folder, as git's index.lock: a second one is refused, a lock
  left by a killed run is taken over, and temporary files of its interrupted saves are removed.
- `self_labelled_data`: the data and callback of a trainer that labels its images itself (the
  self-conditioned GAN's clusters).
- `SampleGrid`: a fixed-noise sample grid PNG per epoch, and `make_gif()` of the whole run.
- `Checkpoint` + `resume`: networks, both optimisers' state and the epoch number in one
  `.weights.h5` file, written atomically, so an interrupted run continues where it stopped.
- `HistoryLog`: the losses of every epoch in a JSON file, kept across resumed runs.
- `NaNGuard`: stops training when a loss turns NaN/inf or explodes, and rolls back to the last
  good weights. `TimeBudget`: stops after a wall-clock budget.
"""

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import random
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import keras
import numpy as np

from prodgen_lessons.plotting import image_grid

CHECKPOINT_NAME = "checkpoint.weights.h5"
TEMP_PREFIX = ".tmp-"  # atomic_write's temporary files


def seed_everything(seed=0):
    """Seed Python's `random`, NumPy and TensorFlow/Keras (keras.utils.set_random_seed)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    return seed


def _tasks():
    """({task name: address} of every task TF_CONFIG's cluster names, e.g. {"worker 1":
    "localhost:23457"}, in order, and this process's task name); ({}, None) without TF_CONFIG."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        tasks = {f"{job} {i}": str(address) for job, addresses in config.get("cluster", {}).items()
                 for i, address in enumerate(addresses)}
        task = config.get("task", {})
        return tasks, f"{task.get('type', 'worker')} {task.get('index', 0)}" if tasks else None
    except (ValueError, AttributeError, TypeError) as err:
        raise ValueError(f"TF_CONFIG is not valid JSON with a cluster of workers ({err})") from None


def _workers():
    """The worker addresses TF_CONFIG names (several machines training one model), or []."""
    return [address for name, address in _tasks()[0].items() if name.startswith("worker ")]


def is_chief_task():
    """Whether TF_CONFIG makes this process the one that writes the run (the chief, or worker 0
    when there is none); True without TF_CONFIG."""
    tasks, me = _tasks()
    return me is None or me == ("chief 0" if "chief 0" in tasks else "worker 0")


WORKER_TIMEOUT_VAR = "PRODGEN_WORKER_TIMEOUT"
WORKER_TIMEOUT = 300.0  # seconds; time to start the same command on every machine by hand


def default_worker_timeout():
    """Seconds to wait for the other workers: $PRODGEN_WORKER_TIMEOUT, else WORKER_TIMEOUT."""
    text = os.environ.get(WORKER_TIMEOUT_VAR)
    if text is None:
        return WORKER_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not (np.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{WORKER_TIMEOUT_VAR}={text!r}: use a positive number of seconds, e.g. 300")
    return seconds


def _greet(address, me):
    """Tell the task at `address` that task `me` is up; whether it was listening."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1) as connection:
            connection.sendall(me.encode())
        return True
    except (OSError, ValueError):
        return False


def _greeted(server, seconds):
    """The task names that connected to `server` within `seconds`."""
    names, end = set(), time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        with connection:
            connection.settimeout(1)
            with contextlib.suppress(OSError):
                names.add(connection.recv(64).decode(errors="replace"))
    return names


def wait_for_workers(timeout=None):
    """Meet every other task of TF_CONFIG's cluster before TensorFlow starts its own runtime,
    which waits for them inside C++ holding the GIL: deaf to Ctrl-C and SIGTERM, and for ever.

    Every task listens on its own port with a plain socket, greets the others on theirs, and
    goes on once it has greeted all and been greeted by all (then every other task can have
    greeted it too, so no one is left waiting). Says which tasks it waits for; after `timeout`
    seconds (default `default_worker_timeout()`) raises TimeoutError naming the missing ones."""
    tasks, me = _tasks()
    if me not in tasks:
        raise ValueError(f"TF_CONFIG: this process's task ({me}) is not in its cluster ({', '.join(tasks)})")
    others = {name: address for name, address in tasks.items() if name != me}
    timeout = default_worker_timeout() if timeout is None else float(timeout)
    deadline, told = time.monotonic() + timeout, False
    reached, heard = set(), set()
    try:
        server = socket.create_server(("", int(tasks[me].rsplit(":", 1)[1])))
    except (OSError, ValueError) as err:
        raise OSError(getattr(err, "errno", None) or errno.EINVAL,
                      f"cannot listen on {tasks[me]}, this {me}'s address in TF_CONFIG: "
                      f"{getattr(err, 'strerror', None) or err}") from None
    with server:
        server.settimeout(0.1)
        while True:
            reached |= {name for name, address in others.items() if name not in reached and _greet(address, me)}
            heard |= _greeted(server, 0.5)
            missing = [f"{name} at {address}" for name, address in others.items()
                       if name not in reached or name not in heard]
            if not missing:
                return
            if not told:
                print(f"waiting for {', '.join(missing)} (TF_CONFIG) to start; giving up after {timeout:g} s "
                      f"(${WORKER_TIMEOUT_VAR} or `prodgen train --worker-timeout` sets it)", flush=True)
                told = True
            if time.monotonic() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, f"{', '.join(missing)} did not start within {timeout:g} s: "
                                                    f"run the same command there with its TF_CONFIG, or wait longer")


def get_strategy(mixed_precision=False, verbose=True, worker_timeout=None):
    """The tf.distribute strategy for this machine (or cluster), with a one-line description.

    TF_CONFIG naming 2+ workers -> MultiWorkerMirroredStrategy (train with `distributed_fit`:
    Keras 3's `fit` fails under it); 2+ visible GPUs -> MirroredStrategy over all of them;
    otherwise the default strategy (one device). Build and compile the trainer inside
    `with strategy.scope():`.
    mixed_precision: False, True (mixed_float16 on GPU, mixed_bfloat16 on CPU) or a policy name;
    it sets keras.mixed_precision.set_global_policy, so call this before building models.
    XLA is chosen per trainer: `trainer.compile(..., jit_compile=True)` (slower on this CPU).
    worker_timeout: seconds to wait for the other workers (`wait_for_workers`).
    """
    import tensorflow as tf

    workers = _workers()
    # The multi-worker strategy must exist before TensorFlow's runtime starts (listing logical
    # devices starts it).
    strategy = None
    if len(workers) > 1:
        wait_for_workers(worker_timeout)
        sigterm = signal.getsignal(signal.SIGTERM)
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        if sigterm is not None and threading.current_thread() is threading.main_thread():
            # TensorFlow's preemption notifier now swallows SIGTERM: give it back its handler.
            signal.signal(signal.SIGTERM, sigterm)
    gpus = tf.config.list_logical_devices("GPU")
    if mixed_precision:
        policy = mixed_precision if isinstance(mixed_precision, str) else (
            "mixed_float16" if gpus else "mixed_bfloat16")
        keras.mixed_precision.set_global_policy(policy)
    policy = keras.mixed_precision.global_policy().name
    if strategy is not None:
        text = f"MultiWorkerMirroredStrategy over {len(workers)} workers (this is worker {strategy.cluster_resolver.task_id})"
    elif len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([g.name for g in gpus])
        text = f"MirroredStrategy over {len(gpus)} GPUs"
    else:
        strategy = tf.distribute.get_strategy()
        device = "1 GPU" if gpus else f"CPU ({os.cpu_count()} cores)"
        text = f"default strategy on {device}"
    if verbose:
        print(f"strategy: {text}, {strategy.num_replicas_in_sync} replica(s), policy {policy}")
    return strategy


def is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """Whether this process writes the run's files: always, except on workers other than 0."""
    return not is_multi_worker(strategy) or strategy.cluster_resolver.task_id == 0


def distributed_fit(trainer, dataset, strategy, epochs, steps_per_epoch, initial_epoch=0,
                    callbacks=(), verbose=1):
    """`fit` under MultiWorkerMirroredStrategy, where Keras 3's own fails ("unsupported type
    PerReplica", keras-team/keras#20585): the trainer's `train_step` runs under `strategy.run`
    on each replica's share of every batch of `dataset` (which must repeat), the optimisers
    all-reduce the gradients, and the replicas' logs are averaged. The callbacks are called as
    `fit` calls them; a stop that any worker's callbacks ask for (time budget, NaN guard) stops
    every worker after the same step. Returns a keras History."""
    import tensorflow as tf

    batches = iter(strategy.experimental_distribute_dataset(dataset))

    @tf.function
    def step(batch):
        logs = strategy.run(trainer.train_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

    @tf.function
    def anyone_stops(flag):
        votes = strategy.run(lambda: tf.distribute.get_replica_context().all_reduce("SUM", tf.identity(flag)))
        return strategy.reduce("SUM", votes, axis=None) > 0

    history = keras.callbacks.History()
    callbacks = keras.callbacks.CallbackList([*callbacks, history], model=trainer, verbose=verbose,
                                             epochs=epochs, steps=steps_per_epoch)
    trainer.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        logs = {}
        for i in range(steps_per_epoch):
            callbacks.on_train_batch_begin(i)
            logs = {k: float(v) for k, v in step(next(batches)).items()}
            callbacks.on_train_batch_end(i, logs)
            if anyone_stops(tf.constant(float(trainer.stop_training))):
                trainer.stop_training = True
                break
        callbacks.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break
    callbacks.on_train_end()
    return history


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
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix="." + path.name, dir=path.parent)
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
        if err.errno is not None and (err.filename is None or Path(err.filename).name.startswith(TEMP_PREFIX)):
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


def check_free_space(path, size, margin=1 << 20):
    """Raise ENOSPC naming `path` unless its folder's file system has room for `size` bytes plus
    `margin` (metadata), so that a file known to be too large is refused before it is written."""
    stat = os.statvfs(Path(path).parent)
    free = stat.f_bavail * stat.f_frsize
    if free < size + margin:
        raise OSError(errno.ENOSPC, f"No space left on device: it needs {size / 1e6:.1f} MB and "
                                    f"{free / 1e6:.1f} MB are free", str(path))


# ---------------------------------------------------------------------------------------------
# one writer per run folder

LOCK_NAME = "run.lock"


def _made_folders(folder):
    """Make `folder` and its missing parents; returns the ones made, outermost first."""
    missing, path = [], Path(folder).absolute()
    while not path.exists():
        missing.insert(0, path)
        path = path.parent
    Path(folder).mkdir(parents=True, exist_ok=True)
    return missing


def _holder(text):
    """Who a lock file names, in words."""
    try:
        h = json.loads(text)
        return f"PID {h['pid']} on {h['host']} (`{h['command']}`, since {h['started']})"
    except (ValueError, TypeError, KeyError):
        return "a process that left no readable note in it"


@contextlib.contextmanager
def run_lock(folder, command=""):
    """Hold the lock of the run in `folder` (made if missing), as git holds index.lock: the file
    `folder/run.lock` names this process (PID, host, command, start). While it lives, a second
    `run_lock` on the folder raises OSError(EBUSY) naming it. The exclusion itself is the
    kernel's flock on that file, which a killed process loses: its lock file is then taken over.

    Yields the notes to show: a lock taken over, and the temporary files of interrupted saves
    removed (safe only now: no other writer can be making them). On leaving, the lock file goes,
    and so do the folders made for it if the run left nothing in them."""
    made = _made_folders(folder)
    path = Path(folder) / LOCK_NAME
    try:
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(os.pread(fd, 4096, 0))
                os.close(fd)
                raise OSError(errno.EBUSY, f"in use by another run, {holder}: wait for it to end, or "
                                           f"train into another folder", str(folder)) from None
            # The holder removes the file before it lets go: lock the file that is there now.
            if path.exists() and path.stat().st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)
        try:
            notes = []
            left = os.pread(fd, 4096, 0)
            if left:
                notes.append(f"took over the lock of a run that is no longer running: {_holder(left)}")
            me = dict(pid=os.getpid(), host=socket.gethostname(), command=command,
                      started=time.strftime("%Y-%m-%d %H:%M:%S"))
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
            temps = [p for d in (Path(folder), Path(folder) / "samples") if d.is_dir()
                     for p in d.glob(TEMP_PREFIX + "*") if p.is_file()]
            for p in temps:
                p.unlink()
            if temps:
                notes.append(f"removed {len(temps)} temporary file(s) an interrupted save left: "
                             + ", ".join(p.name for p in temps))
            yield notes
        finally:
            path.unlink()  # before letting go, so that nobody locks a file about to vanish
            os.close(fd)
    finally:
        for d in reversed(made):
            with contextlib.suppress(OSError):  # not empty: the run wrote something
                d.rmdir()


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


class _InMemoryWeights(io.BytesIO):
    """A .weights.h5 file in memory: Keras' save_weights writes HDF5 into a BytesIO (its H5IOStore
    takes one, as for .keras archives) once the name it is given ends in .weights.h5."""

    def __str__(self):
        return CHECKPOINT_NAME


def _save_checkpoint(trainer, path, epoch):
    """Write the trainer and `epoch` to `path` atomically (`atomic_write`).

    HDF5 writes into memory, and only plain Python I/O touches the disk: h5py on a full disk
    fails again in its file's destructor and the process later dies of a segmentation fault,
    whereas a plain write's ENOSPC is an ordinary OSError. Too little free space is refused
    before writing; either way the previous checkpoint stays."""
    import h5py

    _build_optimizers(trainer)  # same layout whether or not a step has run yet
    buffer = _InMemoryWeights()
    trainer.save_weights(buffer, overwrite=True)
    with h5py.File(buffer, "a") as f:
        f.attrs["epoch"] = int(epoch)
        f.attrs["weights_sha256"] = _weights_digest(f)[0]  # checked by `resume`
    payload = buffer.getbuffer()
    check_free_space(path, len(payload))  # the old file stays until the new one is whole
    with atomic_write(path) as tmp:
        Path(tmp).write_bytes(payload)


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
    if expected_digest is None:  # deleted or never written: nothing vouches for these weights
        raise ValueError(f"checkpoint {path} carries no weights_sha256, the checksum `prodgen train` writes "
                         "with every checkpoint, so its weights cannot be verified: it was altered, or not "
                         "written by prodgen; resume from another copy or start anew")
    if digest != expected_digest:
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


# ---------------------------------------------------------------------------------------------
# time budget and the training run


class TimeBudget(keras.callbacks.Callback):
    """Stop training after `seconds` of wall-clock time (checked after every batch)."""

    def __init__(self, seconds):
        super().__init__()
        if not (np.isfinite(float(seconds)) and seconds > 0):  # NaN would never stop, < 0 at once
            raise ValueError(f"seconds={seconds!r}: use a positive, finite number of seconds")
        self.seconds = float(seconds)
        self.exhausted = False

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start > self.seconds:
            self.exhausted = True
            self.model.stop_training = True


SETTINGS_NAME = "settings.json"


def make_training_data(model, catalogue, batch_size, seed=0, domains=None):
    """The tf.data pipeline `model` trains on: the catalogue's training split, scaled as the model
    wants it, with labels; for a translator, unpaired batches of its two `domains` (categories)."""
    from prodgen_lessons import models
    from prodgen_lessons.models import cyclegan

    s = models.spec(model)
    if s.kind == "translator":
        a, b = (catalogue.take("train", category=d)[0] for d in domains or cyclegan.DEFAULT_DOMAINS)
        return cyclegan.domain_pair_dataset(a, b, batch_size=batch_size, seed=seed)
    return catalogue.dataset("train", batch_size=batch_size, scale=s.scale, seed=seed)


def self_labelled_data(trainer, images, batch_size, seed=0, verbose=False):
    """(dataset, callback) of a trainer that labels its training images itself
    (`trainer.self_conditioning`: a self-conditioned GAN's clusters); `images` in its scale."""
    images = np.asarray(images)
    callback = trainer.self_conditioning(images[..., None] if images.ndim == 3 else images, seed=seed,
                                         verbose=verbose)
    return callback.dataset(batch_size, seed), callback


def train(model, data=None, epochs=None, batch_size=None, latent_dim=None, out_dir=None, resume=False,
          seed=0, minutes=None, options=None, domains=None, samples=True, verbose=1, strategy=None):
    """Train `model` on the catalogue `data` (default: Fashion-MNIST) the Keras way (`fit`), with
    checkpoints every epoch, sample grids and a NaN guard; stop after `minutes` if given. With
    `resume=True` an interrupted run in `out_dir` continues where it stopped.

    `out_dir` gets settings.json (the full build configuration: model, image shape, latent_dim,
    categories, options, batch size, seed, data), checkpoint.weights.h5, history.json (every
    epoch, kept across resumed runs) and samples/. Nothing is written there before the
    checkpoint to resume (if any) has loaded. Under a multi-worker strategy (TF_CONFIG) every
    worker trains, worker 0 writes. Returns (trainer, history dict of this call's epochs, info);
    info["stopped_on_nan"] says where NaNGuard stopped the run, info["skipped"] lists the
    unreadable files a folder catalogue loaded with skip_broken left out."""
    import tensorflow as tf

    from prodgen_lessons import models
    from prodgen_lessons.data import load_fashion_mnist

    s = models.spec(model)
    epochs = int(epochs if epochs is not None else 5)
    batch_size = int(batch_size if batch_size is not None else s.batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch size must be positive, got {epochs} and {batch_size}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if not resume and (out_dir / CHECKPOINT_NAME).exists():
            raise FileExistsError(f"{out_dir / CHECKPOINT_NAME} exists: pass resume=True "
                                  "(--resume) to continue it, or choose another output folder")
    budget = TimeBudget(minutes * 60) if minutes else None
    strategy = strategy or get_strategy(verbose=False)
    seed_everything(seed)
    data = data or load_fashion_mnist()
    options = dict(options or {})
    with strategy.scope():
        trainer = models.build(s.name, image_shape=data.image_shape, latent_dim=latent_dim,
                               num_classes=data.num_classes, **options)
    guard = NaNGuard(verbose=verbose > 0)
    callbacks = [guard]
    if hasattr(trainer, "self_conditioning"):  # it pairs each image with its cluster itself
        from prodgen_lessons.data import as_float

        dataset, labeller = self_labelled_data(trainer, as_float(data.take("train", n=None)[0], s.scale),
                                               batch_size, seed, verbose > 0)
        callbacks.append(labeller)
    else:
        dataset = make_training_data(s.name, data, batch_size, seed, domains)
    initial_epoch = 0
    history_log = grid = None
    writes = out_dir is not None and is_chief(strategy)
    if out_dir is not None:
        if resume:
            from prodgen_lessons.training import resume as load_checkpoint  # the argument hides it

            initial_epoch = load_checkpoint(trainer, out_dir)
            if verbose and initial_epoch:
                print(f"resuming from {out_dir / CHECKPOINT_NAME} after epoch {initial_epoch}")
    if writes:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / SETTINGS_NAME,
                   dict(model=s.name, image_shape=list(data.image_shape), latent_dim=latent_dim or s.latent_dim,
                        num_classes=data.num_classes, options=options, batch_size=batch_size, seed=seed,
                        domains=list(domains) if domains else None, data=data.describe()), indent=1)
        history_log = HistoryLog(out_dir / "history.json", initial_epoch, guard=guard)
        callbacks += [Checkpoint(out_dir, guard=guard), history_log]
        if samples and s.kind == "generator":
            grid = SampleGrid(out_dir / "samples", n=100, seed=seed)
            callbacks.append(grid)
    if budget is not None:
        callbacks.append(budget)
    steps = int(dataset.cardinality())
    if steps < 0 or is_multi_worker(strategy):  # the workers draw equal numbers of batches from a repeat
        # (an unknown count, when unreadable files may be skipped: an epoch is a pass over the file list)
        steps = steps if steps > 0 else max(1, len(data.train) // batch_size)
        dataset = dataset.repeat()
    start = time.time()
    try:
        if is_multi_worker(strategy):
            history = distributed_fit(trainer, dataset, strategy, epochs, steps,
                                      initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose)
        else:
            validation = (data.dataset("test", batch_size=512, scale=s.scale, shuffle=False, drop_remainder=False)
                          if s.kind == "classifier" else None)
            history = trainer.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                                  steps_per_epoch=steps, validation_data=validation, shuffle=False,
                                  verbose=verbose)  # the dataset shuffles
    except tf.errors.OpError:
        if getattr(data, "read_error", None) is not None:  # a file the stream could not decode
            raise data.read_error from None
        raise
    seconds = time.time() - start
    h = {k: [float(v) for v in vs] for k, vs in (history.history if history else {}).items()}
    epochs_done = initial_epoch + len(next(iter(h.values()), []))
    stopped_on_nan = None
    if guard.stopped is not None:  # that epoch did not finish: not in the history or the checkpoint
        epoch, batch, metric, value = guard.stopped
        epochs_done = epoch
        h = {k: v[:epoch - initial_epoch] for k, v in h.items()}
        stopped_on_nan = dict(epoch=epoch + 1, batch=int(batch), metric=metric, value=str(value))
    info = dict(seconds=seconds, epochs_done=epochs_done,
                stopped_by_time=bool(budget and budget.exhausted), stopped_on_nan=stopped_on_nan,
                data=data.source, precision=getattr(trainer, "generator", trainer).dtype_policy.name,
                skipped=list(getattr(data, "skipped", [])))
    if history_log is not None:
        history_log.write(**info)
    if grid is not None and (out_dir / "samples").exists():
        try:
            grid.make_gif()
        except ValueError:  # no epoch finished: no grid to animate
            pass
    return trainer, h, info
