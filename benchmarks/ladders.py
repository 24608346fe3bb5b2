"""The ladders of chapters 3 and 4: from the textbook model to the course's, one choice at a time.

Each rung is a recipe of the race's `dcgan_ladder` or `vae_ladder` family, trained from its first
step for the same minutes with seeds 0 and 1 and scored on 5,000 samples in both feature spaces.
This script copies what the chapters read from the race's report into
`prodgen_lessons/assets/ladders.json`:

    .venv/bin/python benchmarks/time_to_quality.py --family dcgan_ladder vae_ladder --minutes 5 \\
        --repeats 2 --out-dir benchmarks/ladders
    .venv/bin/python benchmarks/ladders.py [--report benchmarks/ladders/results.json]
"""

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "prodgen_lessons" / "assets" / "ladders.json"
SCORES = ("fid", "fid2", "precision", "recall")


def ladder(section):
    """The rungs of one family's report, in race order: recipe, notes and each seed's final scores."""
    rungs = []
    for name, entry in section["recipes"].items():
        runs = [{"seed": run["seed"], "steps": run["checkpoints"][-1]["steps"], "cpu": run.get("cpu"),
                 **{key: run["checkpoints"][-1].get(key) for key in SCORES}} for run in entry["runs"]]
        rungs.append({"recipe": name, "notes": entry["runs"][0]["notes"], "runs": runs})
    return rungs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", default=str(HERE / "ladders" / "results.json"))
    args = p.parse_args(argv)
    report = json.loads(Path(args.report).read_text())
    out = {"minutes": report["config"]["minutes"], "sample_size": report["config"]["sample_size"],
           "ladders": {name: {"title": section["title"], "noise_floor": {k: section["noise_floor"][k] for k in SCORES},
                              "rungs": ladder(section)}
                       for name, section in report["families"].items() if name.endswith("_ladder")}}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}: " + ", ".join(f"{name} ({len(v['rungs'])} rungs)" for name, v in out["ladders"].items()))


if __name__ == "__main__":
    main()
