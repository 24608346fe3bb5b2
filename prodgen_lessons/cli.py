"""`prodgen`: the course's command line.

    prodgen data info [--data SOURCE] [--require-full]
    prodgen data colour-variants OUT [--per-category N] [--image-size N] [--seed N]
    prodgen train MODEL [--data fashion-mnist|sample|FOLDER] [--image-size N] [--skip-broken] [--max-pixels N]
                        [--domains A B] [--recipe] [--epochs N --batch-size N --latent-dim N --minutes M --seed N --out DIR --resume]
                        [--worker-timeout SECONDS]
    prodgen generate MODEL [--checkpoint DIR] [--category "ankle boot"] [--count 64] [--seed 0] [--out grid.png]
    prodgen evaluate MODEL [--checkpoint DIR] [--data SOURCE] [--classifier DIR] [--classifier2 DIR]
    prodgen models

Without --checkpoint, `generate` and `evaluate` use a shipped model; MODEL may then also name a
shipped variant (`prodgen models` lists them, e.g. cgan_no_bags), measured on its recipe's data.
A FOLDER is a shop's catalogue: one sub-folder of photos per category (any script, e.g. 运动鞋/),
optionally split into train/ and test/. `train` streams it at --image-size (default 64), and the
run remembers it: `generate` takes its category names, `evaluate` scores against its held-out
photos with the classifier `prodgen train classifier --data FOLDER` trained. With TF_CONFIG naming
several workers, `train` runs on all of them (MultiWorkerMirroredStrategy; worker 0 writes).

Exit codes: 0 success, 1 an error the message explains (bad data, missing checkpoint, a folder
that cannot be written, a full disk, training stopped on NaN, ...), 2 a usage error (unknown
model or category, bad option value, an option that contradicts the run being resumed),
130 interrupted, 143 terminated (SIGTERM). Errors are one line on stderr, never a traceback. A
refused command changes no file; `train --resume` takes the build settings and the data from the
run's settings.json. One `train` at a time writes a run: it holds the folder's run.lock (naming its
PID and command), a second is refused while the first lives, a lock left by a killed run is taken
over. With TF_CONFIG, `train` says which workers it waits for and gives up after --worker-timeout.
A folder's photo over --max-pixels ($PRODGEN_MAX_PIXELS, default 40 million) is refused from its
header; a hand-edited settings.json is checked against the limits the options have here.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import shlex
import signal
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143  # 128 + SIGINT, SIGTERM
MAX_COUNT = 10_000      # images in one generated grid (about 2,900 x 2,900 pixels at 28 x 28)
MAX_SAMPLE_SIZE = 10_000  # the Fashion-MNIST test set's size
MAX_LATENT_DIM = 1024   # the course's models use 16 to 64
MAX_CLASSES = 10_000    # categories of a shop (a folder each): a run's settings.json may not claim more
MAX_GUIDANCE = 100.0    # classifier-free guidance weight: the course uses 0 to 4, beyond ~10 images saturate
MAX_SEED = 2**32 - 1    # NumPy's seed range
MAX_STEPS = 1000        # a diffusion sampler's steps (the course's recipe takes 12)
SHOWN = 10              # file names listed in a note before "..."
MIN_TEST_IMAGES = 4     # evaluate compares each held-out image with its 3 nearest neighbours


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


def _number(low, strict, valid, high=None):
    """An argparse `type`: a finite number above `low` (strict) or at least `low`, and at most
    `high` if given."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {text!r} ({valid})") from None
        if not (math.isfinite(value) and (value > low if strict else value >= low)
                and (high is None or value <= high)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: {valid}")
        return value
    return parse


_minutes = _number(0, True, "use a positive number of minutes, e.g. 20 or 0.5")


class _Parser(argparse.ArgumentParser):
    """argparse reporting a bad command line in one line, with where to read more."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# ------------------------------------------------------------------------------- checks

def _shipped_variants():
    """Names of the shipped models that are not a model's own name (cgan_no_bags, ...)."""
    from prodgen_lessons import models, pretrained

    return [n for n in pretrained.RECIPES if n not in models.MODELS and pretrained.is_shipped(n)]


def _sampling(args, spec):
    """The sampling settings given on the command line ({attribute: value}), refused for a model
    whose sample() does not use them."""
    from prodgen_lessons import models

    given = {k: getattr(args, k) for k in ("temperature", "guidance", "steps") if getattr(args, k, None) is not None}
    for key in given:
        if key not in spec.sampling:
            takes = [m.name for m in models.MODELS.values() if key in m.sampling]
            how = "in steps" if key == "steps" else f"with a {key}"
            raise UsageError(f"{spec.name} does not sample {how}, so --{key} does not apply; "
                             f"models that do: {', '.join(takes)}")
    return given


def _model_name(name, shipped=False):
    """The model a MODEL argument names. With shipped=True it may also name a shipped model
    (`prodgen models` lists them, e.g. cgan_no_bags): then the model its recipe trains."""
    from prodgen_lessons import models, pretrained

    if name in pretrained.RECIPES and name not in models.MODELS:
        if shipped and pretrained.is_shipped(name):
            return pretrained.RECIPES[name]["model"]
        if not shipped:
            raise UsageError(f"{name} names a shipped model, not a model: `generate` and `evaluate` take it "
                             f"without --checkpoint; here name its model, {pretrained.RECIPES[name]['model']}")
    try:
        return models.spec(name).name
    except ValueError as err:
        variants = _shipped_variants()
        raise UsageError(str(err) + (f", or a shipped variant: {', '.join(variants)}"
                                     if shipped and variants else "")) from None


def _note(text):
    print(f"note: {text}", file=sys.stderr)


def _listed(paths):
    return ", ".join(str(p) for p in paths[:SHOWN]) + (", ..." if len(paths) > SHOWN else "")


def _load_catalogue(source, image_size=None, skip_broken=False, channels=None):
    """The catalogue `source` names, with what a folder does not use or cannot read as notes."""
    from prodgen_lessons import data

    with warnings.catch_warnings(record=True):  # the same report is in catalogue.unused
        warnings.simplefilter("always")
        catalogue = data.load_catalogue(source, image_size=image_size, channels=channels,
                                        skip_broken=skip_broken)
    if catalogue.source.startswith("bundled sample") and source not in ("sample",):
        _note(f"Fashion-MNIST not found, using the small bundled sample; {data.GET_FULL_SET}")
    if catalogue.unused:
        _note(f"{len(catalogue.unused)} entries in {catalogue.source} are not used (only "
              f"{'/'.join(data.IMAGE_SUFFIXES)} files directly inside a category folder are read): "
              + _listed(catalogue.unused))
    if catalogue.skipped:
        _note(f"skipped {len(catalogue.skipped)} unreadable files: {_listed(catalogue.skipped)}")
    return catalogue


def _existing_parent(path):
    """`path`, or its nearest folder above that exists."""
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def _check_name_length(path):
    """Refuse a path longer than its file system takes (the system's own error, ENAMETOOLONG,
    would come later and be taken for a missing folder)."""
    path = os.path.abspath(path)
    existing = _existing_parent(path)
    longest_path, longest_name = os.pathconf(existing, "PC_PATH_MAX"), os.pathconf(existing, "PC_NAME_MAX")
    size, name = len(os.fsencode(path)), max(len(os.fsencode(part)) for part in path.split(os.sep))
    if size >= longest_path or name > longest_name:
        raise OSError(errno.ENAMETOOLONG, f"File name too long: a path of {size:,} bytes whose longest name has "
                      f"{name:,}; this file system takes {longest_path - 1:,} and {longest_name:,}", path)


def _check_output_folder(folder):
    """Refuse, before any work, a folder that cannot be made or written: an OSError naming it."""
    _check_name_length(folder)
    path = os.path.abspath(folder)
    existing = _existing_parent(path)
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
    _check_name_length(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a folder; name the image file, e.g. grid.png", path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder", path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"folder {folder} does not exist", path)
    _check_output_folder(folder)


def _read_settings(folder):
    """The build configuration `prodgen train` saved in `folder` (model, image shape, latent_dim,
    categories, options, batch size, seed, data), or None when there is none. A hand-edited file
    is checked against what `prodgen train` accepts, so it fails here, naming the field, rather
    than as an out-of-memory or a TypeError deep in the model."""
    from prodgen_lessons import training

    path = os.path.join(folder, training.SETTINGS_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            settings = json.load(f)
    except ValueError as err:  # also a file that is not UTF-8
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    counts = ("latent_dim", "batch_size", "seed", "num_classes")
    if not (isinstance(settings, dict) and isinstance(settings.get("model"), str)
            and isinstance(settings.get("options", {}), dict)
            and isinstance(settings.get("data") or {}, dict)
            and all(settings.get(k) is None or (type(settings[k]) is int and settings[k] >= 0) for k in counts)
            and (settings.get("image_shape") is None or (isinstance(settings["image_shape"], list)
                                                         and len(settings["image_shape"]) == 3))):
        raise ValueError(f"{path}: not a `prodgen train` settings file (model, image_shape, "
                         "latent_dim, num_classes, options, batch_size, seed, data)")
    problem = _settings_problem(settings)
    if problem:
        raise ValueError(f"{path}: {problem}")
    return settings


# The ranges `prodgen train` accepts, for a settings.json that may have been edited by hand.
SETTINGS_RANGES = {"latent_dim": (1, MAX_LATENT_DIM), "batch_size": (1, None), "seed": (0, MAX_SEED),
                   "num_classes": (1, MAX_CLASSES)}


def _settings_problem(settings):
    """What in a settings.json `prodgen train` would not have written (one sentence), or None."""
    import inspect

    from prodgen_lessons import data, models

    for key, (low, high) in SETTINGS_RANGES.items():
        value = settings.get(key)
        if value is not None and not (low <= value and (high is None or value <= high)):
            return f"{key} {value:,} is out of range: `prodgen train` takes " + (
                f"{low:,} to {high:,}" if high is not None else f"{low:,} or more")
    shape = settings.get("image_shape")
    low, high = data.IMAGE_SIZES
    if shape is not None and not (all(type(n) is int for n in shape) and shape[0] == shape[1]
                                  and (shape[0] == 28 or low <= shape[0] <= high) and shape[2] in (1, 3)):
        return (f"image_shape {shape} is not one `prodgen train` makes: [side, side, 1 or 3], the side 28 "
                f"or {low} to {high}")
    try:
        spec = models.spec(settings["model"])
    except ValueError as err:
        return str(err)
    # A builder's keyword arguments are the options it takes (all of them unless it passes **more
    # on, which `_load_run` checks as it builds); a value must have its default's type.
    parameters = inspect.signature(spec.build_fn).parameters.values()
    takes = {p.name: p.default for p in parameters if p.kind == p.KEYWORD_ONLY or p.kind == p.POSITIONAL_OR_KEYWORD}
    for name in ("image_shape", "latent_dim", "num_classes"):
        takes.pop(name, None)
    passes_on = any(p.kind == p.VAR_KEYWORD for p in parameters)
    for key, value in settings.get("options", {}).items():
        if key not in takes and not passes_on:
            return f"options.{key} is not an option of {spec.name}; it takes: {', '.join(takes)}"
        default = takes.get(key)
        kind = {float: (int, float), tuple: (tuple, list)}.get(type(default), type(default))  # as JSON keeps them
        if default is not None and (not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool)):
            return f"options.{key} is {value!r}; {spec.name} takes a {type(default).__name__} there, e.g. {default!r}"
    saved = settings.get("data") or {}
    for key in ("origin", "source"):
        if saved.get(key) is not None and not isinstance(saved[key], str):
            return f"data.{key} is {saved[key]!r}; it names the data as text, e.g. \"sample\" or a folder"
    for key in ("class_names", "class_names_zh"):
        names = saved.get(key)
        if names is not None and not (isinstance(names, list) and all(n is None or isinstance(n, str) for n in names)):
            return f"data.{key} is {names!r}; it is a list of category names"
    domains = settings.get("domains")
    if domains is not None and not (isinstance(domains, list) and len(domains) == 2
                                    and all(isinstance(d, str) for d in domains)):
        return f"domains is {domains!r}; it is a list of two category names"
    return None


def _check_run_model(settings, name, folder):
    from prodgen_lessons import training

    if settings is not None and settings["model"] != name:
        raise ValueError(f"{folder} holds a {settings['model']} run (see its {training.SETTINGS_NAME}), "
                         f"not {name}: name {settings['model']}, or use another folder")


def _categories(settings):
    """(class names, Chinese names) of a run: its data's, or Fashion-MNIST's for older runs."""
    from prodgen_lessons import data

    saved = (settings or {}).get("data") or {}
    return tuple(saved.get("class_names") or data.CATEGORIES), tuple(saved.get("class_names_zh") or data.CATEGORIES_ZH)


def _load_run(name, checkpoint):
    """(trainer, settings) from a `prodgen train` output folder, or the shipped model and None."""
    from prodgen_lessons import models, pretrained, training

    if checkpoint is None:
        return pretrained.load_pretrained(name), None
    folder = os.path.abspath(checkpoint)
    if not os.path.exists(os.path.join(folder, training.CHECKPOINT_NAME)):
        raise FileNotFoundError(f"no {training.CHECKPOINT_NAME} in {folder}: pass the --out folder "
                                f"of `prodgen train {name}`, or leave out --checkpoint for the shipped model")
    settings = _read_settings(folder)
    _check_run_model(settings, name, folder)
    s = settings or {}
    try:
        trainer = models.build(name, image_shape=s.get("image_shape") or (28, 28, 1), latent_dim=s.get("latent_dim"),
                               num_classes=s.get("num_classes") or 10, **s.get("options", {}))
    except TypeError as err:  # an option a builder passes on (**options) and the next one refuses
        raise ValueError(f"{os.path.join(folder, training.SETTINGS_NAME)}: its options {s.get('options')} "
                         f"do not fit {name}: {err}") from None
    training.resume(trainer, folder)  # raises, naming the file, if it does not fit this model
    return trainer, settings


def _load_to_draw(args, name, sampling):
    """(trainer, settings) for `generate` / `evaluate`: the run in --checkpoint, or the shipped model
    MODEL names (a variant too), drawing with the command line's `sampling` settings."""
    trainer, settings = _load_run(args.model if args.checkpoint is None else name, args.checkpoint)
    for key, value in sampling.items():
        setattr(trainer, key, value)
    return trainer, settings


def _check_same_categories(catalogue, settings, folder):
    """A run can only be measured or continued on the categories it was trained on."""
    names, _ = _categories(settings)
    if settings is not None and catalogue.class_names != names:
        raise ValueError(f"{folder} was trained on the categories {list(names)}, but "
                         f"{catalogue.source} has {list(catalogue.class_names)}")


def cmd_models(args) -> int:
    from prodgen_lessons import models, pretrained

    for name, s in models.MODELS.items():
        shipped = "pretrained" if pretrained.is_shipped(name) else "          "
        print(f"{name:<12} {shipped}  {s.description}")
    variants = _shipped_variants()
    if variants:
        print("\nshipped variants (generate / evaluate take their names):")
    for name in variants:
        recipe = pretrained.RECIPES[name]
        trained = "".join([f" without {', '.join(recipe['without'])}" if recipe.get("without") else "",
                           f" on {recipe['data']}" if recipe.get("data") else ""])
        print(f"{name:<12} pretrained  the {recipe['model']} recipe{trained}")
    return EXIT_OK


def cmd_data_info(args) -> int:
    from prodgen_lessons import data

    catalogue = _load_catalogue(args.data, args.image_size, args.skip_broken)
    full = not catalogue.source.startswith("bundled sample")
    h, w, c = catalogue.image_shape
    print(f"{catalogue.source}: {catalogue.num_classes} categories, {len(catalogue.train):,} training and "
          f"{len(catalogue.test):,} test images, {h}x{w} {'grayscale' if c == 1 else 'RGB'}"
          + ("" if catalogue.in_memory else ", read from files as training streams them"))
    if not args.quiet:
        train, test = catalogue.counts("train"), catalogue.counts("test")
        width = max(len(n) for n in catalogue.class_names)
        for i, (en, zh) in enumerate(zip(catalogue.class_names, catalogue.class_names_zh)):
            print(f"  {i:>2}  {en:<{width}}  {zh if zh and zh != en else '':<6} {train[i]:>7,} training, "
                  f"{test[i]:>6,} test images")
    thin = catalogue.thin_test_split(MIN_TEST_IMAGES)
    if thin:
        _note(thin)
    if not full and args.require_full:
        print(f"note: this is the small bundled sample; {data.GET_FULL_SET}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_colour_variants(args) -> int:
    from prodgen_lessons import data

    _check_output_folder(args.out)
    catalogue = _load_catalogue("fashion-mnist")
    count = data.write_colour_variants(args.out, per_category=args.per_category, image_size=args.image_size,
                                       seed=args.seed, source=catalogue)
    names = ", ".join(f"{en} ({data.COLOURS_ZH[en]})" for en in data.COLOURS)
    print(f"{count:,} product photos, {args.image_size}x{args.image_size} RGB, in {len(data.COLOURS)} colours "
          f"({names}) -> {args.out}/train and {args.out}/test, one folder per category")
    return EXIT_OK


def _shipped_recipe(name):
    """The recipe the shipped model `name` was trained with (`pretrained.RECIPES`)."""
    from prodgen_lessons import pretrained

    recipe = pretrained.RECIPES.get(name)
    if recipe is None or recipe["model"] != name:
        have = [n for n, r in pretrained.RECIPES.items() if r["model"] == n]
        raise UsageError(f"{name} has no shipped recipe (--recipe); models with one: {', '.join(have)}")
    return recipe


def cmd_train(args) -> int:
    from prodgen_lessons import models, training

    name = _model_name(args.model)
    s = models.spec(name)
    out = args.out or os.path.join("runs", name)
    checkpoint = os.path.join(out, training.CHECKPOINT_NAME)
    # Everything is checked before anything is written: a refused command changes no file.
    _check_output_folder(out)
    _check_output_folder(os.path.join(out, "samples"))
    if os.environ.get("TF_CONFIG") and args.worker_timeout is None:
        args.worker_timeout = training.default_worker_timeout()  # a bad $PRODGEN_WORKER_TIMEOUT: now
    with _run_lock(out, args):  # read and written by one `prodgen train` at a time
        return _train(args, name, s, out, checkpoint)


@contextlib.contextmanager
def _run_lock(out, args):
    """The lock of the run in `out` (`training.run_lock`), taken by the one process that writes
    it (not by the other workers of a cluster), with what it found said in notes."""
    from prodgen_lessons import training

    if not training.is_chief_task():
        yield
        return
    with training.run_lock(out, " ".join(["prodgen", *map(shlex.quote, args.argv)])) as notes:
        for text in notes:
            _note(text)
        yield


def _check_domains(catalogue, domains, name):
    """The two categories of `catalogue` a translator turns into each other, by their names;
    a usage error that says how to name them when they are not both there."""
    from prodgen_lessons.models import cyclegan

    given = domains is not None
    try:
        found = [catalogue.category_index(d) for d in (domains or cyclegan.DEFAULT_DOMAINS)]
    except ValueError as err:
        have = ", ".join(catalogue.class_names)
        if given:
            raise UsageError(f"--domains: {err}") from None
        raise UsageError(f"{name} translates between two categories, named with --domains A B; without it, "
                         f"Fashion-MNIST's {' and '.join(cyclegan.DEFAULT_DOMAINS)}, which {catalogue.source} "
                         f"does not have: name two of its categories ({have})") from None
    if found[0] == found[1]:
        raise UsageError(f"--domains names {catalogue.class_names[found[0]]} twice: name two different categories")
    return [catalogue.class_names[i] for i in found]  # by name, as settings.json keeps them


def _train(args, name, s, out, checkpoint) -> int:
    from prodgen_lessons import data, training

    saved = _read_settings(out) if os.path.isdir(out) else None
    _check_run_model(saved, name, out)
    build = dict(latent_dim=args.latent_dim, batch_size=args.batch_size, seed=args.seed,
                 image_size=args.image_size)
    options, domains, source = dict(s.options), None, args.data
    epochs, minutes = args.epochs, args.minutes
    if args.recipe:
        if args.resume:
            raise UsageError("--recipe starts a run; a resumed run keeps the settings it started with: "
                             "leave out --recipe")
        recipe = _shipped_recipe(name)
        options, domains = {**options, **recipe.get("options", {})}, recipe.get("domains")
        build = {key: recipe.get(key) if value is None else value for key, value in build.items()}
        epochs, minutes = epochs or recipe["epochs"], minutes or recipe.get("minutes")
    if args.resume:
        if not os.path.exists(checkpoint):
            raise FileNotFoundError(f"no {training.CHECKPOINT_NAME} in {os.path.abspath(out)} to resume: "
                                    "leave out --resume to start a new run there")
        if saved is not None:
            shape = saved.get("image_shape")
            kept = dict(latent_dim=saved.get("latent_dim") or s.latent_dim,
                        batch_size=saved.get("batch_size") or s.batch_size, seed=saved.get("seed") or 0,
                        image_size=shape[0] if shape and not (saved.get("data") or {}).get("in_memory", True) else None)
            for key, value in build.items():
                if value is not None and kept[key] is not None and value != kept[key]:
                    option = "--" + key.replace("_", "-")
                    raise UsageError(f"{option} {value} contradicts the {key} {kept[key]} of the run in {out} "
                                     f"(its {training.SETTINGS_NAME}): leave {option} out to continue with {kept[key]}")
                build[key] = kept[key] if value is None else value
            options, domains = saved.get("options", {}), saved.get("domains")
            if args.domains and domains and list(args.domains) != list(domains):
                raise UsageError(f"--domains {' '.join(args.domains)} contradicts the domains {' '.join(domains)} "
                                 f"of the run in {out} (its {training.SETTINGS_NAME}): leave --domains out")
            origin = (saved.get("data") or {}).get("origin")
            if source is not None and origin is not None and data.origin_of(source) != origin:
                raise UsageError(f"--data {source} contradicts the data of the run in {out} ({origin}, in its "
                                 f"{training.SETTINGS_NAME}): leave --data out to continue on it")
            source = source or origin
    elif os.path.exists(checkpoint):
        raise FileExistsError(f"{checkpoint} exists: pass --resume to continue that run, or choose "
                              "another --out folder")
    if args.domains and s.kind != "translator":
        raise UsageError(f"--domains names the two categories a translator (cyclegan) turns into each other; "
                         f"{name} does not translate: leave it out")
    domains = args.domains or domains
    catalogue = _load_catalogue(source or "fashion-mnist", build["image_size"], args.skip_broken)
    _check_same_categories(catalogue, saved if args.resume else None, out)
    if s.kind == "translator":
        domains = _check_domains(catalogue, domains, name)
    thin = catalogue.thin_test_split(MIN_TEST_IMAGES)
    if thin and s.kind == "classifier":  # it measures itself on the test split, and judges with it
        raise data.DataError(thin)
    if thin:
        _note(f"{thin}; until then `prodgen evaluate` refuses this run")
    strategy = training.get_strategy(verbose=bool(os.environ.get("TF_CONFIG")), worker_timeout=args.worker_timeout)
    recipe_note = f" with the shipped model's recipe (options {options})" if args.recipe else ""
    print(f"training {name}{recipe_note} on {catalogue.source} ({catalogue.num_classes} categories, "
          f"{len(catalogue.train):,} training images) -> {out}")
    trainer, history, info = training.train(
        name, catalogue, epochs=epochs, batch_size=build["batch_size"], latent_dim=build["latent_dim"],
        out_dir=out, resume=args.resume, seed=build["seed"] or 0, minutes=minutes, options=options,
        domains=domains, strategy=strategy)
    if info["skipped"]:
        _note(f"skipped {len(info['skipped'])} unreadable files (listed in {out}/history.json): "
              + _listed(info["skipped"]))
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


def cmd_generate(args) -> int:
    import numpy as np

    from prodgen_lessons import data, models, plotting, training

    name = _model_name(args.model, shipped=args.checkpoint is None)
    s = models.spec(name)
    if s.kind != "generator":
        raise UsageError(f"{name} does not generate from noise; generative models are: "
                         + ", ".join(n for n, m in models.MODELS.items() if m.kind == "generator"))
    sampling = _sampling(args, s)
    settings = _read_settings(os.path.abspath(args.checkpoint)) if args.checkpoint else None
    names, names_zh = _categories(settings)
    labels = None
    if args.category is not None:
        if not s.conditional:
            raise UsageError(f"{name} is not conditional, so --category does not apply; "
                             "conditional models are: " + ", ".join(n for n, m in models.MODELS.items() if m.conditional))
        try:
            labels = np.full(args.count, data.category_index(args.category, names, names_zh))
        except ValueError as err:
            raise UsageError(str(err)) from None
    _check_output_image(args.out)
    trainer, _ = _load_to_draw(args, name, sampling)
    images = trainer.sample(args.count, labels=labels, seed=args.seed)  # in batches: flat memory
    grid = plotting.image_grid(images, ncols=int(np.ceil(np.sqrt(args.count))))
    training.save_png(grid, args.out)
    what = ", ".join([names[labels[0]] if labels is not None else "mixed", f"seed {args.seed}"]
                     + [f"{key} {value:g}" for key, value in sampling.items()])
    print(f"{args.count} {args.model} images ({what}) -> {args.out}")
    return EXIT_OK


def _judge(folder, what):
    """A classifier from a `prodgen train classifier` output folder."""
    from prodgen_lessons import models

    settings = _read_settings(os.path.abspath(folder))
    model = (settings or {}).get("model", "classifier")
    if models.spec(model).kind != "classifier":
        raise UsageError(f"{what} {folder} holds a {model} run, not a classifier: pass the --out folder "
                         "of `prodgen train classifier --data ...`")
    return _load_run(model, folder)


def cmd_evaluate(args) -> int:
    from prodgen_lessons import metrics, models, pretrained

    name = _model_name(args.model, shipped=args.checkpoint is None)
    s = models.spec(name)
    sampling = _sampling(args, s)
    trainer, settings = _load_to_draw(args, name, sampling)
    # a shipped model is measured on its recipe's data (less the categories it never saw)
    recipe = pretrained.RECIPES.get(args.model, {}) if args.checkpoint is None else {}
    source = (args.data or ((settings or {}).get("data") or {}).get("origin") or recipe.get("data")
              or "fashion-mnist")
    shape = (settings or {}).get("image_shape") or (28, 28, 1)
    in_memory = ((settings or {}).get("data") or {}).get("in_memory", True)
    catalogue = _load_catalogue(source, None if in_memory else shape[0], args.skip_broken,
                                None if in_memory else shape[2])
    _check_same_categories(catalogue, settings, args.checkpoint)
    thin = catalogue.thin_test_split(MIN_TEST_IMAGES)
    if thin:
        raise ValueError(thin)
    if recipe.get("without"):
        catalogue = catalogue.without(*recipe["without"])
    if s.kind == "classifier":
        loss, acc = trainer.evaluate(catalogue.dataset("test", batch_size=500, scale="unit", shuffle=False,
                                                       drop_remainder=False), verbose=0)
        print(f"{name} test accuracy {acc:.4f} on {len(catalogue.test):,} test images of {catalogue.source}")
        return EXIT_OK
    judges = {}
    for option, folder in (("--classifier", args.classifier), ("--classifier2", args.classifier2)):
        if folder is not None:
            judge, judge_settings = _judge(folder, option)
            _check_same_categories(catalogue, judge_settings, folder)
            judges[option] = judge
    if "--classifier" not in judges:  # the shipped judges, for Fashion-MNIST's categories
        judges["--classifier"], shipped_second = pretrained.judges(catalogue)
        judges.setdefault("--classifier2", shipped_second)
    result, floor = metrics.evaluate_model(trainer, name, catalogue, classifier=judges.get("--classifier"),
                                           second=judges.get("--classifier2"), sample_size=args.sample_size,
                                           seed=args.seed, domains=(settings or recipe).get("domains"))
    print(f"{args.model} on {catalogue.source}: {result.get('sample_size', args.sample_size)} images per set; "
          "noise floor = real training images against real test images")
    print(metrics.format_report(result, floor))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prodgen", description="Deep generative models for product images.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", help="the models and which ship pretrained").set_defaults(func=cmd_models)

    seed = _int_range(0, MAX_SEED)
    image_size = _int_range(16, 512, " pixels")
    data_help = "'fashion-mnist' (default), 'sample', or a folder: one sub-folder of images per category"
    max_pixels = _int_range(1, None, " pixels, e.g. 100000000")
    max_pixels_help = ("refuse a folder's images with more pixels than this, from their headers "
                       "(default $PRODGEN_MAX_PIXELS, else 40,000,000)")

    data_p = commands.add_parser("data", help="product-image catalogues")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    info = data_cmds.add_parser("info", help="where a catalogue comes from and what it holds")
    info.add_argument("--data", default="fashion-mnist", help=data_help + ", or Fashion-MNIST's IDX files")
    info.add_argument("--image-size", type=image_size, help="side a folder's images are read at (default 64)")
    info.add_argument("--require-full", action="store_true", help="exit 1 if only the bundled sample is available")
    info.add_argument("--skip-broken", action="store_true",
                      help="skip unreadable images of a folder, count and list them, instead of stopping")
    info.add_argument("--quiet", action="store_true", help="one line only")
    info.add_argument("--max-pixels", type=max_pixels, help=max_pixels_help)
    info.set_defaults(func=cmd_data_info)
    colours = data_cmds.add_parser("colour-variants", help="write Fashion-MNIST products in named colours "
                                                           "as a catalogue folder")
    colours.add_argument("out", help="a new (or empty) folder")
    colours.add_argument("--per-category", type=_int_range(1, 6000), default=500,
                         help="training images per category (test: a fifth as many); default 500")
    colours.add_argument("--image-size", type=image_size, default=64)
    colours.add_argument("--seed", type=seed, default=0)
    colours.set_defaults(func=cmd_colour_variants)

    train = commands.add_parser("train", help="train a model (resumable)")
    train.add_argument("model")
    train.add_argument("--data", help=data_help + " (with --resume: the run's; another is refused)")
    train.add_argument("--image-size", type=image_size, help="side a folder's images are trained at (default 64)")
    train.add_argument("--skip-broken", action="store_true",
                       help="skip unreadable images of a folder, count and list them, instead of stopping")
    train.add_argument("--max-pixels", type=max_pixels, help=max_pixels_help)
    train.add_argument("--domains", nargs=2, metavar=("A", "B"),
                       help="cyclegan: the two categories it turns into each other (default: Sneaker and "
                            "Ankle boot, Fashion-MNIST's)")
    train.add_argument("--recipe", action="store_true",
                       help="train as the shipped model was: its options, latent size, batch size, epochs "
                            "and minutes (the options given here still win)")
    train.add_argument("--epochs", type=_int_range(1), help="total epochs (default: 5)")
    train.add_argument("--batch-size", type=_int_range(1))
    train.add_argument("--latent-dim", type=_int_range(1, MAX_LATENT_DIM))
    train.add_argument("--minutes", type=_minutes, help="stop after this much wall-clock time")
    train.add_argument("--out", help="output folder (default runs/MODEL)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out, with its saved settings and data")
    train.add_argument("--seed", type=seed, help="default 0 (with --resume: the run's)")
    train.add_argument("--worker-timeout", type=_number(0, True, "use a positive number of seconds, e.g. 300"),
                       help="with TF_CONFIG: seconds to wait for the other workers to start "
                            "(default $PRODGEN_WORKER_TIMEOUT, else 300)")
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="generate a grid of product images")
    gen.add_argument("model")
    gen.add_argument("--category", help='a category of the model\'s catalogue, e.g. "ankle boot", "运动鞋" or 7')
    gen.add_argument("--count", type=_int_range(1, MAX_COUNT, " images per grid"), default=64)
    gen.add_argument("--seed", type=seed, default=0)
    gen.add_argument("--out", default="grid.png")
    gen.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="FID, KID, IS, precision/recall, ... with the noise floor")
    ev.add_argument("model")
    ev.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    ev.add_argument("--data", help=data_help + " (default: the run's)")
    ev.add_argument("--classifier", help="a `prodgen train classifier` folder: the feature space "
                                         "(default: the shipped one, for Fashion-MNIST)")
    ev.add_argument("--classifier2", help="a `prodgen train classifier2` folder: the second feature space")
    ev.add_argument("--skip-broken", action="store_true", help="skip unreadable images of a folder")
    ev.add_argument("--max-pixels", type=max_pixels, help=max_pixels_help)
    ev.add_argument("--sample-size", type=_int_range(2, MAX_SAMPLE_SIZE), default=5000)
    ev.add_argument("--seed", type=seed, default=0)
    ev.set_defaults(func=cmd_evaluate)
    for command in (gen, ev):  # how the decoder draws; default: the model's own, on its card
        command.add_argument("--temperature", type=_number(0, True, "use a number above 0; 1 is the decoder's "
                                                                    "own mean image, below 1 sharper"),
                             help="decode at this temperature (vae, cvae)")
        command.add_argument("--guidance", type=_number(0, False, f"use a number from 0 to {MAX_GUIDANCE:g}; 0 is "
                                                                   "the decoder as trained", high=MAX_GUIDANCE),
                             help="classifier-free guidance weight (cvae, diffusion)")
        command.add_argument("--steps", type=_int_range(1, MAX_STEPS, " sampler steps"),
                             help="steps of the sampler from noise to image (diffusion)")
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
    """`text` on one line of at most `limit` characters: a long one keeps both ends, where a path
    and the cause are; bytes that are not UTF-8 (a file's name) as \\xff escapes."""
    from prodgen_lessons.data import shown

    text = " ".join(shown(str(text)).split())  # TensorFlow and h5py messages span many lines
    return text if len(text) <= limit else text[:limit // 2 - 2] + " ... " + text[-(limit // 2 - 3):]


def _error(message):
    print(f"prodgen: error: {_one_line(message)}", file=sys.stderr)


def _has_checkpoint(args):
    """Whether `args` is a `train` whose run has a checkpoint to resume."""
    training = sys.modules.get("prodgen_lessons.training")  # not imported now: stopped before
    return args.command == "train" and training is not None and os.path.exists(
        os.path.join(args.out or os.path.join("runs", args.model), training.CHECKPOINT_NAME))


def _set_max_pixels(args):
    """--max-pixels for every image read, in this process and its reading threads (by the
    environment variable the data module reads); a bad $PRODGEN_MAX_PIXELS is said now."""
    from prodgen_lessons import data

    if getattr(args, "max_pixels", None) is not None:
        os.environ[data.MAX_PIXELS_ENV] = str(args.max_pixels)
    data.max_pixels()


class _Terminated(KeyboardInterrupt):
    """SIGTERM, ended as Ctrl-C is: files closed, the run's lock released."""


def _terminate(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if sys.stdout is None:  # started with stdout closed (`>&-`): what it prints would be lost, and
        # a file it opens would take descriptor 1; refuse before any work, as `ls >&-` does
        _error("standard output is closed; nothing was done: send it to a file or /dev/null "
               "(> out.txt) instead of closing it")
        return EXIT_ERROR
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a bad command line argparse has reported
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    args.argv = argv
    sigterm = signal.signal(signal.SIGTERM, _terminate)
    try:
        _set_max_pixels(args)
        if args.command != "data":
            _import_tensorflow_quietly()
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it would be a traceback
        return code
    except UsageError as err:
        _error(err)
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        hint = "; rerun with --resume to continue from the last epoch" if _has_checkpoint(args) else ""
        terminated = isinstance(stop, _Terminated)
        print(f"prodgen: {'terminated' if terminated else 'interrupted'}{hint}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `prodgen models | head -1`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as err:  # a full disk, a folder that cannot be written, a missing file, ...
        cause = err.strerror or err
        _error(f"{_one_line(err.filename, 120)}: {cause}" if err.filename else cause)
        return EXIT_ERROR
    except ValueError as err:  # DataError is a ValueError
        _error(err)
        return EXIT_ERROR
    except Exception as err:  # a bug or an exhausted resource: still one line, no traceback
        _error(f"unexpected {type(err).__name__}" + (f": {err}" if str(err) else ""))
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, sigterm)


if __name__ == "__main__":
    sys.exit(main())
