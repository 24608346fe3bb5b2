"""Shipped pretrained models: recipes, training, model cards, and loading with a checksum.

Every model a chapter needs was trained by this project's own code (`training.train`, the same
function behind `prodgen train`) from the recipe below, on one 2-core CPU. Its weights live in
``prodgen_lessons/pretrained/<name>/<network>.weights.h5`` (Keras's weights format, no pickle)
beside ``card.json``, the model card: recipe, seed, epochs, training time and machine, the
SHA-256 of every file, and the metrics with their noise floor.

    trainer = load_pretrained("cgan")      # checks each file's SHA-256 first
    trainer = load_or_train("cgan", train=True)   # or train it here from its recipe
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

import numpy as np

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
SECOND_OPINION = "classifier2"  # the independent network every FID is also reported in

# name -> how it was trained. "minutes" caps the wall-clock time on the 2-core machine.
RECIPES = {
    "classifier": dict(model="classifier", epochs=10, batch_size=128, seed=0,
                       options={"decay_steps": 10 * (60000 // 128)}),
    # An independent second judge: another architecture, another seed (see models.classifier).
    "classifier2": dict(model="classifier", epochs=6, batch_size=128, seed=1,
                        options={"architecture": "allconv", "decay_steps": 6 * (60000 // 128)}),
    "cgan": dict(model="cgan", epochs=40, batch_size=64, seed=0, minutes=20,
                 options={"dropout": 0.0, "ema": 0.999, "twin_weight": 0.75, "loss": "hinge",
                          "precision": "auto"}),
    # the InfoGAN paper's 1,024-unit layer in D with G learning 5 x faster than D: better images
    # in both feature spaces, for the DCGAN and the InfoGAN; the DCGAN self-conditioned on 100
    # clusters of its images (benchmarks/README.md)
    "dcgan": dict(model="dcgan", epochs=60, batch_size=64, seed=0, minutes=20,
                  options={"loss": "hinge", "dropout": 0.0, "ema": 0.999, "hidden": 1024,
                           "learning_rate": [1e-3, 2e-4], "precision": "auto", "clusters": 100}),
    # one continuous code, not the paper's two; Q also sorts the real photos and keeps a photo's
    # group when the photo moves a little (cluster_weight, cluster_moves)
    "infogan": dict(model="infogan", epochs=60, batch_size=64, seed=0, minutes=20,
                    options={"loss": "hinge", "dropout": 0.0, "ema": 0.999, "info_weight": 1.0,
                             "cluster_weight": 2.0, "cluster_moves": True, "num_continuous": 1, "hidden": 1024,
                             "learning_rate": [1e-3, 2e-4], "precision": "auto"}),
    # beta < 1 sharpens the decoder; the codes' mixture (prior_components) repairs the prior;
    # decoding at temperature 2/3 sharpens the images, guidance delivers the category more often
    "vae": dict(model="vae", epochs=200, batch_size=128, latent_dim=32, seed=0, minutes=20,
                options={"beta": 0.05, "prior_components": 50, "temperature": 2 / 3}),
    "cvae": dict(model="cvae", epochs=200, batch_size=128, latent_dim=32, seed=0, minutes=20,
                 options={"beta": 0.05, "prior_components": 10, "temperature": 2 / 3, "guidance": 0.5}),
    # Transfer learning (chapter 6): the cGAN's recipe on every category but bags, half the time;
    # it ships its discriminator too, so that fine-tuning on a few bag photos starts from both.
    "cgan_no_bags": dict(model="cgan", without=["Bag"], networks=["generator", "discriminator"], epochs=40,
                         batch_size=64, seed=0, minutes=10,
                         options={"dropout": 0.0, "ema": 0.999, "twin_weight": 0.75, "loss": "hinge",
                                  "precision": "auto"}),
    # Chapter 5.5's controlled runs continue from this: the cGAN's recipe stopped at half its
    # time, when it draws products but still improves; it ships its discriminator too.
    "cgan_midway": dict(model="cgan", networks=["generator", "discriminator"], epochs=40, batch_size=64, seed=0,
                        minutes=10, options={"dropout": 0.0, "ema": 0.999, "twin_weight": 0.75, "loss": "hinge",
                                            "precision": "auto"}),
    # Chapter 7's transfer: the VAE's recipe at half width (the shipped weights then had a 40 MB budget) and
    # a quarter of its time, on every category but bags.
    "vae_no_bags": dict(model="vae", without=["Bag"], epochs=200, batch_size=128, latent_dim=32, seed=0, minutes=5,
                        options={"beta": 0.05, "prior_components": 50, "temperature": 2 / 3, "base_filters": 16,
                                 "hidden": 128}),
    # Chapter 8's diffusion model: `build_diffusion`'s defaults (widths 48/96, Heun 12 steps with
    # guidance 0.75 = 46 passes, bfloat16 where the CPU has it); the card also scores the sampler
    # at 10, 20 and 50 steps
    "diffusion": dict(model="diffusion", epochs=100, batch_size=64, seed=0, minutes=20, scored_steps=[10, 20, 50]),
    "cyclegan": dict(model="cyclegan", epochs=40, batch_size=32, seed=0, minutes=20,
                     domains=["Sneaker", "Ankle boot"], options={"precision": "auto"}),
    # Article 6.3's several conditions: category and colour, on the colour catalogue
    "cgan_colour": dict(model="cgan", data="colour-variants", image_shape=[28, 28, 3], epochs=40, batch_size=64,
                        seed=0, minutes=20, options={"colour": True, "dropout": 0.0, "ema": 0.999,
                                                     "twin_weight": 0.75, "loss": "hinge", "precision": "auto"}),
}


# Options that change how a trained model decodes, not how it trains (see `rescore`).
DECODING_OPTIONS = ("temperature", "guidance", "steps")


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


def _architecture(recipe):
    return recipe.get("options", {}).get("architecture", "cnn")


def is_shipped(name) -> bool:
    return (PRETRAINED_DIR / name / "card.json").is_file()


def read_card(name) -> dict:
    path = PRETRAINED_DIR / _check_name(name) / "card.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this copy of prodgen-lessons ships no "
                                f"pretrained {name!r}; train it with `prodgen train {RECIPES[name]['model']}` "
                                f"or `python -m prodgen_lessons.pretrained --retrain {name}`")
    return json.loads(path.read_text())


def build(recipe):
    """A compiled, untrained trainer of `recipe`'s model, shape and options."""
    from prodgen_lessons import models

    return models.build(recipe["model"], image_shape=tuple(recipe.get("image_shape", (28, 28, 1))),
                        latent_dim=recipe.get("latent_dim"), **recipe.get("options", {}))


