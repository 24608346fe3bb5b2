"""Time-to-quality: which recipe reaches good product images first, on one CPU machine?

Trains each recipe of benchmarks/recipes.py (keras.io cGAN, TF DCGAN tutorial, the article's cGAN
with the fewest fixes, this course's cGAN) on the same Fashion-MNIST training split for the same
wall-clock budget, one run at a time, and scores it at fixed checkpoints (budget/8, /4, /2 and
the budget) with `prodgen_lessons.metrics.Evaluator`: FID in the course classifier's feature
space, conditional accuracy (requested category vs classified), precision/recall. The clock is
paused while scoring. The noise floor (real training vs real test images, same features, same N)
is computed once. Writes RESULTS.md, results.json and time_to_quality.png.

    python benchmarks/time_to_quality.py                   # the full run: 4 x 20 min (+ scoring)
    python benchmarks/time_to_quality.py --minutes 0.2 --sample-size 300 --data sample \
        --throwaway-classifier --out-dir /tmp/ttq          # a smoke run, seconds per recipe
    python benchmarks/time_to_quality.py --check           # the same, as a pass/fail check

Targets (the issue's): the course's recipe after 20 minutes reaches conditional accuracy >= 0.95
and FID <= 4 x the noise floor; the report says when each recipe first reaches each mark.
"""

import argparse
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
TARGET_ACCURACY = 0.95
TARGET_FID_RATIO = 4.0  # FID <= 4 x noise floor
SAMPLE_SEED = 1234  # the same noise at every checkpoint, so only the weights change
COLUMNS = ("recipe", "checkpoint (min)", "trained (min)", "steps", "epochs", "FID", "FID / floor", "cond. acc.",
           "precision", "recall")


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


def throwaway_classifier(data, epochs=2, seed=0):
    """A briefly trained classifier for smoke runs only: its numbers mean nothing."""
    from prodgen_lessons.models.classifier import train_classifier

    return train_classifier(data, epochs=epochs, seed=seed, validate=False, verbose=0)


def load_classifier():
    from prodgen_lessons.pretrained import load_pretrained

    return load_pretrained("classifier")


def _finite(value):
    try:
        return math.isfinite(float(np.asarray(value)))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check


def score(trainer, recipe, evaluator, data, sample_size, seed=SAMPLE_SEED):
    """The metrics of `sample_size` generated images (an equal number per category)."""
    labels = np.arange(sample_size) % 10
    images = trainer.sample(sample_size, labels=labels if recipe.conditional else None, seed=seed)
    if not np.all(np.isfinite(images)):
        raise FloatingPointError("the generator produced NaN/inf pixels")
    m = evaluator.evaluate(images, labels if recipe.conditional else None,
                           real_train=(data.x_train, data.y_train))
    _, probs = evaluator.embed(images, "generated")
    histogram = np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)
    keep = ("fid", "kid", "precision", "recall", "conditional_accuracy", "diversity", "is")
    out = {k: (float(m[k]) if _finite(m[k]) else None) for k in keep}
    out["classified_histogram"] = [round(float(h), 4) for h in histogram]
    return out


def run_recipe(recipe, data, evaluator, checkpoints_s, sample_size, seed=0, log=print):
    """Train `recipe` until the last checkpoint (training seconds, clock paused while scoring).

    Returns {"checkpoints": [...], "diverged": bool, "weights_finite": bool, "final_logs": {...},
    "wall_seconds": ...}. A NaN/inf loss stops the run; remaining checkpoints are left unscored.
    """
    import keras

    keras.utils.set_random_seed(seed)
    start_wall = time.perf_counter()
    trainer = recipe.build()
    dataset = recipe.dataset(data, seed=seed)
    n_train = len(data.x_train)
    result = {"recipe": recipe.name, "seed": seed, "checkpoints": [], "diverged": False,
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
                         "epochs": round(self.steps * recipe.batch_size / n_train, 3)}
                try:
                    point.update(score(self.model, recipe, evaluator, data, sample_size))
                except (ValueError, FloatingPointError) as err:  # NaN images/features
                    point["error"] = str(err)
                point["score_seconds"] = round(time.perf_counter() - pause, 2)
                result["checkpoints"].append(point)
                log(f"  {recipe.name} seed {seed} @ {trained / 60:.2f} min: step {self.steps}, "
                    f"FID {_fmt(point.get('fid'))}, cond. acc. {_fmt(point.get('conditional_accuracy'), 3)} "
                    f"(scored in {point['score_seconds']:.1f} s)")
                self.paused += time.perf_counter() - pause
                self.next += 1
            if self.next >= len(checkpoints_s):
                self.model.stop_training = True

    clock = Clock()
    trainer.fit(dataset, epochs=10**9, callbacks=[clock], shuffle=False, verbose=0)  # the dataset shuffles
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


