"""The time-to-quality benchmark (benchmarks/time_to_quality.py) end to end, on the bundled sample.

One tiny run of every recipe (a few seconds of training each, one checkpoint, 20 images scored
by an untrained classifier: the numbers mean nothing, the pipeline is what is tested), then checks
on what it wrote. The real benchmark is `make benchmark` (see benchmarks/README.md).
"""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ttq = _load("time_to_quality")
recipes = sys.modules.get("recipes") or _load("recipes")


@pytest.fixture(scope="module")
def report(sample, tmp_path_factory):
    from prodgen_lessons.models.classifier import build_classifier

    out = tmp_path_factory.mktemp("ttq")
    classifier = build_classifier()  # untrained: features are enough to test the pipeline
    rep = ttq.run_benchmark(sample, classifier, minutes=0.02, repeats=1, sample_size=20, out_dir=out,
                            smoke_reasons=["test"], fractions=(1.0,), log=lambda *a: None)
    return rep, out


def test_every_recipe_is_registered():
    assert list(recipes.RECIPES) == ["kerasio_cgan", "tf_dcgan", "article_cgan", "course_cgan"]
    assert recipes.RECIPES["article_cgan"].fixes, "the article recipe must list its fixes"
    with pytest.raises(ValueError, match="valid recipes"):
        recipes.get("nope")


def test_every_recipe_trains_without_nan(report):
    rep, _ = report
    assert [r["recipe"] for r in rep["runs"]] == list(recipes.RECIPES)
    for run in rep["runs"]:
        assert run["steps"] >= 1, run["recipe"]
        assert not run["diverged"] and run["weights_finite"], run
        assert run["final_logs"] and all(math.isfinite(v) for v in run["final_logs"].values()), run
        assert run["checkpoints"] and all(p["fid"] is not None for p in run["checkpoints"]), run
    assert ttq.check(rep) == []