def load_pretrained(name, directory=None):
    """The shipped `name` model (a compiled trainer, or the classifier), every file checksummed.

    A file whose SHA-256 differs from the model card is refused with an error naming it.
    """
    card = read_card(name) if directory is None else json.loads((Path(directory) / "card.json").read_text())
    folder = Path(directory) if directory else PRETRAINED_DIR / name
    recipe = card["recipe"]
    trainer = build(recipe)
    for net_name, net in shipped_networks(trainer, recipe).items():
        path = folder / f"{net_name}.weights.h5"
        expected = card.get("files", {}).get(path.name, {}).get("sha256")
        if not isinstance(expected, str):  # an unlisted file cannot be verified: refuse it
            raise ValueError(f"{folder / 'card.json'} gives no sha256 for {path.name}, so it cannot be "
                             "verified: reinstall the model or re-train it")
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (listed in {folder / 'card.json'})")
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"{path}: SHA-256 {actual} does not match the model card's {expected}; "
                             "the file is corrupt or was altered: reinstall or re-train it")
        if net is trainer:  # a classifier ships without optimiser state: load into a bare copy
            bare = _bare_classifier(net, _architecture(recipe))
            bare.load_weights(path)
            net.set_weights(bare.get_weights())
        else:
            net.load_weights(path)
    return trainer


def continue_from(name, **options):
    """A fresh trainer of the shipped `name` recipe with `options` changed (learning rate, loss, beta,
    dropout: any option that keeps the networks' weights), its networks holding the shipped weights
    (checksummed) and its optimiser new: the start of a controlled run that trains a model on."""
    recipe = read_card(name)["recipe"]
    shipped = shipped_networks(load_pretrained(name), recipe)
    trainer = build({**recipe, "options": {**recipe.get("options", {}), **options}})
    for stem, network in shipped_networks(trainer, recipe).items():
        try:
            network.set_weights(shipped[stem].get_weights())
        except ValueError as e:
            raise ValueError(f"{sorted(options)} change the shape of {name!r}'s {stem}, so its shipped weights "
                             f"cannot be continued; train that setting from scratch instead ({e})") from None
    return trainer


