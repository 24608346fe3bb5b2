"""Shipped pretrained models: recipes, training, model cards, and loading with a checksum.

Every model a chapter needs was trained by this project's own code (`train`, the same function
behind `prodgen train`) from the recipe below, on one 2-core CPU. Its weights live in
``prodgen_lessons/pretrained/<name>/<network>.weights.h5`` (Keras's weights format, no pickle)
beside ``card.json``, the model card: recipe, seed, epochs, training time and machine, the
SHA-256 of every file, and the metrics with their noise floor.

    trainer = load_pretrained("cgan")      # checks each file's SHA-256 first
    print(model_card("cgan"))

``python -m prodgen_lessons.pretrained --retrain NAME [NAME ...]`` (or ``make pretrained`` for all)
re-trains from the recipes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
SAMPLE_SIZE = 5000  # images per set for every shipped metric (FID depends on it)

# name -> how it was trained. "minutes" caps the wall-clock time on the 2-core machine.
RECIPES = {
    "classifier": dict(model="classifier", epochs=10, batch_size=128, seed=0, networks=["classifier"],
                       options={"decay_steps": 10 * (60000 // 128)}),
    # An independent second judge: another architecture, another seed (see models.classifier).
    "classifier2": dict(model="classifier", epochs=6, batch_size=128, seed=1, networks=["classifier"],
                        options={"architecture": "allconv", "decay_steps": 6 * (60000 // 128)}),
    "cgan": dict(model="cgan", epochs=40, batch_size=64, seed=0, minutes=20, networks=["generator"],
                 options={"dropout": 0.0, "ema": 0.999, "twin_weight": 0.75, "loss": "hinge",
                          "precision": "auto"}),
    "dcgan": dict(model="dcgan", epochs=60, batch_size=64, seed=0, minutes=20, networks=["generator"],
                  options={"loss": "hinge", "dropout": 0.0, "ema": 0.999, "precision": "auto"}),
    "infogan": dict(model="infogan", epochs=60, batch_size=64, seed=0, minutes=20, networks=["generator"],
                    options={"loss": "hinge", "dropout": 0.0, "ema": 0.999, "info_weight": 1.0,
                             "precision": "auto"}),
    # beta < 1 sharpens the decoder; the codes' mixture (prior_components) repairs the prior
    "vae": dict(model="vae", epochs=200, batch_size=128, latent_dim=32, seed=0, minutes=20,
                networks=["encoder", "decoder", "prior"], options={"beta": 0.25, "prior_components": 50}),
    "cvae": dict(model="cvae", epochs=200, batch_size=128, latent_dim=32, seed=0, minutes=20,
                 networks=["decoder", "prior"], options={"beta": 0.25, "prior_components": 10}),
    "cyclegan": dict(model="cyclegan", epochs=40, batch_size=32, seed=0, minutes=20,
                     domains=["Sneaker", "Ankle boot"], networks=["generator_ab", "generator_ba"]),
}


def _check_name(name):
    if name not in RECIPES:
        raise ValueError(f"no pretrained model {name!r}; shipped models are: {', '.join(RECIPES)}")
    return name


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _networks(trainer, names):
    """{file stem: network} of what ships; the classifier is a plain model, not a trainer."""
    return {n: trainer if n == "classifier" else getattr(trainer, n) for n in names}


def _architecture(recipe):
    return recipe.get("options", {}).get("architecture", "cnn")


def read_card(name) -> dict:
    path = PRETRAINED_DIR / _check_name(name) / "card.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this copy of prodgen-lessons ships no "
                                f"pretrained {name!r}; train it with `prodgen train {RECIPES[name]['model']}` "
                                f"or `python -m prodgen_lessons.pretrained --retrain {name}`")
    return json.loads(path.read_text())


def load_pretrained(name, directory=None):
    """The shipped `name` model (a compiled trainer, or the classifier), every file checksummed.

    A file whose SHA-256 differs from the model card is refused with an error naming it.
    """
    from prodgen_lessons import models

    card = read_card(name) if directory is None else json.loads((Path(directory) / "card.json").read_text())
    folder = Path(directory) if directory else PRETRAINED_DIR / name
    recipe = card["recipe"]
    trainer = models.build(recipe["model"], image_shape=tuple(recipe.get("image_shape", (28, 28, 1))),
                           latent_dim=recipe.get("latent_dim"), **recipe.get("options", {}))
    for net_name, net in _networks(trainer, recipe["networks"]).items():
        path = folder / f"{net_name}.weights.h5"
        expected = card["files"][path.name]["sha256"]
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (listed in {folder / 'card.json'})")
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"{path}: SHA-256 {actual} does not match the model card's {expected}; "
                             "the file is corrupt or was altered: reinstall or re-train it")
        if net_name == "classifier":  # shipped without optimiser state: load into a bare copy
            bare = _bare_classifier(net, _architecture(recipe))
            bare.load_weights(path)
            net.set_weights(bare.get_weights())
        else:
            net.load_weights(path)
    return trainer


def _bare_classifier(model, architecture="cnn"):
    """An uncompiled classifier of the same shape, so its weights file carries no optimiser."""
    from prodgen_lessons.models import classifier

    return classifier.build_classifier(tuple(model.inputs[0].shape[1:]), int(model.outputs[0].shape[-1]),
                                       architecture=architecture)


def model_card(name) -> str:
    """The model card as readable text."""
    card = read_card(name)
    r, t = card["recipe"], card["training"]
    lines = [f"# {name}: {card['description']}", "",
             f"recipe: model={r['model']} epochs={t['epochs_done']}/{r['epochs']} batch={r['batch_size']} "
             f"latent_dim={r.get('latent_dim')} seed={r['seed']} options={r.get('options', {})}",
             f"trained: {t['seconds'] / 60:.1f} min on {t['machine']}, {t['date']}"
             + (f", computing in {t['precision']}" if "precision" in t else ""),
             f"data: {t['data']}" + (f"\nnote: {t['note']}" if t.get("note") else ""),
             "files: " + ", ".join(f"{k} ({v['bytes'] / 1e6:.1f} MB)" for k, v in card["files"].items())]
    if card.get("metrics"):
        from prodgen_lessons.metrics import format_report

        lines += ["", f"metrics ({card['metrics'].get('sample_size')} images per set; noise floor = "
                      "real training images against real test images):",
                  format_report(card["metrics"], card.get("noise_floor"))]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ training

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


def make_training_data(model, data, batch_size, seed=0, domains=None):
    """The tf.data pipeline a model trains on: scaled images with labels, or two domains."""
    from prodgen_lessons import models
    from prodgen_lessons.data import category_index, make_dataset
    from prodgen_lessons.models import cyclegan

    s = models.spec(model)
    if model == "cyclegan":
        a, b = (data.x_train[data.y_train == category_index(d)] for d in domains or RECIPES["cyclegan"]["domains"])
        return cyclegan.domain_pair_dataset(a, b, batch_size=batch_size, seed=seed)
    if batch_size > len(data.x_train):  # whole batches only: the epoch would be empty
        raise ValueError(f"batch size {batch_size} is larger than the {len(data.x_train):,} training "
                         f"images of {data.source}: use at most {len(data.x_train)}")
    return make_dataset(data.x_train, data.y_train, batch_size=batch_size, scale=s.scale, seed=seed)


def train(model, epochs=None, batch_size=None, latent_dim=None, data=None, out_dir=None, resume=False,
          seed=0, minutes=None, options=None, domains=None, samples=True, verbose=1):
    """Train `model` the Keras way (`fit`), with checkpoints every epoch, sample grids and a
    NaN guard. With `resume=True` an interrupted run in `out_dir` continues where it stopped.

    `out_dir` gets settings.json (the build configuration), checkpoint.weights.h5,
    history.json (every epoch, kept across resumed runs) and samples/. Nothing is written there
    before the checkpoint to resume (if any) has loaded. Returns (trainer, history dict of this
    call's epochs, info dict); info["stopped_on_nan"] says where NaNGuard stopped the run, if it did."""
    from prodgen_lessons import models, training
    from prodgen_lessons.data import load_fashion_mnist

    s = models.spec(model)
    recipe = RECIPES.get(s.name, {})
    epochs = int(epochs if epochs is not None else recipe.get("epochs", 5))
    batch_size = int(batch_size if batch_size is not None else s.batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch size must be positive, got {epochs} and {batch_size}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if not resume and (out_dir / training.CHECKPOINT_NAME).exists():
            raise FileExistsError(f"{out_dir / training.CHECKPOINT_NAME} exists: pass resume=True "
                                  "(--resume) to continue it, or choose another output folder")
    budget = TimeBudget(minutes * 60) if minutes else None
    training.seed_everything(seed)
    data = data or load_fashion_mnist()
    trainer = models.build(s.name, latent_dim=latent_dim, **(options or {}))
    dataset = make_training_data(s.name, data, batch_size, seed, domains)
    guard = training.NaNGuard(verbose=verbose > 0)
    callbacks = [guard]
    initial_epoch = 0
    history_log = None
    if out_dir is not None:
        if resume:
            initial_epoch = training.resume(trainer, out_dir)
            if verbose and initial_epoch:
                print(f"resuming from {out_dir / training.CHECKPOINT_NAME} after epoch {initial_epoch}")
        out_dir.mkdir(parents=True, exist_ok=True)
        training.write_json(out_dir / "settings.json",
                            dict(model=s.name, latent_dim=latent_dim or s.latent_dim, batch_size=batch_size,
                                 seed=seed, options=options or {}), indent=1)
        history_log = training.HistoryLog(out_dir / "history.json", initial_epoch, guard=guard)
        callbacks += [training.Checkpoint(out_dir, guard=guard), history_log]
        if samples and hasattr(trainer, "sample"):
            callbacks.append(training.SampleGrid(out_dir / "samples", n=100, seed=seed))
    if budget is not None:
        callbacks.append(budget)
    fit_kwargs = {}
    if s.name == "classifier":
        from prodgen_lessons.data import make_dataset

        fit_kwargs["validation_data"] = make_dataset(data.x_test, data.y_test, batch_size=512,
                                                     scale="unit", shuffle=False, drop_remainder=False)
    start = time.time()
    history = trainer.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                          shuffle=False, verbose=verbose, **fit_kwargs)  # the dataset shuffles if initial_epoch < epochs else None
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
                data=data.source, precision=getattr(trainer, "generator", trainer).dtype_policy.name)
    if history_log is not None:
        history_log.write(**info)
        if samples and hasattr(trainer, "sample") and (out_dir / "samples").exists():
            try:
                next(c for c in callbacks if isinstance(c, training.SampleGrid)).make_gif()
            except (StopIteration, ValueError):
                pass
    return trainer, h, info


