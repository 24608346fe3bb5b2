"""Time-to-quality: which recipe reaches good product images first, on one CPU machine?

For every model family the course teaches (cGAN, DCGAN, InfoGAN, VAE, CVAE, CycleGAN), trains the
course's recipe beside a published reference recipe (and, in the "conditional" race, the course's
diffusion model beside a guided DDPM, the cGAN and the CVAE) (benchmarks/recipes.py) on the same
Fashion-MNIST training split for the same wall-clock budget, one run at a time, and scores each at
fixed checkpoints (budget/8, /4, /2 and the budget; the clock is paused while scoring) with
`prodgen_lessons.metrics.Evaluator` in two feature spaces: the course classifier's ("FID") and
the independent second network's ("FID2"), each next to its noise floor (real training vs real
test images, same features, same N). Generators are scored on samples (conditional accuracy for
the conditional ones, precision/recall); CycleGANs on the held-out sneakers they translate,
against real ankle boots (share classified as boots, FID, the cycle error), as
`prodgen_lessons.metrics.evaluate_model` scores the shipped CycleGAN.

All families accumulate in one results.json (families -> recipes -> runs): a finished run is
never trained again, a new invocation adds the runs it is missing. Writes RESULTS.md (a section
per family, with its own targets), results.json and time_to_quality.png.

    python benchmarks/time_to_quality.py                   # the cGAN race: 4 x 20 min (+ scoring)
    python benchmarks/time_to_quality.py --family dcgan --repeats 2
    python benchmarks/time_to_quality.py --family all --minutes 0.05 --sample-size 200 \
        --data sample --throwaway-classifier --out-dir /tmp/ttq   # a smoke run, seconds a recipe
    python benchmarks/time_to_quality.py --check           # the same, as a pass/fail check

Targets, for the course's recipe of each family at the end of the budget (FID in the course
classifier's features): see `FAMILIES`; the report says when each recipe first reaches each mark.
"""

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_MINUTES = 20.0
CHECKPOINT_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1.0)  # 2.5, 5, 10, 20 minutes at the default budget
SAMPLE_SEED = 1234  # the same noise at every checkpoint, so only the weights change
JUDGES = ("classifier", "classifier2")  # the two feature spaces: FID and FID2
# Runs are comparable only when these match. The data's folder is recorded, not compared: every
# source of the full set is checksummed, and n_train tells it from the sample. Nor is the second
# network's name, so that the runs made before it existed (no FID2) stay in the report.
COMPARED_SETTINGS = ("minutes", "checkpoint_seconds", "sample_size", "n_train", "classifier")
SCORES = ("fid", "fid2", "kid", "precision", "recall", "conditional_accuracy", "code_purity", "diversity", "is",
          "cycle_error")


@dataclasses.dataclass(frozen=True)
class Family:
    """One race: a model family's recipes and the marks its course recipe should reach."""

    name: str
    title: str
    recipes: tuple
    fid_ratio: float                # FID <= fid_ratio x the noise floor
    accuracy: float = None          # conditional accuracy (translations: share of the target) >= this
    recall: float = None            # recall >= this
    purity: float = None            # an InfoGAN's categorical code: one-to-one purity >= this
    accuracy_label: str = "cond. acc."
    marked: str = None              # the recipe the marks are for (default course_<name>)

    @property
    def course(self):
        return self.marked or f"course_{self.name}"

    def marks(self):
        """The family's marks in table order; "all" when there are several."""
        names = ["fid"] + [m for m in ("accuracy", "recall", "purity") if getattr(self, m) is not None]
        return names + (["all"] if len(names) > 1 else [])

    def second_marks(self):
        """(score key, mark, label) of each mark besides FID, in table order."""
        marks = (("conditional_accuracy", self.accuracy, self.accuracy_label), ("recall", self.recall, "recall"),
                 ("code_purity", self.purity, "code purity"))
        return [m for m in marks if m[1] is not None]

    def targets(self):
        """The marks as results.json records them (None: no such mark)."""
        return {"fid_over_floor": self.fid_ratio, "conditional_accuracy": self.accuracy, "recall": self.recall,
                "code_purity": self.purity}


FAMILIES = {f.name: f for f in [
    Family("cgan", "Conditional GANs", ("kerasio_cgan", "tf_dcgan", "article_cgan", "course_cgan"),
           4.0, accuracy=0.95),
    Family("dcgan", "DCGANs (unconditional)", ("tf_dcgan", "plain_dcgan", "course_dcgan_k50", "course_dcgan"), 6.0,
           recall=0.6),
    Family("infogan", "InfoGANs", ("paper_infogan", "course_infogan_paper_q", "course_infogan_rim", "course_infogan"),
           8.0, purity=0.75),
    Family("vae", "Variational autoencoders", ("tf_vae", "course_vae"), 20.0),
    Family("cvae", "Conditional VAEs", ("tf_cvae", "course_cvae"), 20.0, accuracy=0.90),
    Family("conditional", "Conditional generators: diffusion against the cGAN and the CVAE",
           ("guided_ddpm", "course_cvae", "course_cgan", "course_cgan_d1024", "course_diffusion_lean",
            "course_diffusion"), 4.0,
           accuracy=0.93, marked="course_diffusion"),
    Family("cyclegan", "CycleGANs: sneakers -> ankle boots", ("kerasio_cyclegan", "course_cyclegan"),
           10.0, accuracy=0.95, accuracy_label="classified as boot"),
    # ladders: from the textbook model to the course's, one choice at a time (chapters 3 and 4)
    Family("dcgan_ladder", "From the TF tutorial's DCGAN to the course's, one choice at a time",
           ("tf_dcgan", "dcgan_textbook", "dcgan_hinge", "dcgan_ema", "plain_dcgan", "course_dcgan"), 6.0,
           recall=0.6, marked="course_dcgan"),
    Family("vae_ladder", "From the TF tutorial's VAE to the course's, one choice at a time",
           ("tf_vae", "vae_textbook", "vae_beta", "vae_mixture", "course_vae"), 20.0, marked="course_vae"),
]}


