"""A run's files stay right under real faults (issue #40): a second writer, a full disk, a worker
that never comes, and odd catalogues. Every fault here is real -- a second process, a small tmpfs
(root only), a TF_CONFIG port nobody listens on, files whose names are not UTF-8 -- and every
command runs as a user runs it, in a process of its own."""

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
    """The command started in the background, with Ctrl-C's default action (a test runner's
    worker may ignore SIGINT, and its children would inherit that)."""
    return subprocess.Popen([sys.executable, "-m", "prodgen_lessons.cli", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**extra_env),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


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


# ------------------------------------------------------------------ 4. a folder's name is its category

def write_shop(root, folders, per_folder=6):
    """A shop folder: `per_folder` small PNGs in each of `folders` (str or bytes names)."""
    import numpy as np
    from PIL import Image

    for k, name in enumerate(folders):
        folder = os.path.join(os.fsencode(root), os.fsencode(name))
        os.makedirs(folder)
        for i in range(per_folder):
            Image.fromarray(np.full((20, 20, 3), 40 * k + i, np.uint8)).save(os.path.join(folder, b"%d.png" % i))
    return root


def test_a_folder_is_its_category_whatever_its_name(tmp_path):
    from prodgen_lessons import data

    shop = write_shop(tmp_path / "shop", ["1", "7", "Sneaker", "运动鞋"])
    catalogue = data.load_catalogue(shop)
    assert [catalogue.category_index(n) for n in ("1", "7", "Sneaker", "运动鞋")] == [0, 1, 2, 3]
    assert catalogue.class_names_zh == (None, None, None, "运动鞋")  # nothing of Fashion-MNIST's 1 and 7
    code, out, err = prodgen("data", "info", "--data", shop)
    assert code == 0, err
    rows = {line.split()[1]: line for line in out.splitlines()[1:]}
    assert "裤子" not in rows["1"] and "运动鞋" not in rows["7"] and "运动鞋" not in rows["Sneaker"]

    run = tmp_path / "run"
    code, out, err = prodgen("train", "cgan", "--data", shop, "--image-size", "16", "--epochs", "1",
                             "--batch-size", "8", "--latent-dim", "8", "--out", run)
    assert code == 0, err
    assert json.loads((run / "settings.json").read_text())["data"]["class_names_zh"] == [None, None, None, "运动鞋"]
    for category, drawn in (("运动鞋", "运动鞋"), ("7", "7"), ("3", "运动鞋")):  # an index only where no folder has the name
        code, out, err = prodgen("generate", "cgan", "--checkpoint", run, "--category", category, "--count", "4",
                                 "--out", tmp_path / "grid.png")
        assert code == 0 and f"4 cgan images ({drawn}, seed 0)" in out, (category, out, err)


def test_a_fashion_mnist_name_keeps_its_translation_when_no_folder_has_it(tmp_path):
    from prodgen_lessons import data

    catalogue = data.load_catalogue(write_shop(tmp_path / "shop", ["Sneaker", "Bag"], per_folder=2))
    assert catalogue.class_names_zh == ("包", "运动鞋") and catalogue.category_index("运动鞋") == 1  # sorted: Bag, Sneaker


# ------------------------------------------------------------------ 5. other defects of the same kind

def test_a_file_name_that_is_not_utf8_is_named_or_skipped(tmp_path):
    shop = write_shop(tmp_path / "shop", ["bag", "shoe"])
    shutil.copy(os.fsencode(shop / "bag" / "0.png"), os.fsencode(shop / "bag") + b"/caf\xe9.png")  # Latin-1
    code, out, err = prodgen("data", "info", "--data", shop)
    assert code == 1
    line = error_line(err)
    assert f"{shop}/bag/caf\\xe9.png: the file name is not valid UTF-8" in line and "--skip-broken" in line
    code, out, err = prodgen("data", "info", "--data", shop, "--skip-broken")  # the option it advises
    assert code == 0 and f"skipped 1 unreadable files: {shop}/bag/caf\\xe9.png" in err, err
    run = tmp_path / "run"
    code, out, err = prodgen("train", "cgan", "--data", shop, "--skip-broken", "--image-size", "16", "--epochs", "1",
                             "--batch-size", "4", "--latent-dim", "8", "--out", run)
    assert code == 0, err
    assert json.loads((run / "history.json").read_text())["skipped"] == [f"{shop}/bag/caf\\xe9.png"]

    os.rename(os.fsencode(shop / "shoe"), os.fsencode(shop) + b"/chaussure-\xe9t\xe9")
    code, out, err = prodgen("data", "info", "--data", shop, "--skip-broken")
    assert code == 1
    assert error_line(err) == (f"prodgen: error: {shop}/chaussure-\\xe9t\\xe9: a category folder's name must be "
                               "valid UTF-8 (it names the category); rename it")


def test_a_test_split_too_small_to_measure_is_said_before_training(tmp_path):
    shop = write_shop(tmp_path / "shop", ["bag", "dress", "shoe"], per_folder=1)  # nothing to hold out
    thin = f"the test split of {shop} holds 0 image(s), none of bag, dress, shoe"
    code, out, err = prodgen("data", "info", "--data", shop)
    assert code == 0 and thin in err
    code, out, err = prodgen("train", "classifier", "--data", shop, "--image-size", "16", "--batch-size", "1",
                             "--out", tmp_path / "judge")
    assert code == 1 and thin in error_line(err) and "add photos" in error_line(err)
    assert not (tmp_path / "judge").exists()
    code, out, err = prodgen("train", "cgan", "--data", shop, "--image-size", "16", "--epochs", "1",
                             "--batch-size", "1", "--latent-dim", "8", "--out", tmp_path / "run")
    assert code == 0 and f"note: {thin}" in err and "`prodgen evaluate` refuses this run" in err
    code, out, err = prodgen("evaluate", "cgan", "--checkpoint", tmp_path / "run")
    assert code == 1 and thin in error_line(err)


def test_resume_on_other_data_is_a_usage_error(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = files(run)
    shop = write_shop(tmp_path / "shop", ["bag", "shoe"])
    code, out, err = prodgen("train", "cgan", "--resume", "--data", shop, "--epochs", "2", "--out", run)
    assert code == 2
    assert error_line(err) == (f"prodgen: error: --data {shop} contradicts the data of the run in {run} (sample, "
                               "in its settings.json): leave --data out to continue on it")
    assert files(run) == before
    code, out, err = prodgen("train", "cgan", "--resume", "--data", "sample", "--epochs", "2", "--out", run)
    assert code == 0 and "done: 2 epochs" in out, err  # the run's own data may be named


def test_a_very_long_out_says_why_in_a_short_line(tmp_path):
    deep = tmp_path.joinpath(*["d" * 200] * 22)  # over 4,096 bytes: more than Linux takes for a path
    code, out, err = prodgen("train", "cgan", "--data", "sample", "--out", deep)
    assert code == 1
    line = error_line(err)
    assert len(line) < 400 and line.startswith("prodgen: error: /") and " ... " in line  # both ends of the path
    assert "File name too long: a path of" in line and "this file system takes 4,095 and 255" in line
    code, out, err = prodgen("generate", "cgan", "--out", tmp_path / ("x" * 300 + ".png"))
    assert code == 1 and "File name too long" in error_line(err) and len(error_line(err)) < 400
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ 6. weak spots

def edited_run(trained, tmp_path, edit):
    """A copy of the trained run whose settings.json `edit` changed (in place) by hand."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    settings = json.loads((run / "settings.json").read_text())
    edit(settings)
    (run / "settings.json").write_text(json.dumps(settings))
    return run


@pytest.mark.parametrize("edit,problem", [
    (lambda s: s.update(latent_dim=10**9),
     "latent_dim 1,000,000,000 is out of range: `prodgen train` takes 1 to 1,024"),  # was an OOM after 14 s
    (lambda s: s.setdefault("options", {}).update(wings=2), "options.wings is not an option of cgan; it takes: "),
    (lambda s: s["data"].update(origin=7), "data.origin is 7; it names the data as text"),
], ids=["latent_dim", "option", "origin"])
def test_a_hand_edited_settings_file_is_refused_naming_the_field(trained, tmp_path, edit, problem):
    run = edited_run(trained, tmp_path, edit)
    before = files(run)
    for argv in (["generate", "cgan", "--checkpoint", run, "--count", "4", "--out", tmp_path / "grid.png"],
                 ["train", "cgan", "--resume", "--epochs", "2", "--out", run]):
        code, out, err = prodgen(*argv)
        assert code == 1, err
        assert error_line(err).startswith(f"prodgen: error: {run / 'settings.json'}: {problem}"), err
    assert files(run) == before and not (tmp_path / "grid.png").exists()


def test_a_checkpoint_without_its_checksum_is_refused(trained, tmp_path):
    import h5py

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    with h5py.File(run / training.CHECKPOINT_NAME, "a") as f:
        del f.attrs["weights_sha256"]  # the one attribute that vouches for the weights
    before = files(run)
    code, out, err = prodgen("generate", "cgan", "--checkpoint", run, "--count", "4", "--out", tmp_path / "grid.png")
    assert code == 1
    assert error_line(err).startswith(f"prodgen: error: checkpoint {run / training.CHECKPOINT_NAME} carries no "
                                      "weights_sha256")
    assert files(run) == before and not (tmp_path / "grid.png").exists()


def test_a_guidance_that_overflows_is_a_usage_error(tmp_path):
    code, out, err = prodgen("generate", "cvae", "--guidance", "1e308", "--out", tmp_path / "grid.png")
    assert code == 2
    assert "argument --guidance: 1e308 is out of range: use a number from 0 to 100" in error_line(err)
    assert os.listdir(tmp_path) == []


def png_header(path, width, height):
    """A PNG whose header claims width x height pixels, with almost no pixel data (a few hundred
    bytes on disk; decoding it would fail, which is how we know the check read only the header)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(10))) + chunk(b"IEND", b""))