SECOND_OPINION = "classifier2"  # the independent network every FID is also reported in


def evaluate(trainer, model, data, classifier=None, sample_size=SAMPLE_SIZE, seed=0, second=None):
    """Metrics of a generator in the classifier's feature space, and the noise floor beside them.

    The FID is also measured in the features of `second` (default: the shipped "classifier2",
    an independent network) as "fid2", when there is one.
    """
    from prodgen_lessons import metrics
    from prodgen_lessons.data import category_index

    classifier = classifier or load_pretrained("classifier")
    if second is None and (PRETRAINED_DIR / SECOND_OPINION / "card.json").is_file():
        second = load_pretrained(SECOND_OPINION)
    if model == "cyclegan":
        src, dst = (category_index(d) for d in RECIPES["cyclegan"]["domains"])
        fakes = trainer.translate(data.x_test[data.y_test == src], "a2b")
        labels = np.full(len(fakes), dst)
        real_train = (data.x_train[data.y_train == dst], data.y_train[data.y_train == dst])
        real_test = (data.x_test[data.y_test == dst], data.y_test[data.y_test == dst])
        sample_size = min(len(fakes), sample_size)
    else:
        labels = np.arange(sample_size) % 10
        fakes = trainer.sample(sample_size, labels=labels, seed=seed)
        real_train, real_test = (data.x_train, data.y_train), (data.x_test, data.y_test)
        if not (getattr(trainer, "num_classes", None) is not None and model in ("cgan", "cvae")):
            labels = None
    evaluator = metrics.Evaluator(classifier, sample_size=sample_size, seed=seed)
    result = evaluator.evaluate(fakes, labels, real_train, real_test)
    floor = evaluator.noise_floor(real_train, real_test)
    if second is not None:
        judge = metrics.Evaluator(second, sample_size=sample_size, seed=seed)
        result["fid2"] = judge.evaluate(fakes, None, real_train)["fid"]
        floor["fid2"] = judge.noise_floor(real_train, real_test)["fid"]
    if hasattr(trainer, "num_continuous"):  # InfoGAN: do its codes mean something?
        result.update(infogan_codes(trainer, classifier, seed=seed))
    if model == "cyclegan":  # how much of the input survives the round trip a -> b -> a
        sources = data.x_test[data.y_test == src]
        back = trainer.translate(fakes * 2.0 - 1.0, "b2a")
        result["cycle_error"] = float(np.mean(np.abs(back - sources[..., None] / 255.0)))
    return result, floor


