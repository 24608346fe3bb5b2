"""Whole runs of the cGAN's recipe with one architectural choice changed: chapter 6.3's width and
self-attention, which a run continued from a trained model cannot change.

Every variant trains from its first step for the same number of epochs of all 60,000 photos
(equal steps, so a busy machine changes the times, not the results), with seeds 0 and 1, and is
scored on 5,000 samples (500 per category) against 5,000 training photos: FID in the shipped
classifier's features and in the second network's, conditional accuracy, and milliseconds per
training step. Finished runs are kept (`--work-dir`); the results go to
`prodgen_lessons/assets/cgan_choices.json`, which chapter 6 reads.

    .venv/bin/python benchmarks/choices.py [--epochs 10] [--seeds 0 1] [--work-dir runs/choices]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from prodgen_lessons import data, metrics, pretrained, training

VARIANTS = {"the recipe": {}, "half width": {"base_filters": 32}, "self-attention": {"attention": True}}
OUT = Path(pretrained.__file__).parent / "assets" / "cgan_choices.json"
N = 5000


def score(trainer, reference, floors):
    """FID and FID2 of N samples against the reference photos, the conditional accuracy, the floors."""
    labels = np.arange(N) % 10
    result = reference.score(trainer.sample(N, labels=labels, seed=1), labels)
    return {**result, **{f"{key}_floor": floors[key] for key in reference.judges}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--work-dir", default="runs/choices")
    args = p.parse_args(argv)
    catalogue = data.load_catalogue(None)
    products = data.load_fashion_mnist()
    classifier, second = pretrained.judges(catalogue)
    judges = {"fid": metrics.Evaluator(classifier, sample_size=N), "fid2": metrics.Evaluator(second, sample_size=N)}
    reference = metrics.Reference(
        judges, products.x_train[np.random.default_rng(0).choice(len(products.x_train), N, replace=False)])
    floors = reference.score(products.x_test[:N])   # real test photos against the same reference
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    recipe = pretrained.RECIPES["cgan"]
    for name, change in VARIANTS.items():
        for seed in args.seeds:
            key = f"{name}, seed {seed}"
            if key in results and results[key]["epochs"] == args.epochs:
                continue
            start = time.time()
            trainer, history, info = training.train(
                "cgan", catalogue, epochs=args.epochs, batch_size=recipe["batch_size"], seed=seed,
                options={**recipe["options"], **change}, out_dir=Path(args.work_dir) / f"{name}_{seed}".replace(" ", "_"),
                resume=True, samples=False, verbose=0)
            steps = int(trainer.g_optimizer.iterations)
            # a resumed run trained only its last epochs in this call: time those steps alone
            steps_now = steps * len(next(iter(history.values()), [])) // max(info["epochs_done"], 1)
            results[key] = dict(variant=name, seed=seed, epochs=args.epochs, steps=steps,
                                ms_per_step=1000 * info["seconds"] / steps_now if steps_now else None,
                                parameters=trainer.generator.count_params() + trainer.discriminator.count_params(),
                                **score(trainer, reference, floors))
            print(key, {k: round(v, 3) if isinstance(v, float) else v for k, v in results[key].items()},
                  f"({time.time() - start:.0f} s)", flush=True)
            training.write_json(OUT, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
