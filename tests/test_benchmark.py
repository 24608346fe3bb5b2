"""The time-to-quality benchmark (benchmarks/time_to_quality.py) end to end, on the bundled sample.

One tiny run of the recipes of every family (a step or two of training each, one checkpoint, 20
images scored by two untrained classifiers: the numbers mean nothing, the pipeline is what is
tested), then checks on what it wrote. The real benchmark is `make benchmark` (see
benchmarks/README.md).
"""

import importlib.util
import json
import math
import shutil
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
QUIET = dict(log=lambda *a: None)
# Tracing its training step costs half a minute: it is the course's CycleGAN step, which the run of
# course_cyclegan tests; its networks are tested on their own below.
UNTRAINED = ("kerasio_cyclegan",)
TRAINED = [name for name in recipes.RECIPES if name not in UNTRAINED]


@pytest.fixture(scope="module")
def judges():
    """The two feature spaces, untrained: their features are enough to test the pipeline."""
    from prodgen_lessons.models.classifier import build_classifier

    return build_classifier(), build_classifier(architecture="allconv")


@pytest.fixture(scope="module")
def report(sample, judges, tmp_path_factory):
    out = tmp_path_factory.mktemp("ttq")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ttq, "write_plot", lambda path, report: None)  # the slow part: drawn once, below
        rep = ttq.run_benchmark(sample, judges, ["all"], TRAINED, minutes=0.02, repeats=1, sample_size=20,
                                out_dir=out, smoke_reasons=["test"], fractions=(1.0,), **QUIET)
    ttq.write_plot(out / "time_to_quality.png", rep)
    return rep, out


def test_every_family_races_its_course_recipe_against_a_published_one():
    assert list(ttq.FAMILIES) == ["cgan", "dcgan", "infogan", "vae", "cvae", "conditional", "cyclegan",
                                  "dcgan_ladder", "vae_ladder"]
    for family in ttq.FAMILIES.values():
        names = [recipes.get(name).name for name in family.recipes]  # all registered
        assert family.course in names and len(names) >= 2, family
    assert {n for f in ttq.FAMILIES.values() for n in f.recipes} == set(recipes.RECIPES)
    assert recipes.RECIPES["article_cgan"].fixes, "the article recipe must list its fixes"
    with pytest.raises(ValueError, match="valid recipes"):
        recipes.get("nope")
    with pytest.raises(ValueError, match="unknown family"):
        ttq.selected_families(["nope"])


def test_every_recipe_trains_without_nan(report):
    rep, _ = report
    assert list(rep["families"]) == list(ttq.FAMILIES)
    for name, section in rep["families"].items():
        assert list(section["recipes"]) == [r for r in ttq.FAMILIES[name].recipes if r in TRAINED]
        for recipe, entry in section["recipes"].items():
            (run,) = entry["runs"]
            assert run["steps"] >= 1, recipe
            assert not run["diverged"] and run["weights_finite"], run
            assert run["final_logs"] and all(math.isfinite(v) for v in run["final_logs"].values()), run
            assert run["checkpoints"] and all(p["fid"] is not None and p["fid2"] is not None
                                              for p in run["checkpoints"]), run
    assert ttq.check(rep) == []


def test_a_recipe_racing_in_two_families_trains_once(report):
    rep, _ = report
    in_cgan, in_dcgan = (rep["families"][f]["recipes"]["tf_dcgan"]["runs"] for f in ("cgan", "dcgan"))
    assert in_cgan == in_dcgan


def test_translations_are_scored_against_the_target_domain(report, sample):
    from prodgen_lessons.models.cyclegan import domain_images

    rep, _ = report
    section = rep["families"]["cyclegan"]
    sources = len(domain_images(sample, recipes.DOMAINS[0], "test"))
    assert section["sample_size"] == min(20, sources)  # N: the held-out sneakers there are
    for entry in section["recipes"].values():
        point = entry["summary"]["points"][-1]
        assert 0.0 <= point["conditional_accuracy"] <= 1.0  # share classified as boots
        assert 0.0 <= point["cycle_error"] <= 1.0
    assert rep["families"]["cgan"]["noise_floor"]["fid"] != section["noise_floor"]["fid"]