def infogan_codes(trainer, classifier, n=2000, steps=5, seed=0):
    """What an InfoGAN's codes control: the purity of its categorical code (best one-to-one
    matching with the categories the classifier sees), and the mean product width and brightness
    as each continuous code sweeps from -1 to 1 (the others at 0, the same noise and categories)."""
    from prodgen_lessons import metrics

    codes = np.arange(n) % trainer.num_categories
    seen = classifier.predict(trainer.sample(n, codes={"category": codes}, seed=seed), batch_size=500, verbose=0)
    purity, _ = metrics.code_purity(codes, seen, num_categories=max(trainer.num_categories, seen.shape[1]))
    out = {"code_purity": purity}
    m = n // steps
    for j in range(trainer.num_continuous):
        width, brightness = [], []
        for value in np.linspace(-1, 1, steps):
            continuous = np.zeros((m, trainer.num_continuous), "float32")
            continuous[:, j] = value
            images = trainer.sample(m, codes={"category": codes[:m], "continuous": continuous}, seed=seed)
            width.append(float(metrics.product_width(images).mean()))
            brightness.append(float(metrics.product_brightness(images).mean()))
        out[f"continuous_{j}_width"], out[f"continuous_{j}_brightness"] = width, brightness
    return out


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in np.asarray(d).tolist()] if isinstance(d, np.ndarray) else [_jsonable(v) for v in d]
    if isinstance(d, (np.floating, float)):
        return None if not np.isfinite(d) else float(d)
    if isinstance(d, np.integer):
        return int(d)
    return d


