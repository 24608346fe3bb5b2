"""`prodgen`: the course's command line.

    prodgen data info [--require-full]
    prodgen train MODEL [--epochs N --batch-size N --latent-dim N --data fashion-mnist|PATH --out DIR --resume]
    prodgen generate MODEL [--category "ankle boot"] [--count 64] [--seed 0] [--out grid.png] [--checkpoint DIR]
    prodgen evaluate MODEL [--checkpoint DIR] [--sample-size N]
    prodgen models

Exit codes: 0 success, 1 an error the message explains (bad data, missing checkpoint, ...),
2 a usage error (unknown model or category, bad option), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line: unknown model, category or option value."""


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


def _load_trainer(name, checkpoint):
    """A trainer from a `prodgen train` output folder, or the shipped pretrained model."""
    from prodgen_lessons import models, pretrained, training

    if checkpoint is None:
        return pretrained.load_pretrained(name)
    folder = os.path.abspath(checkpoint)
    if not os.path.exists(os.path.join(folder, training.CHECKPOINT_NAME)):
        raise FileNotFoundError(f"no {training.CHECKPOINT_NAME} in {folder}: pass the --out folder "
                                f"of `prodgen train {name}`, or leave out --checkpoint for the shipped model")
    import json

    settings = {}
    settings_file = os.path.join(folder, "settings.json")
    if os.path.exists(settings_file):
        with open(settings_file) as f:
            settings = json.load(f)
    trainer = models.build(name, latent_dim=settings.get("latent_dim"))
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
    import json

    from prodgen_lessons import pretrained

    name = _model_name(args.model)
    out = args.out or os.path.join("runs", name)
    data = _load_data(args.data)
    print(f"training {name} on {data.source} -> {out}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "settings.json"), "w") as f:
        json.dump({"model": name, "latent_dim": args.latent_dim, "batch_size": args.batch_size,
                   "seed": args.seed}, f)
    trainer, history, info = pretrained.train(name, epochs=args.epochs, batch_size=args.batch_size,
                                              latent_dim=args.latent_dim, data=data, out_dir=out,
                                              resume=args.resume, seed=args.seed, minutes=args.minutes)
    print(f"done: {info['epochs_done']} epochs in {info['seconds']:.0f} s; checkpoint, history and "
          f"samples in {out}")
    return EXIT_OK


def cmd_generate(args) -> int:
    import numpy as np
    from PIL import Image

    from prodgen_lessons import data, models, plotting

    name = _model_name(args.model)
    if args.count < 1:
        raise UsageError(f"--count {args.count}: use a positive number of images")
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
    trainer = _load_trainer(name, args.checkpoint)
    images = trainer.sample(args.count, labels=labels, seed=args.seed)
    grid = plotting.image_grid(images, ncols=int(np.ceil(np.sqrt(args.count))))
    Image.fromarray(grid).save(args.out)
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
    parser = argparse.ArgumentParser(prog="prodgen", description="Deep generative models for product images.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("models", help="the models and which ship pretrained").set_defaults(func=cmd_models)

    data_p = commands.add_parser("data", help="the product-image data set")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    info = data_cmds.add_parser("info", help="where the data comes from and what it holds")
    info.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    info.add_argument("--require-full", action="store_true", help="exit 1 if only the bundled sample is available")
    info.add_argument("--quiet", action="store_true", help="one line only")
    info.set_defaults(func=cmd_data_info)

    train = commands.add_parser("train", help="train a model (resumable)")
    train.add_argument("model")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--latent-dim", type=int)
    train.add_argument("--minutes", type=float, help="stop after this much wall-clock time")
    train.add_argument("--data", default="fashion-mnist", help="'fashion-mnist' or a folder with its IDX files")
    train.add_argument("--out", help="output folder (default runs/MODEL)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="generate a grid of product images")
    gen.add_argument("model")
    gen.add_argument("--category", help='e.g. "ankle boot", "运动鞋" or 7 (conditional models)')
    gen.add_argument("--count", type=int, default=64)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", default="grid.png")
    gen.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="FID, KID, IS, precision/recall, ... with the noise floor")
    ev.add_argument("model")
    ev.add_argument("--checkpoint", help="a `prodgen train` output folder (default: the shipped model)")
    ev.add_argument("--sample-size", type=int, default=5000)
    ev.add_argument("--data", default="fashion-mnist")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as err:
        print(f"prodgen: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError, FileExistsError) as err:  # DataError is a ValueError
        print(f"prodgen: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("prodgen: interrupted; rerun with --resume to continue from the last epoch", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