def test_an_image_with_too_many_pixels_is_refused_from_its_header(tmp_path):
    shop = write_shop(tmp_path / "shop", ["bag", "shoe"])
    png_header(shop / "bag" / "huge.png", 13_000, 13_000)  # 169 million pixels: 507 MB decoded
    huge = f"{shop / 'bag' / 'huge.png'}: 13,000x13,000 pixels is more than the 40,000,000 this reader decodes"
    code, out, err = prodgen("data", "info", "--data", shop)
    assert code == 1 and error_line(err).startswith(f"prodgen: error: {huge}") and "--max-pixels" in err
    code, out, err = prodgen("train", "cgan", "--data", shop, "--image-size", "16", "--out", tmp_path / "run")
    assert code == 1 and error_line(err).startswith(f"prodgen: error: {huge}")
    code, out, err = prodgen("data", "info", "--data", shop, "--max-pixels", "20000000", PRODGEN_MAX_PIXELS="1000")
    assert code == 1 and "more than the 20,000,000 this reader" in error_line(err)  # the option wins
    code, out, err = prodgen("data", "info", "--data", shop, "--quiet", PRODGEN_MAX_PIXELS="200000000")
    assert code == 0 and "2 categories" in out, err  # raised: only Pillow's own limit is left
    code, out, err = prodgen("data", "info", "--data", shop, PRODGEN_MAX_PIXELS="lots")
    assert code == 1 and error_line(err) == ("prodgen: error: PRODGEN_MAX_PIXELS='lots': use a whole number of "
                                             "pixels, e.g. 100000000")
    assert sorted(os.listdir(tmp_path)) == ["shop"]