def test_results_files_have_the_right_columns(report):
    rep, out = report
    md = (out / "RESULTS.md").read_text()
    for name, family in ttq.FAMILIES.items():
        assert f"## {name}: {family.title}" in md
        assert "| " + " | ".join(ttq.columns(family)) + " |" in md
        for recipe in family.recipes:
            assert (f"| {recipe} |" in md) == (recipe in TRAINED)
        assert f"Target for {family.course} at the end of the budget" in md
    assert "| cycle error |" in md and "classified as boot" in md
    assert "| code purity |" in md and "code purity >= 0.75" in md
    assert "Smoke run" in md and "course_cgan 1 (0)" in md and "0.02 min of training" in md
    assert "Fixes needed" in md and "load average at start" in md
    data = json.loads((out / "results.json").read_text())
    assert data["layout"] == 2 and set(data) >= {"machine", "config", "families"}
    for name, section in data["families"].items():
        family = ttq.FAMILIES[name]
        assert set(section) >= {"targets", "noise_floor", "sample_size", "recipes"}
        assert section["noise_floor"]["fid"] is not None and section["noise_floor"]["fid2"] is not None
        for recipe, entry in section["recipes"].items():
            assert list(entry["summary"]["first_reached"]) == family.marks()
            for p in entry["summary"]["points"]:
                assert {"minutes_target", "train_seconds", "steps", "fid", "fid_ratio", "fid2",
                        "fid2_ratio", "conditional_accuracy", "precision", "recall"} <= set(p)
            # each run names its CPU and precision: a report can merge runs of several invocations
            run = entry["runs"][0]
            assert run["cpu"] == data["machine"]["cpu"] and f"{run['cpu']}, {run['precision']}" in md
    cgan = data["families"]["cgan"]["recipes"]
    assert cgan["kerasio_cgan"]["runs"][0]["precision"] == "float32"
    assert cgan["tf_dcgan"]["summary"]["points"][0]["conditional_accuracy"] is None  # unconditional
    assert cgan["tf_dcgan"]["summary"]["first_reached"]["accuracy"] == "n/a"
    for entry in data["families"]["infogan"]["recipes"].values():  # the categorical code against the categories
        assert 0.0 < entry["summary"]["points"][-1]["code_purity"] <= 1.0
    png = (out / "time_to_quality.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def _points_run(fids, accs, recalls=(0.5,) * 4):
    return {"recipe": "r", "seed": 0, "diverged": False, "checkpoints": [
        {"minutes_target": m, "train_seconds": m * 60, "steps": 1, "epochs": 0.1, "fid": f, "fid2": 2 * f,
         "precision": 0.5, "recall": r, "conditional_accuracy": a}
        for m, f, a, r in zip((2.5, 5, 10, 20), fids, accs, recalls)]}


def test_summary_finds_the_first_checkpoint_that_meets_the_marks():
    conditional = recipes.Recipe("r", "R", "test", None, 64, "unit", True)
    runs = [_points_run([9, 5, 3, 2], [0.5, 0.96, 0.97, 0.99]), _points_run([9, 3.5, 3, 2], [0.5, 0.9, 0.96, 0.99]),
            _points_run([9, 9, 9, 2], [0.5, 0.9, 0.96, 0.99])]
    floor = {"fid": 1.0, "fid2": 4.0}
    s = ttq.summarise(runs, floor, ttq.FAMILIES["cgan"], conditional)
    # medians: FID 9, 5, 3, 2 -> <= 4 first at 10 min; accuracy 0.5, 0.9, 0.96 -> first at 10 min
    assert [p["fid"] for p in s["points"]] == [9, 5, 3, 2]
    assert [p["fid2_ratio"] for p in s["points"]] == [4.5, 2.5, 1.5, 1.0]
    assert s["first_reached"] == {"fid": 10, "accuracy": 10, "all": 10}
    assert [p["fid_range"] for p in s["points"]] == [[9, 9], [3.5, 9], [3, 9], [2, 2]]
    assert ttq._spread(s["points"][1]) == " (3.50-9.00)"
    unconditional = recipes.Recipe("r", "R", "test", None, 64, "unit", False)
    never = ttq.summarise([_points_run([9] * 4, [0.5] * 4)], floor, ttq.FAMILIES["cgan"], unconditional)
    assert never["first_reached"] == {"fid": None, "accuracy": "n/a", "all": "n/a"}
    # the DCGAN race: FID <= 6 x floor and recall >= 0.6
    dcgan = ttq.summarise([_points_run([9, 5, 3, 2], [None] * 4, [0.3, 0.5, 0.7, 0.8])], floor,
                          ttq.FAMILIES["dcgan"], unconditional)
    assert dcgan["first_reached"] == {"fid": 5, "recall": 10, "all": 10}
    # the InfoGAN race: FID <= 8 x floor and the categorical code's purity >= 0.75
    infogan_runs = [_points_run([9, 5, 3, 2], [None] * 4) for _ in range(2)]
    for run, purities in zip(infogan_runs, ([0.5, 0.7, 0.8, 0.8], [0.5, 0.6, 0.76, 0.9])):
        for point, purity in zip(run["checkpoints"], purities):
            point["code_purity"] = purity
    infogan = ttq.summarise(infogan_runs, floor, ttq.FAMILIES["infogan"], unconditional)
    assert [p["code_purity"] for p in infogan["points"]] == pytest.approx([0.5, 0.65, 0.78, 0.85])
    assert infogan["first_reached"] == {"fid": 5, "purity": 10, "all": 10}


def test_the_verdict_says_by_how_much_a_mark_is_missed():
    last = {"minutes_target": 20, "fid_ratio": 5.0, "fid2_ratio": 3.0, "conditional_accuracy": 0.9, "recall": 0.5}
    verdict = ttq._verdict(ttq.FAMILIES["cgan"], last)
    assert "**not met**" in verdict and "FID 25 % over its mark" in verdict
    assert "cond. acc. 0.050 under its mark" in verdict and "the FID mark holds there" in verdict
    met = ttq._verdict(ttq.FAMILIES["dcgan"], {**last, "fid_ratio": 5.0, "recall": 0.7, "fid2_ratio": None})
    assert "**met**" in met and "recall 0.700" in met and "FID2 was not measured" in met
    codes = ttq._verdict(ttq.FAMILIES["infogan"], {**last, "code_purity": 0.6})
    assert "**not met**" in codes and "code purity 0.150 under its mark" in codes


def test_the_kerasio_cyclegan_networks_translate_28_pixel_images():
    trainer = recipes.get("kerasio_cyclegan").build()
    images = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    fake = np.asarray(trainer.generator_ab(images))
    assert fake.shape == (2, 28, 28, 1) and np.all(np.abs(fake) <= 1)
    assert trainer.discriminator_b(fake).shape == (2, 7, 7, 1)  # a 7x7 grid of patch scores
    blocks = [layer for layer in trainer.generator_ab.layers if isinstance(layer, recipes.layers.Add)]
    assert len(blocks) == 6
    assert trainer.lambda_cycle == 10.0 and trainer.lambda_identity == 5.0  # 10 x 0.5
    translated = trainer.translate(np.zeros((3, 28, 28), "uint8"))
    assert translated.shape == (3, 28, 28, 1) and 0 <= translated.min() <= translated.max() <= 1


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
    run = ttq.run_recipe(recipe, sample, evaluators=None, checkpoints_s=[60.0], sample_size=20, **QUIET)
    assert run["diverged"] and run["steps"] == 1 and run["checkpoints"] == []
    report = {"families": {"cgan": {"recipes": {"nan": {"runs": [dict(run, weights_finite=True)]}}}}}
    assert any("NaN" in p for p in ttq.check(report))


def _runs(report):
    return {(f, r): e["runs"] for f, section in report["families"].items() for r, e in section["recipes"].items()}


def test_finished_runs_are_kept_and_other_settings_refused(sample, judges, report, tmp_path, monkeypatch):
    _, out = report
    monkeypatch.setattr(ttq, "write_plot", lambda path, report: None)
    rep0 = json.loads((out / "results.json").read_text())
    shutil.copy(out / "results.json", tmp_path / "results.json")
    kwargs = dict(minutes=0.02, repeats=1, sample_size=20, out_dir=tmp_path, smoke_reasons=["test"],
                  fractions=(1.0,), **QUIET)
    kept = ttq.run_benchmark(sample, judges, ["cgan"], ["course_cgan"], **kwargs)
    assert _runs(kept) == _runs(rep0)  # nothing trained again, no family lost
    with pytest.raises(ValueError, match="other settings.*sample_size"):
        ttq.run_benchmark(sample, judges, ["cgan"], ["course_cgan"], **{**kwargs, "sample_size": 30})
    with pytest.raises(ValueError, match="not in the families"):
        ttq.run_benchmark(sample, judges, ["vae"], ["course_cgan"], **kwargs)
    # a second run of one recipe: its medians and range; the others keep their one run
    more = ttq.run_benchmark(sample, judges, ["cgan"], ["course_cgan"], **{**kwargs, "repeats": 2})
    assert [r["seed"] for r in more["families"]["cgan"]["recipes"]["course_cgan"]["runs"]] == [0, 1]
    assert more["families"]["cgan"]["recipes"]["course_cgan"]["summary"]["points"][-1]["repeats"] == 2
    assert more["families"]["cyclegan"] == rep0["families"]["cyclegan"]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "course_cgan 2 (0, 1)" in md and "kerasio_cgan 1 (0)" in md
    # a run that trained another recipe (other notes) is dropped and trained again
    stale = json.loads((tmp_path / "results.json").read_text())
    for family in stale["families"].values():  # course_cgan races in the conditional family too
        if "course_cgan" in family["recipes"]:
            family["recipes"]["course_cgan"]["runs"][0]["notes"] = "an older recipe"
    (tmp_path / "results.json").write_text(json.dumps(stale))
    lines = []
    again = ttq.run_benchmark(sample, judges, ["cgan"], ["course_cgan"], **{**kwargs, "log": lines.append})
    runs = again["families"]["cgan"]["recipes"]["course_cgan"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert all(r["notes"] == recipes.get("course_cgan").notes for r in runs)
    assert any("changed since" in line for line in lines) and sum("training for" in line for line in lines) == 1
    # --rerun trains a run scored without FID2 again and puts the new run wherever the old one was
    stale = json.loads((tmp_path / "results.json").read_text())
    for family in stale["families"].values():
        for run in family["recipes"].get("course_cgan", {}).get("runs", []):
            if run["seed"] == 0:
                for point in run["checkpoints"]:
                    point.pop("fid2", None)
    (tmp_path / "results.json").write_text(json.dumps(stale))
    lines = []
    redone = ttq.run_benchmark(sample, judges, ["cgan"], ["course_cgan"], **{**kwargs, "rerun": True,
                                                                           "repeats": 2, "log": lines.append})
    assert any("has no FID2" in line for line in lines) and sum("training for" in line for line in lines) == 1
    new_run = redone["families"]["cgan"]["recipes"]["course_cgan"]["runs"][0]
    assert new_run["seed"] == 0 and new_run != runs[0]
    assert [r["seed"] for r in redone["families"]["cgan"]["recipes"]["course_cgan"]["runs"]] == [0, 1]
    for family in redone["families"].values():
        for run in family["recipes"].get("course_cgan", {}).get("runs", []):
            assert run["seed"] != 0 or run == new_run


def test_ladders_copy_each_rungs_final_scores_for_the_chapters(report, tmp_path, monkeypatch):
    ladders = _load("ladders")
    rep, out = report
    monkeypatch.setattr(ladders, "OUT", tmp_path / "ladders.json")
    ladders.main(["--report", str(out / "results.json")])
    written = json.loads((tmp_path / "ladders.json").read_text())
    assert set(written["ladders"]) == {"dcgan_ladder", "vae_ladder"}
    rungs = written["ladders"]["dcgan_ladder"]["rungs"]
    assert [r["recipe"] for r in rungs] == list(ttq.FAMILIES["dcgan_ladder"].recipes)
    final = rep["families"]["dcgan_ladder"]["recipes"]["plain_dcgan"]["runs"][0]["checkpoints"][-1]
    assert rungs[4]["runs"][0]["fid"] == final["fid"] and rungs[4]["runs"][0]["steps"] == final["steps"]


def test_the_cgan_only_results_file_is_read_into_the_family_layout(tmp_path):
    """The committed report of the cGAN race (made before the families) keeps all its runs."""
    old = {"date": "2026-11-28 11:15", "command": "python benchmarks/time_to_quality.py", "machine": {},
           "load_average_end": [1, 1, 1], "total_wall_seconds": 60.0,
           "config": {"minutes": 20.0, "sample_size": 5000, "recipes": ["course_cgan"], "seeds": [0, 1],
                      "targets": {}},
           "noise_floor": {"fid": 1.0},
           "runs": [dict(_points_run([9, 5, 3, 2], [0.96] * 4), recipe="course_cgan", seed=seed) for seed in (0, 1)]}
    new = ttq.upgrade(old)
    assert set(new["families"]) == {"cgan"} and "recipes" not in new["config"]
    section = new["families"]["cgan"]
    assert [r["seed"] for r in section["recipes"]["course_cgan"]["runs"]] == [0, 1]
    summary = ttq.family_report(ttq.FAMILIES["cgan"], section)["recipes"]["course_cgan"]["summary"]
    assert summary["first_reached"] == {"fid": 10, "accuracy": 2.5, "all": 10}
    assert summary["points"][-1]["fid2_ratio"] is None  # no second network then: "-"
    assert ttq.upgrade(new) is new


def test_guided_ddpm_is_the_papers_process_written_in_noise_levels():
    """x_t = sqrt(abar) y + sqrt(1 - abar) eps is what its network sees (c_in (y + sigma eps)), the
    schedule runs from beta_1 to abar_T, and DDIM with the exact denoiser of a one-image data set
    lands on that image from any noise."""
    trainer = recipes.build_guided_ddpm(steps=5)
    alpha_bar = np.cumprod(1.0 - np.linspace(1e-4, 0.02, 1000))
    assert trainer.sigma_t[0] == pytest.approx(np.sqrt(1e-4 / (1 - 1e-4)), rel=1e-4)
    assert trainer.sigma_t[-1] == pytest.approx(np.sqrt((1 - alpha_bar[-1]) / alpha_bar[-1]), rel=1e-4)
    rng = np.random.default_rng(0)
    y, eps = rng.uniform(-1, 1, (2, 4, 4, 1)), rng.standard_normal((2, 4, 4, 1))
    for t in (0, 499, 999):
        sigma = float(trainer.sigma_t[t])
        c_skip, c_out, c_in, _ = (float(v) for v in trainer.preconditioning(np.float64(sigma)))
        x_t = np.sqrt(alpha_bar[t]) * y + np.sqrt(1 - alpha_bar[t]) * eps
        np.testing.assert_allclose(c_in * (y + sigma * eps), x_t, rtol=1e-4, atol=1e-5)
        # the network's target is eps: D = c_skip x + c_out eps gives y back
        np.testing.assert_allclose(c_skip * (y + sigma * eps) + c_out * eps, y, atol=1e-5)
    drawn = trainer.training_sigmas(512).numpy()  # t uniform over the schedule, not EDM's log-normal
    assert drawn.shape == (512, 1, 1, 1) and np.isin(drawn, trainer.sigma_t).all()
    assert np.median(drawn) == pytest.approx(np.median(trainer.sigma_t), rel=0.5)
    target = np.full((28, 28, 1), 0.25, "float32")
    trainer.denoise = lambda x, sigma, labels, guidance: np.broadcast_to(target, x.shape)
    assert trainer.passes() == 10  # 5 Euler steps, each with the unconditional pass of guidance
    np.testing.assert_allclose(trainer.sample(3, seed=1), (target + 1) / 2 * np.ones((3, 1, 1, 1)), atol=1e-5)