def machine_info():
    """Cores, CPU model, TF/Keras versions and the load average now."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": os.cpu_count(), "usable_cores": usable, "cpu": cpu,
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "system": f"{platform.system()} {platform.release()}",
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}


def limit_cores(cores):
    """Run on `cores` CPUs (affinity + TF thread pools); call before TensorFlow runs anything."""
    if not cores:
        return
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cores)
    tf.config.threading.set_inter_op_parallelism_threads(cores)


def checkpoint_seconds(minutes, fractions=CHECKPOINT_FRACTIONS):
    if not minutes > 0:
        raise ValueError(f"--minutes must be positive, got {minutes}")
    return [minutes * 60.0 * f for f in fractions]


def selected_families(names):
    """The Family objects named (in FAMILIES order); "all" selects every family."""
    names = list(FAMILIES) if "all" in names else list(names)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {unknown}; "
                         f"valid: {', '.join(FAMILIES)} or all")
    return [f for f in FAMILIES.values() if f.name in names]


def translates(family):
    """Do the family's recipes translate images (CycleGANs) rather than sample them?"""
    import recipes

    return any(recipes.get(name).translates for name in family.recipes)


# ----------------------------------------------------------------------------- the judges


def throwaway_classifier(data, architecture="cnn", epochs=2, seed=0):
    """A briefly trained classifier for smoke runs only: its numbers mean nothing."""
    import keras

    from prodgen_lessons import models

    keras.utils.set_random_seed(seed)
    classifier = models.build("classifier", architecture=architecture)
    classifier.fit(data.x_train[..., None] / 255.0, data.y_train, batch_size=128, epochs=epochs, verbose=0)
    return classifier


def throwaway_judges(data):
    """Two throwaway classifiers, of the shipped judges' two architectures and seeds."""
    return throwaway_classifier(data, "cnn", seed=0), throwaway_classifier(data, "allconv", seed=1)


def load_judges():
    """The shipped course classifier and the independent second network, checksummed."""
    from prodgen_lessons.pretrained import load_pretrained

    return tuple(load_pretrained(name) for name in JUDGES)


def _pretrained_judges_exist():
    from prodgen_lessons.pretrained import PRETRAINED_DIR

    return all((PRETRAINED_DIR / name / "card.json").is_file() for name in JUDGES)


# ----------------------------------------------------------------------------- what is compared


def real_sets(data, translating):
    """The real (images, labels) training and test sets that scores compare with: every
    category, or only the target domain of the translations."""
    train, test = (data.x_train, data.y_train), (data.x_test, data.y_test)
    if not translating:
        return train, test
    from prodgen_lessons.data import category_index
    from recipes import DOMAINS

    target = category_index(DOMAINS[1])
    return tuple((x[y == target], y[y == target]) for x, y in (train, test))


def sample_size_for(data, translating, sample_size):
    """N for one kind of score, capped by the held-out images there are: the test split for
    samples, the held-out source-domain images for translations (as `metrics.evaluate_model` does)."""
    if not translating:
        return min(int(sample_size), len(data.x_test))
    from prodgen_lessons.models.cyclegan import domain_images
    from recipes import DOMAINS

    return min(int(sample_size), len(domain_images(data, DOMAINS[0], "test")))


def make_evaluators(classifiers, sample_size):
    """One `Evaluator` per feature space, both comparing `sample_size` images a set."""
    from prodgen_lessons.metrics import Evaluator

    return tuple(Evaluator(c, sample_size=sample_size) for c in classifiers)


def noise_floor(evaluators, real_train, real_test):
    """Real test images scored as if generated: every metric in the first feature space, the
    FID of the second as "fid2"."""
    first, second = evaluators
    floor = first.noise_floor(real_train, real_test)
    floor["fid2"] = second.noise_floor(real_train, real_test)["fid"]
    return {k: float(v) for k, v in floor.items() if np.ndim(v) == 0 and _finite(v)}


def _finite(value):
    try:
        return math.isfinite(float(np.asarray(value)))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check


def _kept(metrics):
    """The scalar scores the report uses (NaN as None)."""
    return {k: (float(metrics[k]) if _finite(metrics[k]) else None) for k in SCORES if k in metrics}


def score(trainer, recipe, evaluators, data, sample_size):
    """The scores of one checkpoint: of generated samples, or of translations."""
    if recipe.translates:
        return score_translations(trainer, evaluators, data, sample_size)
    return score_samples(trainer, recipe, evaluators, data, sample_size)


def score_samples(trainer, recipe, evaluators, data, sample_size, seed=SAMPLE_SEED):
    """`sample_size` generated images (an equal number per category) against real training
    images: every metric in the first feature space, FID in the second."""
    labels = np.arange(sample_size) % 10
    requested = labels if recipe.conditional else None
    images = trainer.sample(sample_size, labels=requested, seed=seed)
    if not np.all(np.isfinite(images)):
        raise FloatingPointError("the generator produced NaN/inf pixels")
    first, second = evaluators
    real_train = (data.x_train, data.y_train)
    metrics = first.evaluate(images, requested, real_train=real_train)
    metrics["fid2"] = second.evaluate(images, None, real_train=real_train)["fid"]
    out = _kept(metrics)
    _, probs = first.embed(images, "generated")
    out["classified_histogram"] = [round(float(h), 4) for h in np.bincount(probs.argmax(1), minlength=10) / len(probs)]
    if getattr(trainer, "num_categories", None):  # an InfoGAN sampled its categorical code as 0, 1, ..., 9, 0, ...
        from prodgen_lessons.metrics import code_purity

        codes = np.arange(sample_size) % trainer.num_categories
        out["code_purity"], _ = code_purity(codes, probs, num_categories=max(trainer.num_categories, probs.shape[1]))
    return out