def judges(catalogue):
    """(classifier, second opinion or None): the shipped networks whose features every card's
    metrics are measured in (`metrics.evaluate_model` takes them). They know Fashion-MNIST's
    categories only; another catalogue needs its own classifier."""
    from prodgen_lessons.data import CATEGORIES

    if catalogue.class_names != CATEGORIES:
        h = catalogue.image_shape[0]
        raise ValueError(f"no classifier for {catalogue.source}: the shipped judges know Fashion-MNIST's "
                         f"categories only; train one with `prodgen train classifier --data {catalogue.source} "
                         f"--image-size {h} --out runs/judge` and pass it (--classifier runs/judge)")
    second = load_pretrained(SECOND_OPINION) if is_shipped(SECOND_OPINION) else None
    return load_pretrained("classifier"), second


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
        by_steps = card["metrics"].get("by_steps", {})
        if by_steps:
            lines += ["", "sampler steps   passes   ms/image    FID   FID2  accuracy  recall"]
            lines += [f"{steps:>13}  {m['passes']:>7}  {m['ms_per_image']:>9.1f}  {m['fid']:5.2f}  {m['fid2']:5.2f}"
                      f"  {m['conditional_accuracy']:8.3f}  {m['recall']:6.3f}" for steps, m in by_steps.items()]
    return "\n".join(lines)


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


def recipe_data(recipe):
    """The catalogue a recipe trains on (its `data`, less the categories it goes `without`)."""
    from prodgen_lessons.data import load_catalogue

    data = load_catalogue(recipe.get("data"))
    return data.without(*recipe["without"]) if recipe.get("without") else data


def shipped_networks(trainer, recipe):
    """{file stem: network} that the recipe's model ships: its spec's, or the recipe's `networks`."""
    from prodgen_lessons import models

    return models.networks(trainer, recipe["model"], recipe.get("networks"))


def _train_recipe(recipe, data, out_dir=None, verbose=1):
    from prodgen_lessons import training

    return training.train(recipe["model"], data, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                          latent_dim=recipe.get("latent_dim"), out_dir=out_dir, resume=out_dir is not None,
                          seed=recipe["seed"], minutes=recipe.get("minutes"), options=recipe.get("options"),
                          domains=recipe.get("domains"), verbose=verbose)


def load_or_train(name, train=False, verbose=2):
    """The shipped `name` model (every file checksummed) -- or, with train=True or when this copy
    ships none, the model trained here from its recipe (about 20 minutes on 2 CPU cores)."""
    if not train and is_shipped(_check_name(name)):
        return load_pretrained(name)
    recipe = RECIPES[name]
    return _train_recipe(recipe, recipe_data(recipe), verbose=verbose)[0]


def _write_card(name, card):
    from prodgen_lessons.training import write_json

    write_json(PRETRAINED_DIR / name / "card.json", card, indent=1, ensure_ascii=False)


def score(trainer, recipe, data):
    """(metrics, noise floor) of a trained recipe's model, as its card holds them. A recipe with
    `scored_steps` (a diffusion model) is scored again at each number of sampler steps, with its
    network passes and milliseconds per image on this machine, under metrics["by_steps"]."""
    from prodgen_lessons import metrics

    judged_by = judges(data)
    result, floor = metrics.evaluate_model(trainer, recipe["model"], data, *judged_by, domains=recipe.get("domains"))
    if recipe.get("scored_steps"):
        default, result["by_steps"] = trainer.steps, {}
        for steps in recipe["scored_steps"]:
            trainer.steps = steps
            at_steps = metrics.evaluate_model(trainer, recipe["model"], data, *judged_by)[0]
            at_steps.update(passes=trainer.passes(), ms_per_image=ms_per_image(trainer))
            result["by_steps"][str(steps)] = at_steps
        trainer.steps = default
        result["ms_per_image"] = ms_per_image(trainer)
    return result, floor


def ms_per_image(trainer, n=200):
    """Milliseconds per generated image, `n` images in one call after a warm-up call."""
    trainer.sample(16, seed=1)  # traces the graph
    start = time.perf_counter()
    trainer.sample(n, seed=2)
    return (time.perf_counter() - start) * 1000 / n