def test_results_files_have_the_right_columns(report):
    rep, out = report
    md = (out / "RESULTS.md").read_text()
    assert "| " + " | ".join(ttq.COLUMNS) + " |" in md
    for name in recipes.RECIPES:
        assert f"| {name} |" in md
    assert "Smoke run" in md and "course_cgan 1 (0)" in md and "0.02 min of training" in md
    assert "Fixes needed" in md and "load average at start" in md
    # an untrained classifier and a second of training: the target is missed, and by how much is said
    assert "**not met**" in md and "% over its mark" in md
    data = json.loads((out / "results.json").read_text())
    assert set(data) >= {"machine", "config", "noise_floor", "runs", "summary"}
    # each run names its CPU and precision: a report can merge runs of several invocations
    for run in data["runs"]:
        assert run["cpu"] == data["machine"]["cpu"] and f"{run['cpu']}, {run['precision']}" in md
    assert {r["recipe"]: r["precision"] for r in data["runs"]}["kerasio_cgan"] == "float32"
    assert data["noise_floor"]["fid"] is not None
    for name, s in data["summary"].items():
        assert set(s["first_reached"]) == {"fid", "accuracy", "both"}
        for p in s["points"]:
            assert {"minutes_target", "train_seconds", "steps", "fid", "fid_ratio",
                    "conditional_accuracy", "precision", "recall"} <= set(p)
    assert data["summary"]["tf_dcgan"]["points"][0]["conditional_accuracy"] is None  # unconditional
    png = (out / "time_to_quality.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_finds_the_first_checkpoint_that_meets_the_marks():
    def run(fids, accs):
        return {"recipe": "r", "diverged": False, "checkpoints": [
            {"minutes_target": m, "train_seconds": m * 60, "steps": 1, "epochs": 0.1, "fid": f,
             "precision": 0.5, "recall": 0.5, "conditional_accuracy": a}
            for m, f, a in zip((2.5, 5, 10, 20), fids, accs)]}

    runs = [run([9, 5, 3, 2], [0.5, 0.96, 0.97, 0.99]), run([9, 3.5, 3, 2], [0.5, 0.9, 0.96, 0.99]),
            run([9, 9, 9, 2], [0.5, 0.9, 0.96, 0.99])]
    s = ttq.summarise(runs, floor_fid=1.0, recipes_used=["r"], conditional={"r": True})["r"]
    # medians: FID 9, 5, 3, 2 -> <= 4 first at 10 min; accuracy 0.5, 0.9, 0.96 -> first at 10 min
    assert [p["fid"] for p in s["points"]] == [9, 5, 3, 2]
    assert s["first_reached"] == {"fid": 10, "accuracy": 10, "both": 10}
    assert [p["fid_range"] for p in s["points"]] == [[9, 9], [3.5, 9], [3, 9], [2, 2]]
    assert ttq._spread(s["points"][1]) == " (3.50-9.00)"
    never = ttq.summarise([run([9] * 4, [0.5] * 4)], 1.0, ["r"], {"r": False})["r"]
    assert never["first_reached"] == {"fid": None, "accuracy": "n/a", "both": "n/a"}


def test_checkpoints_scale_with_the_budget():
    assert ttq.checkpoint_seconds(20) == [150, 300, 600, 1200]
    assert ttq.checkpoint_seconds(40) == [300, 600, 1200, 2400]
    with pytest.raises(ValueError, match="minutes"):
        ttq.checkpoint_seconds(0)


def test_a_diverging_recipe_is_caught(sample):
    """A recipe whose loss turns NaN is stopped and reported, not scored as if fine."""
    import keras

    class NaNTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.w = self.add_weight(shape=(), initializer="zeros")

        def train_step(self, data):
            return {"g_loss": self.w / self.w}  # 0 / 0

        def sample(self, n, labels=None, seed=0):
            return np.full((n, 28, 28, 1), 0.5, "float32")

    def build():
        trainer = NaNTrainer()
        trainer.compile()
        return trainer

    recipe = recipes.Recipe("nan", "NaN", "test", build, 64, "unit", True)
    run = ttq.run_recipe(recipe, sample, evaluator=None, checkpoints_s=[60.0], sample_size=20,
                         log=lambda *a: None)
    assert run["diverged"] and run["steps"] == 1 and run["checkpoints"] == []
    problems = ttq.check({"runs": [dict(run, weights_finite=True)]})
    assert any("NaN" in p for p in problems)


def test_resume_keeps_finished_runs_and_refuses_other_settings(sample, report, tmp_path):
    import shutil

    from prodgen_lessons.models.classifier import build_classifier

    _, out = report
    rep0 = json.loads((out / "results.json").read_text())
    shutil.copy(out / "results.json", tmp_path / "results.json")
    kwargs = dict(minutes=0.02, repeats=1, sample_size=20, out_dir=tmp_path, smoke_reasons=["test"],
                  fractions=(1.0,), log=lambda *a: None, resume=True)
    kept = ttq.run_benchmark(sample, build_classifier(), ["course_cgan"], **kwargs)
    assert kept["runs"] == rep0["runs"]  # nothing trained again, nothing lost
    assert kept["config"]["recipes"] == list(recipes.RECIPES)
    with pytest.raises(ValueError, match="other settings.*sample_size"):
        ttq.run_benchmark(sample, build_classifier(), ["course_cgan"], **{**kwargs, "sample_size": 30})
    # a second run of one recipe: its medians and range; the others keep their one run
    more = ttq.run_benchmark(sample, build_classifier(), ["course_cgan"], **{**kwargs, "repeats": 2})
    assert [(r["recipe"], r["seed"]) for r in more["runs"]][-2:] == [("course_cgan", 0), ("course_cgan", 1)]
    assert more["summary"]["course_cgan"]["points"][-1]["repeats"] == 2
    md = (tmp_path / "RESULTS.md").read_text()
    assert "course_cgan 2 (0, 1)" in md and "kerasio_cgan 1 (0)" in md