def score_translations(trainer, evaluators, data, sample_size):
    """The held-out source images translated A -> B, scored against real B images by
    `metrics.evaluate_model` (the shipped CycleGAN's scores): share classified as B, FID in both
    feature spaces, and the cycle error mean |a - G_ba(G_ab(a))| in [0, 1] pixels."""
    from prodgen_lessons.metrics import evaluate_model
    from recipes import DOMAINS

    first, second = evaluators
    metrics, _ = evaluate_model(trainer, "cyclegan", data, classifier=first.classifier, sample_size=sample_size,
                                second=second.classifier, domains=DOMAINS)
    return _kept(metrics)


def fit_ex_post_density(trainer, dataset):
    """A VAE that samples from a density fitted to its training codes fits it now, as its `fit`
    does at the end: a checkpoint scores what a run stopped there would sample."""
    if getattr(trainer, "prior", None) is not None:
        trainer.fit_prior(dataset)


# ----------------------------------------------------------------------------- one run


def run_recipe(recipe, data, evaluators, checkpoints_s, sample_size, seed=0, log=print):
    """Train `recipe` until the last checkpoint (training seconds, clock paused while scoring).

    Returns {"checkpoints": [...], "diverged": bool, "weights_finite": bool, "final_logs": {...},
    "wall_seconds": ...}. A NaN/inf loss stops the run; remaining checkpoints are left unscored.
    """
    import keras

    from prodgen_lessons import training
    from prodgen_lessons.data import as_float

    keras.utils.set_random_seed(seed)
    start_wall = time.perf_counter()
    trainer = recipe.build()
    callbacks = []
    if hasattr(trainer, "self_conditioning"):  # it pairs each image with its cluster (clustering time counts)
        dataset, labeller = training.self_labelled_data(trainer, as_float(data.x_train, recipe.scale),
                                                        recipe.batch_size, seed)
        callbacks.append(labeller)
    else:
        dataset = recipe.dataset(data, seed=seed)
    epoch_size = recipe.epoch_size(data)
    result = {"recipe": recipe.name, "notes": recipe.notes, "seed": seed, "checkpoints": [], "diverged": False,
              "error": None, "final_logs": {},
              "started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
              "load_average_start": [round(x, 2) for x in os.getloadavg()],
              "cpu": machine_info()["cpu"],  # runs of one report may come from several invocations
              "precision": getattr(trainer, "generator", trainer).dtype_policy.name}

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0, self.paused, self.steps, self.next = time.perf_counter(), 0.0, 0, 0

        def elapsed(self):
            return time.perf_counter() - self.t0 - self.paused

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            logs = logs or {}
            result["final_logs"] = {k: float(np.asarray(v)) for k, v in logs.items()}
            if not all(_finite(v) for v in logs.values()):
                result["diverged"] = True
                log(f"  {recipe.name}: loss became NaN/inf at step {self.steps}: {result['final_logs']}")
                self.model.stop_training = True
                return
            if self.steps == 1:
                result["first_step_seconds"] = round(self.elapsed(), 2)  # includes graph tracing
            # at most one checkpoint per step: a slow first step (tracing) then shifts the
            # early checkpoints a little instead of scoring the same weights twice
            if self.next < len(checkpoints_s) and self.elapsed() >= checkpoints_s[self.next]:
                trained = self.elapsed()
                pause = time.perf_counter()
                point = {"minutes_target": checkpoints_s[self.next] / 60.0,
                         "train_seconds": round(trained, 2), "steps": self.steps,
                         "epochs": round(self.steps * recipe.batch_size / epoch_size, 3)}
                try:
                    fit_ex_post_density(self.model, dataset)
                    point.update(score(self.model, recipe, evaluators, data, sample_size))
                except (ValueError, FloatingPointError) as err:  # NaN images/features
                    point["error"] = str(err)
                point["score_seconds"] = round(time.perf_counter() - pause, 2)
                result["checkpoints"].append(point)
                log(f"  {recipe.name} seed {seed} @ {trained / 60:.2f} min: step {self.steps}, "
                    f"FID {_fmt(point.get('fid'))}, FID2 {_fmt(point.get('fid2'))}, "
                    f"accuracy {_fmt(point.get('conditional_accuracy'), 3)}"
                    + (f", code purity {_fmt(point['code_purity'], 3)}" if "code_purity" in point else "") + " "
                    f"(scored in {point['score_seconds']:.1f} s)")
                self.paused += time.perf_counter() - pause
                self.next += 1
            if self.next >= len(checkpoints_s):
                self.model.stop_training = True

    clock = Clock()
    trainer.fit(dataset, epochs=10**9, callbacks=[*callbacks, clock], shuffle=False, verbose=0)  # the dataset shuffles
    result["steps"] = clock.steps
    result["train_seconds"] = round(clock.elapsed(), 2)
    result["wall_seconds"] = round(time.perf_counter() - start_wall, 2)
    result["weights_finite"] = bool(all(np.all(np.isfinite(np.asarray(w))) for w in trainer.weights))
    return result


# ----------------------------------------------------------------------------- summary


def _fmt(x, digits=2):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(values)) if values else None


def _ratio(value, floor):
    return value / floor if value is not None and floor else None


def median_points(runs, floor, recipe):
    """One row per checkpoint: medians over the runs, FID's range, FID / floor in both spaces."""
    points = []
    for i in range(max((len(r["checkpoints"]) for r in runs), default=0)):
        at = [r["checkpoints"][i] for r in runs if len(r["checkpoints"]) > i]
        row = {"minutes_target": at[0]["minutes_target"], "repeats": len(at)}
        for key in ("train_seconds", "steps", "epochs") + SCORES:
            row[key] = _median([p.get(key) for p in at])
        fids = [p["fid"] for p in at if p.get("fid") is not None]
        row["fid_range"] = [min(fids), max(fids)] if fids else None  # the spread behind a median
        row["fid_ratio"] = _ratio(row["fid"], floor.get("fid"))
        row["fid2_ratio"] = _ratio(row["fid2"], floor.get("fid2"))
        if not recipe.scores_category:
            row["conditional_accuracy"] = None
        points.append(row)
    return points