def machine() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()}, TensorFlow {tf.__version__}"


def retrain(name, work_dir=None, verbose=1):
    """Train `name` from its recipe, evaluate it, and write weights + card.json into the package."""
    from prodgen_lessons import models
    from prodgen_lessons.data import load_fashion_mnist

    recipe = dict(RECIPES[_check_name(name)])
    data = load_fashion_mnist()
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix=f"prodgen-{name}-"))
    trainer, history, info = train(recipe["model"], epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                                   latent_dim=recipe.get("latent_dim"), data=data, out_dir=work_dir, resume=True, seed=recipe["seed"],
                                   minutes=recipe.get("minutes"), options=recipe.get("options"),
                                   domains=recipe.get("domains"), verbose=verbose)
    recipe.setdefault("latent_dim", models.spec(recipe["model"]).latent_dim)
    if recipe["model"] == "classifier":
        loss, acc = trainer.evaluate(data.x_test[..., None] / 255.0, data.y_test, verbose=0)
        result, floor = {"test_accuracy": float(acc), "test_loss": float(loss)}, None
    else:
        result, floor = evaluate(trainer, recipe["model"], data)
    target = PRETRAINED_DIR / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = {}
    for net_name, net in _networks(trainer, recipe["networks"]).items():
        path = target / f"{net_name}.weights.h5"
        if net_name == "classifier":
            bare = _bare_classifier(net, _architecture(recipe))
            bare.set_weights(net.get_weights())
            net = bare
        net.save_weights(path)
        files[path.name] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    card = dict(name=name, description=models.spec(recipe["model"]).description, recipe=recipe,
                training=dict(info, machine=machine(), date=time.strftime("%Y-%m-%d"),
                              load_average_end=[round(x, 2) for x in os.getloadavg()],  # was the CPU shared?
                              final=dict((k, v[-1]) for k, v in history.items())),
                files=files, metrics=_jsonable(result), noise_floor=_jsonable(floor))
    (target / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False))
    print(model_card(name) if recipe["model"] != "classifier" else json.dumps(card["metrics"]))
    return card


def rescore(name):
    """Measure the shipped `name` again (e.g. after a new metric) and rewrite its card's metrics."""
    from prodgen_lessons.data import load_fashion_mnist

    card = read_card(name)
    result, floor = evaluate(load_pretrained(name), card["recipe"]["model"], load_fashion_mnist())
    card.update(metrics=_jsonable(result), noise_floor=_jsonable(floor))
    (PRETRAINED_DIR / name / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False))
    print(model_card(name))
    return card


def main(argv=None):
    parser = argparse.ArgumentParser(description="Re-train the shipped pretrained models from their recipes.")
    parser.add_argument("--retrain", nargs="+", metavar="NAME", choices=list(RECIPES))
    parser.add_argument("--retrain-all", action="store_true")
    parser.add_argument("--rescore", nargs="+", metavar="NAME", choices=list(RECIPES),
                        help="measure shipped models again and rewrite their cards' metrics")
    parser.add_argument("--work-dir", help="folder for checkpoints (resumable); default: a temp folder")
    args = parser.parse_args(argv)
    for name in args.rescore or []:
        rescore(name)
    names = list(RECIPES) if args.retrain_all else (args.retrain or [])
    if not names and not args.rescore:
        parser.error("name models with --retrain NAME ..., --rescore NAME ... or use --retrain-all")
    for name in names:
        retrain(name, Path(args.work_dir) / name if args.work_dir else None, verbose=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