def finished_run(work_dir, recipe):
    """(history, info) of a run of `recipe` in `work_dir` that finished (its time budget or its
    epochs spent), or None when there is none, it stopped part-way, or its settings differ."""
    from prodgen_lessons import training

    work_dir = Path(work_dir)
    try:
        record = json.loads((work_dir / "history.json").read_text())
        settings = json.loads((work_dir / training.SETTINGS_NAME).read_text())
    except (OSError, ValueError):
        return None
    same = all(settings.get(k) == recipe.get(k) for k in ("model", "batch_size", "seed")) and \
        settings.get("options", {}) == json.loads(json.dumps(recipe.get("options", {})))
    done = "seconds" in record and (record.get("stopped_by_time") or record.get("epochs_done", 0) >= recipe["epochs"])
    if not (same and done and (work_dir / training.CHECKPOINT_NAME).is_file()):
        return None
    return record["history"], {k: v for k, v in record.items() if k != "history"}


def _average_into_weights(trainer):
    """A checkpoint holds the last step's weights; `fit` ends by copying the optimiser's moving
    average into them (Keras's use_ema). Do the same for a run loaded from its checkpoint, so the
    weights shipped are the ones its samples were scored with."""
    opt = getattr(trainer, "optimizer", None)
    opt = getattr(opt, "inner_optimizer", opt)  # under loss scaling
    if opt is not None and getattr(opt, "use_ema", False) and opt.built and int(opt.iterations.numpy()) > 0:
        opt.finalize_variable_values(trainer.trainable_variables)


def retrain(name, work_dir=None, verbose=1):
    """Train `name` from its recipe, evaluate it, and write weights + card.json into the package.
    A run that already finished in `work_dir` is scored and shipped, not trained again."""
    from prodgen_lessons import models, training

    recipe = dict(RECIPES[_check_name(name)])
    data = recipe_data(recipe)
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix=f"prodgen-{name}-"))
    finished = finished_run(work_dir, recipe)
    if finished:
        history, info = finished
        trainer = build(recipe)
        training.resume(trainer, work_dir)
        _average_into_weights(trainer)
        print(f"{work_dir}: the run finished ({info['epochs_done']} epochs, {info['seconds'] / 60:.1f} min); "
              "scoring it", flush=True)
    else:
        trainer, history, info = _train_recipe(recipe, data, work_dir, verbose)
        info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]  # was the CPU shared?
    s = models.spec(recipe["model"])
    recipe.setdefault("latent_dim", s.latent_dim)
    if s.kind == "classifier":
        loss, acc = trainer.evaluate(data.dataset("test", batch_size=512, scale="unit", shuffle=False,
                                                  drop_remainder=False), verbose=0)
        result, floor = {"test_accuracy": float(acc), "test_loss": float(loss)}, None
    else:
        result, floor = score(trainer, recipe, data)
    target = PRETRAINED_DIR / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = {}
    for net_name, net in shipped_networks(trainer, recipe).items():
        path = target / f"{net_name}.weights.h5"
        if net is trainer and s.kind == "classifier":  # ship the weights without the optimiser
            bare = _bare_classifier(net, _architecture(recipe))
            bare.set_weights(net.get_weights())
            net = bare
        net.save_weights(path)
        files[path.name] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    card = dict(name=name, description=s.description, recipe=recipe,
                training=dict(info, machine=machine(), date=time.strftime("%Y-%m-%d"),
                              final={k: v[-1] for k, v in history.items() if v}),
                files=files, metrics=_jsonable(result), noise_floor=_jsonable(floor))
    _write_card(name, card)
    print(model_card(name) if s.kind != "classifier" else json.dumps(card["metrics"]))
    return card


def rescore(name):
    """Measure the shipped `name` again (e.g. after a new metric) and rewrite its card's metrics.

    Options that act only when decoding (`DECODING_OPTIONS`) are taken from the recipe first, so a
    new temperature or guidance needs no re-training; the card notes the change."""
    card = read_card(name)
    recipe = card["recipe"]
    changed = {k: v for k, v in RECIPES[name].get("options", {}).items()
               if k in DECODING_OPTIONS and recipe.get("options", {}).get(k) != v}
    if changed:
        recipe.setdefault("options", {}).update(changed)
        card["rescored"] = (f"{time.strftime('%Y-%m-%d')}: decoding options {changed} taken from the recipe; "
                            "the weights are the ones trained")
        _write_card(name, card)
    data = recipe_data(recipe)
    result, floor = score(load_pretrained(name), recipe, data)
    card.update(metrics=_jsonable(result), noise_floor=_jsonable(floor))
    _write_card(name, card)
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