def mark_tests(family, recipe):
    """{mark: test of one checkpoint's medians, or None where the mark does not apply}."""
    def at_least(key, mark):
        return lambda p: p[key] is not None and p[key] >= mark

    tests = {"fid": lambda p: p["fid_ratio"] is not None and p["fid_ratio"] <= family.fid_ratio}
    if family.accuracy is not None:
        tests["accuracy"] = at_least("conditional_accuracy", family.accuracy) if recipe.scores_category else None
    if family.recall is not None:
        tests["recall"] = at_least("recall", family.recall)
    if family.purity is not None:
        tests["purity"] = at_least("code_purity", family.purity)
    if len(tests) > 1:
        parts = list(tests.values())
        tests["all"] = None if None in parts else (lambda p: all(test(p) for test in parts))
    return tests


def first_reached(points, family, recipe):
    """{mark: the first checkpoint (minutes) whose medians meet it, None if none does, "n/a"}."""
    reached = {}
    for mark, test in mark_tests(family, recipe).items():
        hit = next((p for p in points if test(p)), None) if test else None
        reached[mark] = "n/a" if test is None else (hit["minutes_target"] if hit else None)
    return reached


def summarise(runs, floor, family, recipe):
    """A recipe's medians at each checkpoint and when it first reaches each of the family's marks."""
    points = median_points(runs, floor, recipe)
    return {"points": points, "first_reached": first_reached(points, family, recipe),
            "diverged_runs": sum(r["diverged"] for r in runs),
            "first_step_seconds": _median([r.get("first_step_seconds") for r in runs]),
            "repeats": len(runs)}


# ----------------------------------------------------------------------------- RESULTS.md


def _minutes(x):
    return f"{x:g}" if x is not None else "-"


def _when(v):
    return "n/a" if v == "n/a" else ("not reached" if v is None else f"{v:g} min")


def _spread(point):
    lo_hi = point.get("fid_range")
    return f" ({_fmt(lo_hi[0], 2)}-{_fmt(lo_hi[1], 2)})" if point.get("repeats", 1) > 1 and lo_hi else ""


def columns(family):
    """The checkpoint table's columns for `family` (CycleGANs add the cycle error)."""
    cycle = ("cycle error",) if translates(family) else ()
    purity = ("code purity",) if family.purity is not None else ()
    return ("recipe", "checkpoint (min)", "trained (min)", "steps", "epochs", "FID", "FID / floor", "FID2",
            "FID2 / floor2", family.accuracy_label, "precision", "recall") + purity + cycle


def header_lines(report):
    """The title, a smoke-run warning, the machine, the budget and what scores the images."""
    cfg, m = report["config"], report["machine"]
    lines = ["# Time-to-quality benchmark", ""]
    if cfg["smoke"]:
        lines += ["> **Smoke run** (" + ", ".join(cfg["smoke_reasons"]) + "): the numbers below test "
                  "the pipeline and say nothing about the recipes.", ""]
    return lines + [
        f"Last invocation {report['date']}: {m['usable_cores']} of {m['cores']} cores ({m['cpu']}), "
        f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, {m['system']}; "
        f"TF threads intra/inter {m['intra_op_threads']}/{m['inter_op_threads']}; load average at "
        f"start {' / '.join(map(str, m['load_average']))} (1/5/15 min), at the end "
        f"{' / '.join(map(str, report['load_average_end']))}. Wall time of the last invocation "
        f"{report['total_wall_seconds'] / 60:.1f} min.",
        "",
        f"Budget: **{cfg['minutes']:g} min of training per recipe per run**; recipes run one at a "
        f"time; checkpoints at {', '.join(_minutes(s / 60) for s in cfg['checkpoint_seconds'])} min "
        "of training (clock paused while scoring); tables show medians over a recipe's runs, with "
        "the range of FID where there are several.",
        f"Data: {cfg['data_source']} ({cfg['n_train']} training images). Scored in two feature "
        f"spaces: FID with {cfg['classifier']}, FID2 with {cfg['classifier2']}; each next to its "
        "noise floor (N real test images scored as if generated). Runs made before the second "
        "network existed have no FID2 (\"-\").",
        "",
    ]


def family_lines(family, section, report):
    """A family's section: its floor and runs, the checkpoint table, the targets, the recipes."""
    import recipes

    used = [recipes.get(name) for name in section["recipes"]]
    lines = [f"## {family.name}: {family.title}", ""] + _runs_lines(section, report["config"]["minutes"])
    lines += _floor_lines(family, section) + _table_lines(family, section, used)
    lines += _target_lines(family, section) + _recipe_lines(used) + _histogram_lines(section, used)
    return lines + [""]


def _runs_lines(section, minutes):
    runs = [r for entry in section["recipes"].values() for r in entry["runs"]]
    starts = [f"{r['recipe']} (seed {r['seed']}) "
              + (f"{r['started']}, load {' / '.join(map(str, r['load_average_start']))}" if "started" in r
                 else "in an earlier invocation")
              + "".join(f", {r[k]}" for k in ("cpu", "precision") if k in r)
              for r in runs]
    seeds = ", ".join(f"{name} {len(e['runs'])} ({', '.join(str(r['seed']) for r in e['runs'])})"
                      for name, e in section["recipes"].items())
    return [f"Runs (seeds) of {minutes:g} min of training: {seeds}. Started (load average 1/5/15 min "
            "at the start, CPU, precision): " + "; ".join(starts) + ".", ""]


def _floor_lines(family, section):
    from recipes import DOMAINS

    floor, n = section["noise_floor"], section["sample_size"]
    source, target = DOMAINS
    what = (f"N held-out {source} test images translated, against N real {target} training images "
            f"(the floor: real {target} test images against training ones)" if translates(family)
            else "N generated images per checkpoint (an equal number per category for conditional "
                 "recipes) against N real training images")
    return [f"Scores: {what}, N = {n}. Noise floor: FID {_fmt(floor.get('fid'), 3)}, FID2 "
            f"{_fmt(floor.get('fid2'), 3)}, {family.accuracy_label} {_fmt(floor.get('conditional_accuracy'), 3)} "
            f"(the classifier's own accuracy), precision {_fmt(floor.get('precision'), 3)}, recall "
            f"{_fmt(floor.get('recall'), 3)}.", ""]