def test_an_idx_header_that_lies_is_refused_before_reading_the_file(tmp_path):
    import math

    import numpy as np

    from prodgen_lessons import data

    folder = tmp_path / "fashion"
    folder.mkdir()
    for name in data.FILES:
        data.write_idx(folder / name, np.zeros((2, 28, 28) if "images" in name else (2,), np.uint8))
    shape = (1, 32_767, 32_767)  # 1 GB that the header announces and the (sparse) file holds
    with open(folder / "train-images-idx3-ubyte", "wb") as f:
        f.write((2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape))
        f.truncate(16 + math.prod(shape))  # no disk used: a hole
    started = time.monotonic()
    code, out, err = prodgen("data", "info", "--data", folder)
    assert code == 1
    assert error_line(err) == (f"prodgen: error: {folder / 'train-images-idx3-ubyte'}: header says shape "
                               "(1, 32767, 32767), but Fashion-MNIST's train-images-idx3-ubyte is (60000, 28, 28): "
                               "corrupt, or not Fashion-MNIST")
    assert time.monotonic() - started < 60  # reading 1 GB and hashing it took longer, and 2.1 GB


def test_a_closed_stdout_is_one_line_and_no_work(tmp_path):
    for argv in (["models"], ["train", "cgan", "--data", "sample", "--epochs", "1", "--out", tmp_path / "run"]):
        done = subprocess.run([sys.executable, "-m", "prodgen_lessons.cli", *map(str, argv)], stderr=subprocess.PIPE,
                              text=True, timeout=600, env=env(), preexec_fn=lambda: os.close(1))  # `>&-`
        assert done.returncode == 1
        assert error_line(done.stderr) == ("prodgen: error: standard output is closed; nothing was done: send it "
                                           "to a file or /dev/null (> out.txt) instead of closing it")
    assert os.listdir(tmp_path) == []


def test_cyclegan_on_a_shop_says_how_to_name_its_two_domains(tmp_path):
    shop = write_shop(tmp_path / "shop", ["bag", "dress", "shoe"])
    run = tmp_path / "run"
    code, out, err = prodgen("train", "cyclegan", "--data", shop, "--image-size", "16", "--out", run)
    assert code == 2
    assert error_line(err) == ("prodgen: error: cyclegan translates between two categories, named with --domains "
                               f"A B; without it, Fashion-MNIST's Sneaker and Ankle boot, which {shop} does not "
                               "have: name two of its categories (bag, dress, shoe)")
    code, out, err = prodgen("train", "cyclegan", "--data", shop, "--domains", "bag", "hat", "--out", run)
    assert code == 2 and "--domains: unknown category 'hat'" in error_line(err)
    code, out, err = prodgen("train", "cgan", "--data", shop, "--domains", "bag", "shoe", "--out", run)
    assert code == 2 and "cgan does not translate" in error_line(err)
    assert sorted(os.listdir(tmp_path)) == ["shop"]
    code, out, err = prodgen("train", "cyclegan", "--data", shop, "--domains", "bag", "shoe", "--image-size", "16",
                             "--batch-size", "2", "--epochs", "1", "--out", run)
    assert code == 0, err
    assert json.loads((run / "settings.json").read_text())["domains"] == ["bag", "shoe"]