def summarise(runs, floor_fid, recipes_used, conditional):
    """Median over repeats at each checkpoint, and when each mark is first reached."""
    summary = {}
    for name in recipes_used:
        mine = [r for r in runs if r["recipe"] == name]
        points = []
        n_points = max((len(r["checkpoints"]) for r in mine), default=0)
        for i in range(n_points):
            at = [r["checkpoints"][i] for r in mine if len(r["checkpoints"]) > i]
            row = {"minutes_target": at[0]["minutes_target"], "repeats": len(at)}
            for key in ("train_seconds", "steps", "epochs", "fid", "kid", "precision", "recall",
                        "conditional_accuracy"):
                row[key] = _median([p.get(key) for p in at])
            fids = [p["fid"] for p in at if p.get("fid") is not None]
            row["fid_range"] = [min(fids), max(fids)] if fids else None  # the spread behind a median
            row["fid_ratio"] = row["fid"] / floor_fid if row["fid"] is not None and floor_fid else None
            if not conditional[name]:
                row["conditional_accuracy"] = None
            points.append(row)
        first = {}
        marks = {"fid": lambda p: p["fid_ratio"] is not None and p["fid_ratio"] <= TARGET_FID_RATIO,
                 "accuracy": lambda p: (p["conditional_accuracy"] is not None
                                        and p["conditional_accuracy"] >= TARGET_ACCURACY)}
        marks["both"] = lambda p: marks["fid"](p) and marks["accuracy"](p)
        for mark, ok in marks.items():
            if mark != "fid" and not conditional[name]:
                first[mark] = "n/a"
                continue
            hit = next((p for p in points if ok(p)), None)
            first[mark] = hit["minutes_target"] if hit else None
        summary[name] = {"points": points, "first_reached": first,
                         "diverged_runs": sum(r["diverged"] for r in mine),
                         "first_step_seconds": _median([r.get("first_step_seconds") for r in mine]),
                         "repeats": len(mine)}
    return summary


def _minutes(x):
    return f"{x:g}" if x is not None else "-"


def _when(v):
    return "n/a" if v == "n/a" else ("not reached" if v is None else f"{v:g} min")


def _seeds(report):
    """{recipe: [seeds of its finished runs]} -- recipes can have different numbers of runs."""
    seeds = {}
    for r in report["runs"]:
        seeds.setdefault(r["recipe"], []).append(r["seed"])
    return seeds


def _spread(point):
    lo_hi = point.get("fid_range")
    return f" ({_fmt(lo_hi[0], 2)}-{_fmt(lo_hi[1], 2)})" if point.get("repeats", 1) > 1 and lo_hi else ""