def _table_lines(family, section, used):
    cols = columns(family)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|"]
    for recipe in used:
        for p in section["recipes"][recipe.name]["summary"]["points"]:
            acc = _fmt(p["conditional_accuracy"], 3) if recipe.scores_category else "n/a"
            cycle = [_fmt(p.get("cycle_error"), 4)] if recipe.translates else []
            purity = [_fmt(p.get("code_purity"), 3)] if family.purity is not None else []
            cells = [recipe.name, _minutes(p["minutes_target"]), _fmt((p["train_seconds"] or 0) / 60),
                     _fmt(p["steps"], 0), _fmt(p["epochs"]), _fmt(p["fid"], 3) + _spread(p),
                     _fmt(p["fid_ratio"], 2), _fmt(p["fid2"], 3), _fmt(p["fid2_ratio"], 2), acc,
                     _fmt(p["precision"], 3), _fmt(p["recall"], 3)] + purity + cycle
            lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


MARK_HEADINGS = {"fid": "FID mark", "accuracy": "accuracy mark", "recall": "recall mark", "purity": "purity mark",
                 "all": "all marks"}


def _mark_text(family):
    texts = [f"FID <= {family.fid_ratio:g} x noise floor"]
    if family.accuracy is not None:
        texts.append(f"{family.accuracy_label} >= {family.accuracy:g}")
    if family.recall is not None:
        texts.append(f"recall >= {family.recall:g}")
    if family.purity is not None:
        texts.append(f"code purity >= {family.purity:g}")
    return ", ".join(texts)


def _target_lines(family, section):
    marks = family.marks()
    lines = [f"Targets: {_mark_text(family)}. First checkpoint (median over runs) at which each holds:", "",
             "| recipe | " + " | ".join(MARK_HEADINGS[m] for m in marks) + " | runs that diverged | "
             "first step (s, incl. tracing) |",
             "|---|" + "---|" * len(marks) + "---:|---:|"]
    for name, entry in section["recipes"].items():
        s = entry["summary"]
        lines.append(f"| {name} | " + " | ".join(_when(s["first_reached"][m]) for m in marks)
                     + f" | {s['diverged_runs']} / {s['repeats']} | {_fmt(s['first_step_seconds'], 1)} |")
    course = section["recipes"].get(family.course)
    if course and course["summary"]["points"]:
        lines += ["", _verdict(family, course["summary"]["points"][-1])]
    return lines + [""]


def _verdict(family, last):
    """Met or not met, for the course's recipe at its last checkpoint, and by how much it misses."""
    import recipes

    tests = mark_tests(family, recipes.get(family.course))
    ok = all(test(last) for mark, test in tests.items() if mark != "all" and test)
    values, misses = [f"FID / floor {_fmt(last['fid_ratio'], 2)}"], []
    if last["fid_ratio"] is not None and last["fid_ratio"] > family.fid_ratio:
        misses.append(f"FID {100 * (last['fid_ratio'] / family.fid_ratio - 1):.0f} % over its mark")
    for key, mark, label in family.second_marks():
        values.append(f"{label} {_fmt(last.get(key), 3)}")
        if last.get(key) is not None and last[key] < mark:
            misses.append(f"{label} {mark - last[key]:.3f} under its mark")
    return (f"Target for {family.course} at the end of the budget ({_minutes(last['minutes_target'])} min): "
            f"**{'met' if ok else 'not met'}** ({', '.join(values)}" + "".join(f"; {m}" for m in misses)
            + f"). {_second_opinion(family, last)}")


def _second_opinion(family, last):
    """Does the FID mark hold in the second network's features too?"""
    if last["fid2_ratio"] is None:
        return "FID2 was not measured for these runs."
    holds = "holds" if last["fid2_ratio"] <= family.fid_ratio else "does not hold"
    return (f"In the second network's features FID2 / floor2 is {_fmt(last['fid2_ratio'], 2)}: "
            f"the FID mark {holds} there.")


def _recipe_lines(used):
    lines = ["The recipes:", ""]
    for r in used:
        lines += [f"- **{r.name}**: {r.title} ({r.source}); batch {r.batch_size}, images in "
                  f"{'[0, 1]' if r.scale == 'unit' else '[-1, 1]'}. {r.notes.rstrip('.')}."]
        if r.fixes:
            lines += ["", "  Fixes needed to make the article's code train (nothing else changed):", ""]
            lines += [f"  {i}. {fix}" for i, fix in enumerate(r.fixes, 1)]
            lines += [""]
    return lines


def _histogram_lines(section, used):
    """For unconditional generators: the share of each category as classified, last checkpoint."""
    lines = []
    for recipe in used:
        run = section["recipes"][recipe.name]["runs"][0]
        if recipe.scores_category or not run["checkpoints"] or "classified_histogram" not in run["checkpoints"][-1]:
            continue
        h = run["checkpoints"][-1]["classified_histogram"]
        lines.append(f"- {recipe.name}: " + ", ".join(f"{x:.3f}" for x in h)
                     + f" (min {min(h):.3f}, max {max(h):.3f}; 0.1 each is balanced)")
    if lines:
        lines = ["", "Unconditional recipes: share of each category as classified, at the last "
                     "checkpoint (first run), as a stand-in for conditional accuracy:", ""] + lines
    return lines


def write_markdown(path, report):
    lines = header_lines(report)
    lines += ["![FID / noise floor against training time, per family](time_to_quality.png)", ""]
    for name, section in report["families"].items():
        lines += family_lines(FAMILIES[name], section, report)
    lines += ["Raw numbers per run and checkpoint: `results.json`. Reproduce: "
              "`python benchmarks/time_to_quality.py --family NAME` (see README.md); the last "
              f"invocation was `{report['command']}`.", ""]
    Path(path).write_text("\n".join(lines))


