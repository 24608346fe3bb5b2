"""A run's files stay right under real faults (issue #40): a second writer, a full disk, a worker
that never comes, and odd catalogues. Every fault here is real -- a second process, a small tmpfs
(root only), a TF_CONFIG port nobody listens on, files whose names are not UTF-8 -- and every
command runs as a user runs it, in a process of its own."""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodgen_lessons import training

SMALL = ["--data", "sample", "--latent-dim", "8", "--batch-size", "64"]  # a small cGAN: 10 MB checkpoints


def env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def prodgen(*argv, cwd=None, **extra_env):
    """The command as a user runs it: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "prodgen_lessons.cli", *map(str, argv)], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=env(**extra_env))
    return done.returncode, done.stdout, done.stderr


def start(*argv, **extra_env):
    """The command started in the background."""
    return subprocess.Popen([sys.executable, "-m", "prodgen_lessons.cli", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**extra_env))


def error_line(err):
    """The one line a failed command writes to stderr (TensorFlow's own C++ log lines aside)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("E0000", "W0000"))]
    assert len(lines) == 1, err
    return lines[0]


def wait_for(condition, what, seconds=300):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.2)


def holds_lock(process, run):
    """Whether `process` holds the lock of `run` (its lock file names its PID)."""
    try:
        return json.loads((run / training.LOCK_NAME).read_text())["pid"] == process.pid
    except (OSError, ValueError):
        return False


def files(folder):
    """{relative path: bytes} of every file under `folder`."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch run of a small cGAN on the sample, made by `prodgen train`."""
    run = tmp_path_factory.mktemp("trained") / "run"
    code, out, err = prodgen("train", "cgan", *SMALL, "--epochs", "1", "--out", run)
    assert code == 0, err
    return run


# ------------------------------------------------------------------ 1. one writer per run

def test_a_second_writer_is_refused_while_the_first_lives(tmp_path):
    run = tmp_path / "run"
    first = start("train", "cgan", *SMALL, "--epochs", "1000", "--out", run)
    try:
        wait_for(lambda: (holds_lock(first, run) and (run / "settings.json").exists()) or first.poll() is not None,
                 "the first run to start training")
        assert first.poll() is None, first.communicate()
        code, out, err = prodgen("train", "cgan", "--data", "sample", "--latent-dim", "16", "--epochs", "1",
                                 "--out", run)
        assert code == 1 and "done" not in out
        line = error_line(err)
        assert f"{run}: in use by another run, PID {first.pid}" in line, line
        assert "--latent-dim 8" in line  # the holder's command
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 130, err
    assert not (run / training.LOCK_NAME).exists()  # released on Ctrl-C too
    assert json.loads((run / "settings.json").read_text())["latent_dim"] == 8  # the refused run wrote nothing


def test_a_lock_left_by_a_killed_run_is_taken_over_and_its_temporary_files_removed(tmp_path):
    run = tmp_path / "run"
    killed = start("train", "cgan", *SMALL, "--epochs", "1000", "--out", run)
    try:
        wait_for(lambda: holds_lock(killed, run) or killed.poll() is not None, "the run's lock")
    finally:
        killed.kill()
        killed.communicate()
    assert holds_lock(killed, run)  # a killed process leaves its lock file behind
    (run / ".tmp-k1ll3d.checkpoint.weights.h5").write_bytes(b"\0" * 4096)  # what a killed save leaves
    code, out, err = prodgen("train", "cgan", *SMALL, "--epochs", "1", "--out", run)
    assert code == 0, err
    assert f"took over the lock of a run that is no longer running: PID {killed.pid}" in err
    assert "removed 1 temporary file(s) an interrupted save left: .tmp-k1ll3d.checkpoint.weights.h5" in err
    assert sorted(os.listdir(run)) == ["checkpoint.weights.h5", "history.json", "samples", "settings.json"]


def test_a_refused_run_leaves_no_lock_and_no_folder(tmp_path):
    code, out, err = prodgen("train", "cgan", "--data", tmp_path / "missing", "--out", tmp_path / "new" / "run")
    assert code == 1 and "no such folder" in error_line(err)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ 2. a full disk

