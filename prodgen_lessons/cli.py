"""`prodgen`: the course's command line.

    prodgen data info [--require-full]
    prodgen train MODEL [--epochs N --batch-size N --latent-dim N --minutes M --seed N
                         --data fashion-mnist|PATH --out DIR --resume]
    prodgen generate MODEL [--category "ankle boot"] [--count 64] [--seed 0] [--out grid.png] [--checkpoint DIR]
    prodgen evaluate MODEL [--checkpoint DIR] [--sample-size N]
    prodgen models

Exit codes: 0 success, 1 an error the message explains (bad data, missing checkpoint, a folder
that cannot be written, a full disk, training stopped on NaN, ...), 2 a usage error (unknown
model or category, bad option value, an option that contradicts the run being resumed),
130 interrupted. Errors are one line on stderr, never a traceback. A refused command changes no
file; `train --resume` takes the build settings from the run's settings.json.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_COUNT = 10_000      # images in one generated grid (about 2,900 x 2,900 pixels)
SAMPLE_CHUNK = 500      # images per forward pass, so memory does not grow with --count
MAX_SAMPLE_SIZE = 10_000  # the test set's size; each set is generated in one forward pass
MAX_LATENT_DIM = 1024   # the course's models use 16 to 64
MAX_SEED = 2**32 - 1    # NumPy's seed range
SETTINGS_NAME = "settings.json"


class UsageError(Exception):
    """A bad command line: unknown model, category or option value."""


# ------------------------------------------------------------------------------- option values

def _int_range(low, high=None, what=""):
    """An argparse `type`: a whole number from `low` to `high` (None: no upper end)."""
    valid = (f"use a whole number from {low:,} to {high:,}" if high is not None
             else f"use a whole number of {low:,} or more") + what

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r} ({valid})") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: {valid}")
        return value
    return parse


def _minutes(text):
    """An argparse `type`: a positive, finite number of minutes."""
    valid = "use a positive number of minutes, e.g. 20 or 0.5"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r} ({valid})") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is out of range: {valid}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse reporting a bad command line in one line, with where to read more."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# ------------------------------------------------------------------------------- checks

def _model_name(name):
    from prodgen_lessons import models

    try:
        return models.spec(name).name
    except ValueError as err:
        raise UsageError(str(err)) from None


def _load_data(source):
    from prodgen_lessons import data

    if source in (None, "fashion-mnist"):
        return data.load_fashion_mnist()
    return data.load_fashion_mnist(data_dir=source)


def _check_output_folder(folder):
    """Refuse, before any work, a folder that cannot be made or written: an OSError naming it."""
    path = os.path.abspath(folder)
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    where = "" if existing == path else f"cannot create it: {existing} "
    if not os.path.isdir(existing):
        raise NotADirectoryError(errno.ENOTDIR, (where or "exists but ") + "is not a folder", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        raise PermissionError(errno.EROFS if read_only else errno.EACCES,
                              (where or "") + ("is on a read-only file system" if read_only
                                               else "is not writable"), path)


def _check_output_image(path):
    """Refuse, before any work, an image name Pillow cannot write or a folder it cannot go in."""
    from PIL import Image

    Image.init()
    suffix = os.path.splitext(path)[1].lower()
    if Image.registered_extensions().get(suffix) not in Image.SAVE:
        raise UsageError(f"--out {path}: {'no' if not suffix else 'unknown'} image type "
                         f"{suffix!r}; name a .png file, e.g. --out grid.png")
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a folder; name the image file, e.g. grid.png", path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder", path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"folder {folder} does not exist", path)
    _check_output_folder(folder)


def _read_settings(folder):
    """The build configuration `prodgen train` saved in `folder` (model, latent_dim, batch_size,
    seed, options), or None when there is none."""
    path = os.path.join(folder, SETTINGS_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            settings = json.load(f)
    except ValueError as err:  # also a file that is not UTF-8
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not (isinstance(settings, dict) and isinstance(settings.get("model"), str)
            and isinstance(settings.get("options", {}), dict)
            and all(settings.get(k) is None or (type(settings[k]) is int and settings[k] >= 0)
                    for k in ("latent_dim", "batch_size", "seed"))):
        raise ValueError(f"{path}: not a `prodgen train` settings file (model, latent_dim, "
                         "batch_size, seed, options)")
    return settings


def _check_run_model(settings, name, folder):
    if settings is not None and settings["model"] != name:
        raise ValueError(f"{folder} holds a {settings['model']} run (see its {SETTINGS_NAME}), "
                         f"not {name}: name {settings['model']}, or use another folder")


def _load_trainer(name, checkpoint):
    """A trainer from a `prodgen train` output folder, or the shipped pretrained model."""
    from prodgen_lessons import models, pretrained, training

    if checkpoint is None:
        return pretrained.load_pretrained(name)
    folder = os.path.abspath(checkpoint)
    if not os.path.exists(os.path.join(folder, training.CHECKPOINT_NAME)):
        raise FileNotFoundError(f"no {training.CHECKPOINT_NAME} in {folder}: pass the --out folder "
                                f"of `prodgen train {name}`, or leave out --checkpoint for the shipped model")
    settings = _read_settings(folder)
    _check_run_model(settings, name, folder)
    settings = settings or {}
    trainer = models.build(name, latent_dim=settings.get("latent_dim"), **settings.get("options", {}))
    training.resume(trainer, folder)  # raises, naming the file, if it does not fit this model
    return trainer


def cmd_models(args) -> int:
    from prodgen_lessons import models, pretrained

    for name, s in models.MODELS.items():
        shipped = "pretrained" if (pretrained.PRETRAINED_DIR / name / "card.json").exists() else "          "
        print(f"{name:<11} {shipped}  {s.description}")
    return EXIT_OK


def cmd_data_info(args) -> int:
    from prodgen_lessons import data

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = data.load_fashion_mnist(data_dir=args.data_dir)
    full = not ds.source.startswith("bundled sample")
    print(f"Fashion-MNIST from {ds.source}: {len(ds.x_train):,} training and "
          f"{len(ds.x_test):,} test images, {ds.x_train.shape[1]}x{ds.x_train.shape[2]} grayscale")
    if not args.quiet:
        counts = [int((ds.y_train == i).sum()) for i in range(data.NUM_CLASSES)]
        for i, (en, zh) in enumerate(zip(data.CATEGORIES, data.CATEGORIES_ZH)):
            print(f"  {i}  {en:<12} {zh:<6} {counts[i]:>6,} training images")
    if not full:
        print(f"note: this is the small bundled sample; {data.GET_FULL_SET}", file=sys.stderr)
        if args.require_full:
            return EXIT_ERROR
    return EXIT_OK


def cmd_train(args) -> int:
    from prodgen_lessons import models, pretrained, training

    name = _model_name(args.model)
    s = models.spec(name)
    out = args.out or os.path.join("runs", name)
    checkpoint = os.path.join(out, training.CHECKPOINT_NAME)
    # Everything is checked before anything is written: a refused command changes no file.
    _check_output_folder(out)
    _check_output_folder(os.path.join(out, "samples"))
    saved = _read_settings(out) if os.path.isdir(out) else None
    _check_run_model(saved, name, out)
    build = dict(latent_dim=args.latent_dim, batch_size=args.batch_size, seed=args.seed)
    options = {}
    if args.resume:
        if not os.path.exists(checkpoint):
            raise FileNotFoundError(f"no {training.CHECKPOINT_NAME} in {os.path.abspath(out)} to resume: "
                                    "leave out --resume to start a new run there")
        if saved is not None:
            defaults = dict(latent_dim=s.latent_dim, batch_size=s.batch_size, seed=0)
            for key, value in build.items():
                kept = saved.get(key) if saved.get(key) is not None else defaults[key]
                if value is not None and value != kept:
                    option = "--" + key.replace("_", "-")
                    raise UsageError(f"{option} {value} contradicts the {key} {kept} of the run in {out} "
                                     f"(its {SETTINGS_NAME}): leave {option} out to continue with {kept}")
                build[key] = kept
            options = saved.get("options", {})
    elif os.path.exists(checkpoint):
        raise FileExistsError(f"{checkpoint} exists: pass --resume to continue that run, or choose "
                              "another --out folder")
    seed = build["seed"] if build["seed"] is not None else 0
    data = _load_data(args.data)
    print(f"training {name} on {data.source} -> {out}")
    trainer, history, info = pretrained.train(name, epochs=args.epochs, batch_size=build["batch_size"],
                                              latent_dim=build["latent_dim"], data=data, out_dir=out,
                                              resume=args.resume, seed=seed, minutes=args.minutes,
                                              options=options)
    nan = info.get("stopped_on_nan")
    if nan:
        kept = (f"{checkpoint} keeps epoch {info['epochs_done']}, the last good one"
                if info["epochs_done"] else "no epoch finished, so there is no checkpoint")
        _error(f"training stopped on NaN: {nan['metric']}={nan['value']} at epoch {nan['epoch']}, "
               f"batch {nan['batch']}; {kept}")
        return EXIT_ERROR
    if not history:
        print(f"nothing to do: the run in {out} has trained {info['epochs_done']} epochs already; "
              f"pass a larger --epochs to continue it")
        return EXIT_OK
    limit = " (the --minutes limit)" if info["stopped_by_time"] else ""
    print(f"done: {info['epochs_done']} epochs in {info['seconds']:.0f} s{limit}; checkpoint, history "
          f"and samples in {out}")
    return EXIT_OK


def _sample(trainer, count, labels, seed):
    """`trainer.sample` in chunks of SAMPLE_CHUNK images, so memory does not grow with `count`.

    The first chunk uses `seed` itself (a grid of up to SAMPLE_CHUNK images is what one
    `sample(count, seed=seed)` call gives); chunk i draws from SeedSequence([seed, i]), so no two
    seeds share images. SAMPLE_CHUNK is a multiple of 10: unlabelled conditional sampling keeps
    cycling through the categories across chunks.
    """
    import numpy as np

    parts = []
    for i, start in enumerate(range(0, count, SAMPLE_CHUNK)):
        n = min(SAMPLE_CHUNK, count - start)
        chunk_seed = seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        parts.append(trainer.sample(n, labels=None if labels is None else labels[start:start + n],
                                    seed=chunk_seed))
    return np.concatenate(parts)


def cmd_generate(args) -> int:
    import numpy as np

    from prodgen_lessons import data, models, plotting, training

    name = _model_name(args.model)
    s = models.spec(name)
    if name in ("classifier", "cyclegan"):
        raise UsageError(f"{name} does not generate from noise; generative models are: "
                         + ", ".join(n for n in models.MODELS if n not in ("classifier", "cyclegan")))
    labels = None
    if args.category is not None:
        if not s.conditional:
            raise UsageError(f"{name} is not conditional, so --category does not apply; "
                             "conditional models are: " + ", ".join(n for n, m in models.MODELS.items() if m.conditional))
        try:
            labels = np.full(args.count, data.category_index(args.category))
        except ValueError as err:
            raise UsageError(str(err)) from None
    _check_output_image(args.out)
    trainer = _load_trainer(name, args.checkpoint)
    images = _sample(trainer, args.count, labels, args.seed)
    grid = plotting.image_grid(images, ncols=int(np.ceil(np.sqrt(args.count))))
    training.save_png(grid, args.out)
    what = data.category_name(labels[0]) if labels is not None else "mixed"
    print(f"{args.count} {name} images ({what}, seed {args.seed}) -> {args.out}")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from prodgen_lessons import metrics, pretrained

    name = _model_name(args.model)
    if name == "classifier":
        data = _load_data(args.data)
        clf = pretrained.load_pretrained("classifier")
        loss, acc = clf.evaluate(data.x_test[..., None] / 255.0, data.y_test, verbose=0)
        print(f"classifier test accuracy {acc:.4f} on {len(data.x_test):,} test images")
        return EXIT_OK
    trainer = _load_trainer(name, args.checkpoint)
    data = _load_data(args.data)
    result, floor = pretrained.evaluate(trainer, name, data, sample_size=args.sample_size, seed=args.seed)
    print(f"{name}: {result.get('sample_size', args.sample_size)} images per set; noise floor = real "
          "training images against real test images")
    print(metrics.format_report(result, floor))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prodgen", description="Deep generative models for product images.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", help="the models and which ship pretrained").set_defaults(func=cmd_models)

    data_p = commands.add_parser("data", help="the product-image data set")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    info = data_cmds.add_parser("info", help="where the data comes from and what it holds")
    info.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    info.add_argument("--require-full", action="store_true", help="exit 1 if only the bundled sample is available")
    info.add_argument("--quiet", action="store_true", help="one line only")
    info.set_defaults(func=cmd_data_info)

    seed = _int_range(0, MAX_SEED)
    train = commands.add_parser("train", help="train a model (resumable)")
    train.add_argument("model")
    train.add_argument("--epochs", type=_int_range(1), help="total epochs (default: the recipe's)")
    train.add_argument("--batch-size", type=_int_range(1))
    train.add_argument("--latent-dim", type=_int_range(1, MAX_LATENT_DIM))
    train.add_argument("--minutes", type=_minutes, help="stop after this much wall-clock time")
    train.add_argument("--data", default="fashion-mnist", help="'fashion-mnist' or a folder with its IDX files")
    train.add_argument("--out", help="output folder (default runs/MODEL)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out, with its saved latent dim, batch size and seed")
    train.add_argument("--seed", type=seed, help="default 0 (with --resume: the run's)")
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="generate a grid of product images")
    gen.add_argument("model")
    gen.add_argument("--category", help='e.g. "ankle boot", "运动鞋" or 7 (conditional models)')
    gen.add_argument("--count", type=_int_range(1, MAX_COUNT, " images per grid"), default=64)
    gen.add_argument("--seed", type=seed, default=0)
    gen.add_argument("--out", default="grid.png")
    gen.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="FID, KID, IS, precision/recall, ... with the noise floor")
    ev.add_argument("model")
    ev.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    ev.add_argument("--sample-size", type=_int_range(2, MAX_SAMPLE_SIZE), default=5000)
    ev.add_argument("--data", default="fashion-mnist")
    ev.add_argument("--seed", type=seed, default=0)
    ev.set_defaults(func=cmd_evaluate)
    return parser


def _import_tensorflow_quietly():
    """Import TensorFlow and probe its devices with file descriptor 2 on /dev/null: its C++
    start-up notes ignore TF_CPP_MIN_LOG_LEVEL and would bury the one line an error gets.
    Python errors still propagate."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the device probe, which reports a missing GPU driver
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _one_line(text, limit=500):
    text = " ".join(str(text).split())  # TensorFlow and h5py messages span many lines
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _error(message):
    print(f"prodgen: error: {_one_line(message)}", file=sys.stderr)


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a bad command line argparse has reported
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        if args.command != "data":
            _import_tensorflow_quietly()
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it would be a traceback
        return code
    except UsageError as err:
        _error(err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = "; rerun with --resume to continue from the last epoch" if args.command == "train" else ""
        print(f"prodgen: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `prodgen models | head -1`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as err:  # a full disk, a folder that cannot be written, a missing file, ...
        cause = err.strerror or err
        _error(f"{err.filename}: {cause}" if err.filename else cause)
        return EXIT_ERROR
    except ValueError as err:  # DataError is a ValueError
        _error(err)
        return EXIT_ERROR
    except Exception as err:  # a bug or an exhausted resource: still one line, no traceback
        _error(f"unexpected {type(err).__name__}" + (f": {err}" if str(err) else ""))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