# ----------------------------------------------------------------------------- the plot


def write_plot(path, report):
    """One row per family: FID / floor in both feature spaces, and the family's second mark
    (accuracy, code purity or recall) against training time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = report["families"]
    fig, axes = plt.subplots(len(sections), 2, figsize=(11, 3.4 * len(sections)), squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (ax_fid, ax_other), (name, section) in zip(axes, sections.items()):
        family = FAMILIES[name]
        other, mark, other_label = (family.second_marks() or [("recall", None, "recall")])[0]
        for colour, (recipe, entry) in zip(colours, section["recipes"].items()):
            points = entry["summary"]["points"]
            x = [p["train_seconds"] / 60 for p in points]
            for key, style, label in (("fid_ratio", "o-", recipe), ("fid2_ratio", "s--", f"{recipe} (FID2)")):
                _plot_known(ax_fid, x, [p[key] for p in points], style, label, colour)
            floor = section["noise_floor"].get("fid")
            if entry["summary"]["repeats"] > 1 and floor and all(p["fid_range"] for p in points):  # the runs' spread
                ax_fid.fill_between(x, *zip(*[(lo / floor, hi / floor) for lo, hi in (p["fid_range"] for p in points)]),
                                    alpha=0.2, color=colour)
            _plot_known(ax_other, x, [p.get(other) for p in points], "o-", recipe, colour)
        ax_fid.axhline(family.fid_ratio, color="grey", ls="--", label=f"mark {family.fid_ratio:g} x floor")
        ax_fid.set(ylabel="FID / noise floor", yscale="log", title=f"{name}: FID / floor (lower is better)")
        if mark is not None:
            ax_other.axhline(mark, color="grey", ls="--", label=f"mark {mark:g}")
        ax_other.set(ylabel=other_label, ylim=(0, 1.02), title=f"{name}: {other_label}")
        for ax in (ax_fid, ax_other):
            ax.set_xlabel("training time (min)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    m = report["machine"]
    fig.suptitle(f"{report['config']['minutes']:g} min per recipe, medians over runs, "
                 f"{m['usable_cores']} cores, TF {m['tensorflow']}"
                 + (" - SMOKE RUN" if report["config"]["smoke"] else ""), fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_known(ax, x, y, style, label, colour):
    """Plot the points whose value is known (a run without FID2 has gaps)."""
    known = [(a, b) for a, b in zip(x, y) if b is not None]
    if known:
        ax.plot(*zip(*known), style, label=label, color=colour)


# ----------------------------------------------------------------------------- results.json


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def upgrade(report):
    """A results.json of the cGAN-only layout (one list of runs, one noise floor) in the
    per-family layout: its runs become the cgan family's."""
    if "families" in report:
        return report
    by_recipe = {}
    for run in report["runs"]:
        by_recipe.setdefault(run["recipe"], []).append(run)
    cgan = {"noise_floor": report["noise_floor"], "sample_size": report["config"]["sample_size"],
            "recipes": {name: {"runs": runs} for name, runs in by_recipe.items()}}
    config = {k: v for k, v in report["config"].items() if k not in ("recipes", "seeds", "targets")}
    config.setdefault("classifier2", "no second network (these runs were made before it)")
    return {**report, "config": config, "families": {"cgan": cgan}}


def earlier_families(path, settings, log=print):
    """The families (noise floor, N, recipes -> runs) of an earlier results.json made with the
    same settings; an error names the settings that differ."""
    if not path.is_file():
        return {}
    old = upgrade(json.loads(path.read_text()))
    different = {k: (old["config"].get(k), v) for k, v in _jsonable(settings).items()
                 if k in COMPARED_SETTINGS and old["config"].get(k) != v}
    if different:
        raise ValueError(f"{path} was made with other settings {different} (old, new); use the same "
                         "options, another --out-dir, or --fresh to start the file anew")
    runs = sum(len(e["runs"]) for f in old["families"].values() for e in f["recipes"].values())
    log(f"keeping {runs} finished run(s) of {path}")
    return {name: {**f, "recipes": {r: {"runs": e["runs"]} for r, e in f["recipes"].items()}}
            for name, f in old["families"].items()}


def same_recipe(run, notes):
    """Whether `run` trained the recipe described by `notes` (a course recipe's carry its options);
    runs made before runs recorded their notes count as the same."""
    return run.get("notes", notes) == notes


def finished_run(families, recipe, seed, notes=None):
    """A finished run of `recipe` with `seed` in any family: a recipe trains and is scored the
    same whichever family it races in (tf_dcgan races in two). A run of another version of the
    recipe (`same_recipe`) is not it."""
    for name, section in families.items():
        for run in section["recipes"].get(recipe, {}).get("runs", []):
            if run["seed"] == seed and same_recipe(run, notes):
                return name, run
    return None


def lacks_fid2(run):
    """A run scored before the second network joined the benchmark."""
    return any(point.get("fid2") is None for point in run["checkpoints"])


def family_report(family, section):
    """A family's entry of results.json: targets, floor, N, and runs + summary per recipe."""
    import recipes

    names = [n for n in family.recipes if section["recipes"].get(n, {}).get("runs")]
    entries = {}
    for name in names:
        runs = sorted(section["recipes"][name]["runs"], key=lambda r: r["seed"])
        entries[name] = {"runs": runs, "summary": summarise(runs, section["noise_floor"], family, recipes.get(name))}
    return {"title": family.title, "targets": family.targets(), "noise_floor": section["noise_floor"],
            "sample_size": section["sample_size"], "recipes": entries}


def assemble(state, meta, config):
    """The report (what results.json holds) of the families in `state` that have runs, in
    FAMILIES order; `meta`: date, command, machine, load averages, wall time."""
    families = {name: family_report(FAMILIES[name], state[name]) for name in FAMILIES
                if name in state and any(e["runs"] for e in state[name]["recipes"].values())}
    return _jsonable({"layout": 2, **meta, "config": config, "families": families})