@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tmpfs of the size asked for at tmp_path/disk; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs, which only root can mount")
    mounted = []

    def mount(size):
        disk = tmp_path / "disk"
        disk.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_at_the_first_checkpoint_is_one_line(tmpfs):
    disk = tmpfs("200k")
    code, out, err = prodgen("train", "cgan", *SMALL, "--minutes", "0.1", "--epochs", "1", "--out", disk / "run")
    assert code == 1, err  # not 139: h5py no longer writes to the full disk
    line = error_line(err)
    assert line.startswith(f"prodgen: error: {disk / 'run' / 'checkpoint.weights.h5'}: No space left on device")
    assert "MB are free" in line
    assert os.listdir(disk / "run") == ["settings.json"]  # no temporary file, no lock


def test_a_full_disk_keeps_the_old_checkpoint(trained, tmpfs):
    disk = tmpfs("16m")  # room for one 10 MB checkpoint, not for a second beside it
    run = disk / "run"
    shutil.copytree(trained, run)
    before = files(run)
    code, out, err = prodgen("train", "cgan", "--resume", "--epochs", "2", "--out", run)
    assert code == 1
    assert f"{run / 'checkpoint.weights.h5'}: No space left on device" in error_line(err)
    assert files(run) == before  # the old checkpoint and history intact, no temporary file


def test_a_write_that_fills_the_disk_is_an_error_not_a_crash(trained, tmpfs, tmp_path):
    """Without the free-space check, the checkpoint's write itself fails with ENOSPC."""
    disk = tmpfs("16m")
    run = disk / "run"
    shutil.copytree(trained, run)
    before = files(run)
    script = tmp_path / "unchecked.py"
    script.write_text("import sys\nfrom prodgen_lessons import cli\n"
                      "cli._import_tensorflow_quietly()\nfrom prodgen_lessons import training\n"
                      "training.check_free_space = lambda path, size: None\n"
                      "sys.exit(cli.main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, str(script), "train", "cgan", "--resume", "--epochs", "2", "--out", run],
                          capture_output=True, text=True, timeout=600, env=env())
    assert done.returncode == 1, done.stderr
    assert error_line(done.stderr) == f"prodgen: error: {run / 'checkpoint.weights.h5'}: No space left on device"
    assert files(run) == before


# ------------------------------------------------------------------ 3. a worker that never comes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lonely_worker():
    """TF_CONFIG of worker 0 of two, whose worker 1 nobody starts."""
    cluster = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    return json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": 0}}), cluster[1]


def test_a_worker_that_never_comes_is_named_and_given_up_on(tmp_path):
    config, missing = lonely_worker()
    code, out, err = prodgen("train", "cgan", *SMALL, "--worker-timeout", "2", "--out", tmp_path / "run",
                             TF_CONFIG=config)
    assert code == 1
    assert f"waiting for worker 1 at {missing} (TF_CONFIG) to start; giving up after 2 s" in out
    assert error_line(err) == (f"prodgen: error: worker 1 at {missing} did not start within 2 s: run the same "
                               "command there with its TF_CONFIG, or wait longer")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("signum,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_waiting_for_workers_ends_on_a_signal(tmp_path, signum, code, word):
    config, missing = lonely_worker()
    waiting = start("train", "cgan", *SMALL, "--out", tmp_path / "run", TF_CONFIG=config)
    try:
        assert "waiting for worker 1" in waiting.stdout.readline()  # the default wait: 300 s
        waiting.send_signal(signum)
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == code
    assert error_line(err) == f"prodgen: {word}"
    assert os.listdir(tmp_path) == []  # the lock released, the folder made for it gone


def test_a_bad_worker_timeout_is_refused_before_any_work(tmp_path):
    config, _ = lonely_worker()
    code, out, err = prodgen("train", "cgan", "--out", tmp_path / "run", TF_CONFIG=config,
                             PRODGEN_WORKER_TIMEOUT="soon")
    assert code == 1 and "PRODGEN_WORKER_TIMEOUT='soon': use a positive number of seconds" in error_line(err)
    code, out, err = prodgen("train", "cgan", "--worker-timeout", "0", "--out", tmp_path / "run")
    assert code == 2 and "--worker-timeout" in error_line(err)
    assert os.listdir(tmp_path) == []