def write_markdown(path, report):
    from recipes import RECIPES

    cfg, m, floor = report["config"], report["machine"], report["noise_floor"]
    lines = ["# Time-to-quality benchmark", ""]
    if cfg["smoke"]:
        lines += ["> **Smoke run** (" + ", ".join(cfg["smoke_reasons"]) + "): the numbers below test "
                  "the pipeline and say nothing about the recipes.", ""]
    starts = [f"{r['recipe']} (seed {r['seed']}) "
              + (f"{r['started']}, load {' / '.join(map(str, r['load_average_start']))}" if "started" in r
                 else "in an earlier invocation")
              + "".join(f", {r[k]}" for k in ("cpu", "precision") if k in r)
              for r in report["runs"]]
    lines += [
        f"Last invocation {report['date']}: {m['usable_cores']} of {m['cores']} cores ({m['cpu']}), "
        f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, {m['system']}; "
        f"TF threads intra/inter {m['intra_op_threads']}/{m['inter_op_threads']}; load average at "
        f"start {' / '.join(map(str, m['load_average']))} (1/5/15 min), at the end "
        f"{' / '.join(map(str, report['load_average_end']))}.",
        "",
        "Runs started (load average 1/5/15 min at the start, CPU, precision): " + "; ".join(starts) + ".",
        "",
        f"Budget: **{cfg['minutes']:g} min of training per recipe per run**; runs (seeds): "
        + ", ".join(f"{name} {len(seeds)} ({', '.join(map(str, seeds))})" for name, seeds in _seeds(report).items())
        + "; tables show medians over a recipe's runs, with the range of FID where there are several; "
        f"recipes run one at a time; checkpoints at "
        f"{', '.join(_minutes(s / 60) for s in cfg['checkpoint_seconds'])} min of training "
        "(clock paused while scoring). Wall time of the last invocation "
        f"{report['total_wall_seconds'] / 60:.1f} min.",
        f"Data: {cfg['data_source']} ({cfg['n_train']} training images). Scored with "
        f"{cfg['classifier']}; N = {cfg['sample_size']} generated images per checkpoint "
        "(an equal number per category for conditional recipes) against N real training images.",
        "",
        f"Noise floor (N real test images scored as if generated): FID {_fmt(floor.get('fid'), 3)}, "
        f"conditional accuracy {_fmt(floor.get('conditional_accuracy'), 3)} (the classifier's own "
        f"accuracy), precision {_fmt(floor.get('precision'), 3)}, recall {_fmt(floor.get('recall'), 3)}.",
        "",
        "## FID and conditional accuracy against training time", "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for name, s in report["summary"].items():
        for p in s["points"]:
            acc = "n/a" if not RECIPES[name].conditional else _fmt(p["conditional_accuracy"], 3)
            lines.append(
                f"| {name} | {_minutes(p['minutes_target'])} | {_fmt((p['train_seconds'] or 0) / 60)} | "
                f"{_fmt(p['steps'], 0)} | "
                f"{_fmt(p['epochs'])} | {_fmt(p['fid'], 3)}{_spread(p)} | {_fmt(p['fid_ratio'], 2)} | {acc} | "
                f"{_fmt(p['precision'], 3)} | {_fmt(p['recall'], 3)} |")
    lines += ["", "![FID and conditional accuracy against training time](time_to_quality.png)", "",
              f"## Targets: conditional accuracy >= {TARGET_ACCURACY}, FID <= {TARGET_FID_RATIO:g} x "
              f"noise floor (= {_fmt((floor.get('fid') or float('nan')) * TARGET_FID_RATIO, 3)})", "",
              "First checkpoint (median over repeats) at which each mark holds:", "",
              "| recipe | FID mark | accuracy mark | both | runs that diverged | first step (s, incl. tracing) |",
              "|---|---|---|---|---:|---:|"]
    for name, s in report["summary"].items():
        f = s["first_reached"]
        lines.append(f"| {name} | {_when(f['fid'])} | {_when(f['accuracy'])} | {_when(f['both'])} | "
                     f"{s['diverged_runs']} / {s['repeats']} | {_fmt(s['first_step_seconds'], 1)} |")
    course = report["summary"].get("course_cgan")
    if course and course["points"]:
        last = course["points"][-1]
        ok = (last["conditional_accuracy"] is not None and last["conditional_accuracy"] >= TARGET_ACCURACY
              and last["fid_ratio"] is not None and last["fid_ratio"] <= TARGET_FID_RATIO)
        misses = []
        if last["fid_ratio"] is not None and last["fid_ratio"] > TARGET_FID_RATIO:
            misses.append(f"FID {100 * (last['fid_ratio'] / TARGET_FID_RATIO - 1):.0f} % over its mark")
        if last["conditional_accuracy"] is not None and last["conditional_accuracy"] < TARGET_ACCURACY:
            misses.append(f"accuracy {TARGET_ACCURACY - last['conditional_accuracy']:.3f} under its mark")
        lines += ["", f"The issue's target for the course's recipe at the end of the budget "
                      f"({_minutes(last['minutes_target'])} min): **{'met' if ok else 'not met'}** "
                      f"(accuracy {_fmt(last['conditional_accuracy'], 3)}, FID / floor "
                      f"{_fmt(last['fid_ratio'], 2)}"
                      + (f"; {', '.join(misses)}; what was tried: [README.md](README.md)" if misses else "") + ")."]
    lines += ["", "## The recipes", ""]
    for name in report["summary"]:
        r = RECIPES[name]
        lines += [f"- **{name}**: {r.title} ({r.source}); batch {r.batch_size}, images in "
                  f"{'[0, 1]' if r.scale == 'unit' else '[-1, 1]'}. {r.notes.rstrip('.')}."]
        if r.fixes:
            lines += ["", "  Fixes needed to make the article's code train (nothing else changed):", ""]
            lines += [f"  {i}. {fix}" for i, fix in enumerate(r.fixes, 1)]
            lines += [""]
    hist = {n: s for n, s in report["summary"].items() if not RECIPES[n].conditional}
    if hist:
        lines += ["", "Unconditional recipes: share of each category as classified, at the last "
                      "checkpoint (first run), as a stand-in for conditional accuracy:", ""]
        for name in hist:
            run = next(r for r in report["runs"] if r["recipe"] == name)
            if run["checkpoints"] and "classified_histogram" in run["checkpoints"][-1]:
                h = run["checkpoints"][-1]["classified_histogram"]
                lines.append(f"- {name}: " + ", ".join(f"{x:.3f}" for x in h)
                             + f" (min {min(h):.3f}, max {max(h):.3f}; 0.1 each is balanced)")
    lines += ["", "Raw numbers per run and checkpoint: `results.json`. Reproduce: "
                  "`python benchmarks/time_to_quality.py` (all recipes); the last invocation was "
                  f"`{report['command']}`.", ""]
    Path(path).write_text("\n".join(lines))


def write_plot(path, report):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from recipes import RECIPES

    floor = report["noise_floor"].get("fid")
    fig, (ax_fid, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = dict(zip(RECIPES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for name, s in report["summary"].items():
        pts = [p for p in s["points"] if p["fid"] is not None]
        x = [p["train_seconds"] / 60 for p in pts]
        ax_fid.plot(x, [p["fid"] for p in pts], "o-", label=name, color=colours.get(name))
        if s["repeats"] > 1 and all(p.get("fid_range") for p in pts):  # the runs' spread
            ax_fid.fill_between(x, *zip(*[p["fid_range"] for p in pts]), alpha=0.2, color=colours.get(name))
        if RECIPES[name].conditional:
            acc = [(p["train_seconds"] / 60, p["conditional_accuracy"]) for p in pts
                   if p["conditional_accuracy"] is not None]
            if acc:
                ax_acc.plot(*zip(*acc), "o-", label=name, color=colours.get(name))
    if floor:
        ax_fid.axhline(floor, color="grey", ls=":", label="noise floor")
        ax_fid.axhline(TARGET_FID_RATIO * floor, color="grey", ls="--",
                       label=f"{TARGET_FID_RATIO:g} x noise floor")
    ax_fid.set(xlabel="training time (min)", ylabel="FID (classifier features)", yscale="log",
               title="FID (lower is better)")
    ax_acc.axhline(TARGET_ACCURACY, color="grey", ls="--", label=f"target {TARGET_ACCURACY}")
    ax_acc.set(xlabel="training time (min)", ylabel="conditional accuracy", ylim=(0, 1.02),
               title="conditional accuracy (conditional recipes)")
    for ax in (ax_fid, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    m = report["machine"]
    runs = max(len(seeds) for seeds in _seeds(report).values())
    fig.suptitle(f"{report['config']['minutes']:g} min per recipe, medians of up to {runs} run(s), "
                 f"{m['usable_cores']} cores, TF {m['tensorflow']}"
                 + (" - SMOKE RUN" if report["config"]["smoke"] else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


# ----------------------------------------------------------------------------- the run


def run_benchmark(data, classifier, recipe_names=None, minutes=DEFAULT_MINUTES, repeats=1,
                  sample_size=5000, out_dir=HERE, smoke_reasons=(), classifier_name="classifier",
                  command="", fractions=CHECKPOINT_FRACTIONS, resume=False, log=print):
    """Run every recipe `repeats` times and write RESULTS.md, results.json, time_to_quality.png.

    `classifier`: a keras classifier with a "features" layer (the pretrained one for real runs).
    Returns the report dict (what results.json holds). The files are rewritten after every run;
    with `resume=True` the finished runs of out_dir/results.json (same settings) are kept and only
    the missing (recipe, seed) runs are trained.
    """
    from prodgen_lessons.metrics import Evaluator

    import recipes as recipe_module

    names = list(recipe_names or recipe_module.RECIPES)
    for name in names:
        recipe_module.get(name)
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    checkpoints_s = checkpoint_seconds(minutes, fractions)
    n = int(sample_size)
    if n > len(data.x_test):
        log(f"sample size {n} > {len(data.x_test)} test images: using N = {len(data.x_test)}")
        n = len(data.x_test)
    if n < 20:
        raise ValueError(f"--sample-size must be at least 20 (2 per category), got {sample_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    machine = machine_info()
    log(f"machine: {machine}")
    evaluator = Evaluator(classifier, sample_size=n)
    floor = evaluator.noise_floor((data.x_train, data.y_train), (data.x_test, data.y_test), n)
    floor = {k: float(v) for k, v in floor.items() if np.ndim(v) == 0 and _finite(v)}
    log(f"noise floor (N={n}): FID {floor['fid']:.3f}, accuracy {floor.get('conditional_accuracy', float('nan')):.3f}")
    settings = {"minutes": minutes, "checkpoint_seconds": checkpoints_s, "sample_size": n,
                "data_source": data.source, "n_train": int(len(data.x_train)), "classifier": classifier_name}
    runs = _finished_runs(out_dir / "results.json", settings, log) if resume else []
    order = list(recipe_module.RECIPES)
    conditional = {name: r.conditional for name, r in recipe_module.RECIPES.items()}

    def write():
        used = sorted({r["recipe"] for r in runs}, key=order.index)  # those with a finished run
        report = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "command": command,
            "machine": machine,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "config": {**settings, "repeats": repeats, "seeds": list(range(repeats)), "recipes": used,
                       "smoke": bool(smoke_reasons), "smoke_reasons": list(smoke_reasons),
                       "targets": {"conditional_accuracy": TARGET_ACCURACY, "fid_over_floor": TARGET_FID_RATIO}},
            "noise_floor": floor,
            "runs": sorted(runs, key=lambda r: (order.index(r["recipe"]), r["seed"])),
            "summary": summarise(runs, floor.get("fid"), used, conditional),
            "total_wall_seconds": round(time.perf_counter() - started, 1),
        }
        report = _jsonable(report)
        (out_dir / "results.json").write_text(json.dumps(report, indent=1))
        write_markdown(out_dir / "RESULTS.md", report)
        write_plot(out_dir / "time_to_quality.png", report)
        return report

    report = None
    for repeat in range(repeats):
        for name in names:
            if any(r["recipe"] == name and r["seed"] == repeat for r in runs):
                log(f"{name}, repeat {repeat + 1}/{repeats}: kept from {out_dir / 'results.json'}")
                continue
            log(f"{name}, repeat {repeat + 1}/{repeats}: training for {minutes:g} min")
            runs.append(run_recipe(recipe_module.get(name), data, evaluator, checkpoints_s, n,
                                   seed=repeat, log=log))
            report = write()  # after every run: an interrupted benchmark keeps what it finished
    report = report or write()  # nothing new trained: the report of the kept runs
    log(f"wrote {out_dir / 'RESULTS.md'}, {out_dir / 'results.json'}, {out_dir / 'time_to_quality.png'}")
    return report


def _finished_runs(path, settings, log=print):
    """The runs of an earlier results.json made with the same settings (for --resume)."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    different = {k: (old["config"].get(k), v) for k, v in _jsonable(settings).items() if old["config"].get(k) != v}
    if different:
        raise ValueError(f"--resume: {path} was made with other settings {different} (old, new); "
                         "use the same options, or another --out-dir")
    log(f"resuming: {len(old['runs'])} finished run(s) in {path}")
    return old["runs"]


def check(report):
    """Problems that make a run unusable: no steps, NaN losses or weights, missing scores."""
    problems = []
    for run in report["runs"]:
        name = run["recipe"]
        if not run.get("steps"):
            problems.append(f"{name}: no training step ran")
        if run["diverged"] or not run["weights_finite"]:
            problems.append(f"{name}: NaN/inf loss or weights ({run['final_logs']})")
        if not run["checkpoints"] or any(p.get("fid") is None for p in run["checkpoints"]):
            problems.append(f"{name}: a checkpoint has no FID")
    return problems


def main(argv=None):
    import recipes as recipe_module

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                   help="training budget per recipe (checkpoints at 1/8, 1/4, 1/2, 1 of it); default 20")
    p.add_argument("--recipes", nargs="+", default=list(recipe_module.RECIPES),
                   choices=list(recipe_module.RECIPES), metavar="NAME",
                   help=f"which recipes (default all: {', '.join(recipe_module.RECIPES)})")
    p.add_argument("--repeats", type=int, default=1, help="runs per recipe (seeds 0..); tables show medians")
    p.add_argument("--sample-size", type=int, default=5000, help="images per checkpoint (N); default 5000")
    p.add_argument("--data", choices=["full", "sample"], default="full",
                   help="full Fashion-MNIST (default) or the bundled 1,200-image sample (smoke runs)")
    p.add_argument("--cores", type=int, default=2, help="CPU cores to use (default 2; 0 = all)")
    p.add_argument("--out-dir", default=None,
                   help="where to write RESULTS.md etc.; default benchmarks/ (a temp folder for smoke runs)")
    p.add_argument("--throwaway-classifier", action="store_true",
                   help="score with a briefly trained classifier instead of the pretrained one (smoke runs)")
    p.add_argument("--resume", action="store_true",
                   help="keep the finished runs of OUT_DIR/results.json (same settings); train the rest")
    p.add_argument("--check", action="store_true",
                   help="pass/fail pipeline check: every recipe for seconds on the sample; exit 1 on NaN")
    args = p.parse_args(argv)
    fractions = CHECKPOINT_FRACTIONS
    if args.check:
        fractions = (1.0,)  # one scoring per recipe: the check is about the pipeline, not curves
        args.minutes, args.sample_size, args.data, args.repeats = 0.05, 200, "sample", 1
        args.throwaway_classifier = args.throwaway_classifier or not _pretrained_classifier_exists()
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
        smoke.append("throwaway classifier")
        classifier, classifier_name = throwaway_classifier(load_sample()), "a throwaway classifier (2 epochs on the sample)"
    else:
        if not _pretrained_classifier_exists():
            p.error("the pretrained classifier is missing (prodgen_lessons/pretrained/classifier): "
                    "train it with `python -m prodgen_lessons.pretrained --retrain classifier`, "
                    "or pass --throwaway-classifier for a smoke run")
        classifier, classifier_name = load_classifier(), "the pretrained course classifier (load_pretrained(\"classifier\"))"
    out_dir = args.out_dir
    if out_dir is None:
        out_dir = HERE if not smoke else tempfile.mkdtemp(prefix="time_to_quality-")
    command = "python benchmarks/time_to_quality.py" + ("" if argv is None and len(sys.argv) == 1
                                                         else " " + " ".join(sys.argv[1:] if argv is None else argv))
    report = run_benchmark(data, classifier, args.recipes, args.minutes, args.repeats, args.sample_size,
                           out_dir, smoke_reasons=smoke, classifier_name=classifier_name, command=command,
                           fractions=fractions, resume=args.resume)
    print(Path(out_dir, "RESULTS.md").read_text())
    problems = check(report)
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


def _pretrained_classifier_exists():
    from prodgen_lessons.pretrained import PRETRAINED_DIR

    return (PRETRAINED_DIR / "classifier" / "card.json").is_file()


sys.path.insert(0, str(HERE))  # `import recipes` from benchmarks/, however this file is run

if __name__ == "__main__":
    sys.exit(main())