def save(report, out_dir):
    """Write results.json, RESULTS.md and time_to_quality.png into `out_dir`."""
    out_dir = Path(out_dir)
    (out_dir / "results.json").write_text(json.dumps(report, indent=1))
    write_markdown(out_dir / "RESULTS.md", report)
    write_plot(out_dir / "time_to_quality.png", report)


def rewrite(out_dir):
    """The three files again from out_dir/results.json (an old layout read into the new one),
    training and scoring nothing."""
    old = upgrade(json.loads((Path(out_dir) / "results.json").read_text()))
    meta = {k: old[k] for k in ("date", "command", "machine", "load_average_end", "total_wall_seconds")}
    report = assemble(old["families"], meta, old["config"])
    save(report, out_dir)
    return report


# ----------------------------------------------------------------------------- the run


def measure_floors(data, classifiers, families, sample_size, log=print):
    """{kind: (evaluators, N, noise floor)} for each kind of score the families need: samples
    (kind False) or translations (kind True)."""
    measured = {}
    for kind in sorted({translates(f) for f in families}):
        n = sample_size_for(data, kind, sample_size)
        evaluators = make_evaluators(classifiers, n)
        floor = noise_floor(evaluators, *real_sets(data, kind))
        log(f"noise floor ({'translations' if kind else 'samples'}, N={n}): FID {floor['fid']:.3f}, "
            f"FID2 {floor['fid2']:.3f}")
        measured[kind] = (evaluators, n, floor)
    return measured


def planned_runs(families, recipe_names, repeats):
    """(family, recipe name, seed) in the order they run: family by family, then seed by seed."""
    return [(family, name, seed) for family in families for seed in range(repeats)
            for name in family.recipes if not recipe_names or name in recipe_names]


def run_benchmark(data, classifiers, family_names=("cgan",), recipe_names=None, minutes=DEFAULT_MINUTES,
                  repeats=1, sample_size=5000, out_dir=HERE, smoke_reasons=(),
                  classifier_names=("classifier", "classifier2"), command="",
                  fractions=CHECKPOINT_FRACTIONS, fresh=False, rerun=False, log=print):
    """Run the recipes of the families named `repeats` times; write RESULTS.md, results.json and
    time_to_quality.png.

    `classifiers`: the two keras classifiers with a "features" layer whose feature spaces score
    (the shipped "classifier" and "classifier2" for real runs). `recipe_names` narrows the
    families' recipes. The finished runs of out_dir/results.json (same settings; all families)
    are kept and only missing (recipe, seed) runs are trained, unless `fresh`; `rerun` also trains
    again the selected runs scored before FID2 existed, replacing them in every family. The files are
    rewritten after every run. Returns the report dict (what results.json holds).
    """
    import recipes

    families = selected_families(family_names)
    wanted = {n for f in families for n in f.recipes}
    for name in recipe_names or ():
        if name not in wanted:
            raise ValueError(f"recipe {name!r} is not in the families {list(family_names)} "
                             f"(their recipes: {', '.join(sorted(wanted))})")
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    checkpoints_s = checkpoint_seconds(minutes, fractions)
    n = sample_size_for(data, False, sample_size)
    if n < int(sample_size):
        log(f"sample size {sample_size} > {len(data.x_test)} test images: using N = {n}")
    if n < 20:
        raise ValueError(f"--sample-size must be at least 20 (2 per category), got {sample_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    machine = machine_info()
    log(f"machine: {machine}")
    settings = {"minutes": minutes, "checkpoint_seconds": checkpoints_s, "sample_size": n,
                "data_source": data.source, "n_train": int(len(data.x_train)),
                "classifier": classifier_names[0], "classifier2": classifier_names[1]}
    state = {} if fresh else earlier_families(out_dir / "results.json", settings, log)
    measured = measure_floors(data, classifiers, families, sample_size, log)
    for family in families:
        state.setdefault(family.name, {"recipes": {}})
    for name, section in state.items():  # floors measured now (with FID2) serve every family of their kind
        if translates(FAMILIES[name]) in measured:
            _, section["sample_size"], section["noise_floor"] = measured[translates(FAMILIES[name])]

    def write():
        meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "command": command,
                "machine": machine, "load_average_end": [round(x, 2) for x in os.getloadavg()],
                "total_wall_seconds": round(time.perf_counter() - started, 1)}
        config = {**settings, "repeats": repeats, "smoke": bool(smoke_reasons), "smoke_reasons": list(smoke_reasons)}
        report = assemble(state, meta, config)
        save(report, out_dir)
        return report

    for family, name, seed in planned_runs(families, recipe_names, repeats):
        runs = state[family.name]["recipes"].setdefault(name, {"runs": []})["runs"]
        notes = recipes.get(name).notes
        stale = [r for r in runs if r["seed"] == seed and not same_recipe(r, notes)]
        if stale:
            log(f"{family.name}: {name}, seed {seed}: the recipe changed since its run of {stale[0]['started']}; "
                "that run is dropped")
            runs[:] = [r for r in runs if r not in stale]
        kept = finished_run(state, name, seed, notes)
        homes = []  # with --rerun: the other families whose run of this seed the new run replaces
        if kept and rerun and lacks_fid2(kept[1]):
            log(f"{family.name}: {name}, seed {seed}: its run of {kept[1].get('started', 'an earlier day')} "
                "has no FID2: trained again (--rerun)")
            for home, section in state.items():
                old = section["recipes"].get(name, {}).get("runs", [])
                if any(r["seed"] == seed for r in old) and home != family.name:
                    homes.append(old)
                old[:] = [r for r in old if r["seed"] != seed]
            kept = None
        if kept:
            log(f"{family.name}: {name}, seed {seed}: kept (a finished run of the {kept[0]} family)")
            if kept[0] != family.name:
                runs.append(kept[1])
            continue
        log(f"{family.name}: {name}, seed {seed} ({seed + 1}/{repeats}): training for {minutes:g} min")
        evaluators, n_scored, _ = measured[translates(family)]
        runs.append(run_recipe(recipes.get(name), data, evaluators, checkpoints_s, n_scored, seed=seed, log=log))
        for home in homes:
            home.append(runs[-1])
        write()  # after every run: an interrupted benchmark keeps what it finished
    report = write()
    log(f"wrote {out_dir / 'RESULTS.md'}, {out_dir / 'results.json'}, {out_dir / 'time_to_quality.png'}")
    return report


def check(report, family_names=None):
    """Problems that make a run unusable: no steps, NaN losses or weights, missing scores."""
    problems = []
    for name, section in report["families"].items():
        if family_names and name not in family_names:
            continue
        for recipe, entry in section["recipes"].items():
            for run in entry["runs"]:
                if not run.get("steps"):
                    problems.append(f"{recipe}: no training step ran")
                if run["diverged"] or not run["weights_finite"]:
                    problems.append(f"{recipe}: NaN/inf loss or weights ({run['final_logs']})")
                if not run["checkpoints"] or any(p.get("fid") is None for p in run["checkpoints"]):
                    problems.append(f"{recipe}: a checkpoint has no FID")
    return problems


def main(argv=None):
    import recipes

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", nargs="+", default=["cgan"], choices=list(FAMILIES) + ["all"], metavar="NAME",
                   help=f"which families race (default cgan; {', '.join(FAMILIES)} or all)")
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                   help="training budget per recipe (checkpoints at 1/8, 1/4, 1/2, 1 of it); default 20")
    p.add_argument("--recipes", nargs="+", default=None, choices=list(recipes.RECIPES), metavar="NAME",
                   help="only these recipes of the families (default: all of theirs)")
    p.add_argument("--repeats", type=int, default=1, help="runs per recipe (seeds 0..); tables show medians")
    p.add_argument("--sample-size", type=int, default=5000, help="images per checkpoint (N); default 5000")
    p.add_argument("--data", choices=["full", "sample"], default="full",
                   help="full Fashion-MNIST (default) or the bundled 1,200-image sample (smoke runs)")
    p.add_argument("--cores", type=int, default=2, help="CPU cores to use (default 2; 0 = all)")
    p.add_argument("--out-dir", default=None,
                   help="where to write RESULTS.md etc.; default benchmarks/ (a temp folder for smoke runs)")
    p.add_argument("--throwaway-classifier", action="store_true",
                   help="score with two briefly trained classifiers instead of the pretrained ones (smoke runs)")
    p.add_argument("--rerun", action="store_true",
                   help="also train again the selected recipes' runs scored before FID2 existed, "
                        "replacing them")
    p.add_argument("--fresh", action="store_true",
                   help="start OUT_DIR/results.json anew instead of keeping its finished runs")
    p.add_argument("--resume", action="store_true",
                   help="keep the finished runs of OUT_DIR/results.json (the default; kept for old commands)")
    p.add_argument("--rewrite", action="store_true",
                   help="only write RESULTS.md and the plot again from OUT_DIR/results.json (an old "
                        "layout is upgraded); trains nothing")
    p.add_argument("--check", action="store_true",
                   help="pass/fail pipeline check: the families' recipes for seconds on the sample; exit 1 on NaN")
    args = p.parse_args(argv)
    if args.rewrite:
        rewrite(args.out_dir or HERE)
        return 0
    fractions = CHECKPOINT_FRACTIONS
    if args.check:
        fractions = (1.0,)  # one scoring per recipe: the check is about the pipeline, not curves
        args.minutes, args.sample_size, args.data, args.repeats = 0.05, 200, "sample", 1
        args.throwaway_classifier = args.throwaway_classifier or not _pretrained_judges_exist()
    limit_cores(args.cores)

    import warnings

    from prodgen_lessons.data import load_fashion_mnist, load_sample

    if args.data == "sample":
        data = load_sample()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = load_fashion_mnist()
        if data.source.startswith("bundled sample"):
            p.error("full Fashion-MNIST not found (make data, or apt-get install dataset-fashion-mnist); "
                    "use --data sample for a smoke run")
    smoke = []
    if data.source.startswith("bundled sample"):
        smoke.append("bundled 1,200-image sample")
    if args.throwaway_classifier:
        smoke.append("throwaway classifiers")
        classifiers = throwaway_judges(load_sample())
        names = ("a throwaway classifier (2 epochs on the sample)",
                 "a throwaway all-convolutional classifier (2 epochs on the sample)")
    else:
        if not _pretrained_judges_exist():
            p.error("a pretrained judge is missing (prodgen_lessons/pretrained/classifier, classifier2): "
                    "train it with `python -m prodgen_lessons.pretrained --retrain classifier classifier2`, "
                    "or pass --throwaway-classifier for a smoke run")
        classifiers = load_judges()
        names = ("the pretrained course classifier (load_pretrained(\"classifier\"))",
                 "the independent second network (load_pretrained(\"classifier2\"))")
    out_dir = args.out_dir
    if out_dir is None:
        out_dir = HERE if not smoke else tempfile.mkdtemp(prefix="time_to_quality-")
    command = "python benchmarks/time_to_quality.py" + ("" if argv is None and len(sys.argv) == 1
                                                         else " " + " ".join(sys.argv[1:] if argv is None else argv))
    report = run_benchmark(data, classifiers, args.family, args.recipes, args.minutes, args.repeats,
                           args.sample_size, out_dir, smoke_reasons=smoke, classifier_names=names,
                           command=command, fractions=fractions, fresh=args.fresh, rerun=args.rerun)
    print(Path(out_dir, "RESULTS.md").read_text())
    problems = check(report, [f.name for f in selected_families(args.family)])
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


sys.path.insert(0, str(HERE))  # `import recipes` from benchmarks/, however this file is run

if __name__ == "__main__":
    sys.exit(main())
