"""`prodgen`: the course's command line.

    prodgen data info [--require-full]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def cmd_data_info(args) -> int:
    from prodgen_lessons import data

    with warnings.catch_warnings(record=True) as caught:
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
        for w in caught:
            if not str(w.message).startswith("Fashion-MNIST not found"):
                print(f"warning: {w.message}", file=sys.stderr)
        if args.require_full:
            return EXIT_ERROR
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodgen", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data_p = commands.add_parser("data", help="the product-image data set")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    info = data_cmds.add_parser("info", help="where the data comes from and what it holds")
    info.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    info.add_argument("--require-full", action="store_true",
                      help="exit 1 if only the bundled sample is available")
    info.add_argument("--quiet", action="store_true", help="one line only")
    info.set_defaults(func=cmd_data_info)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:  # DataError is a ValueError
        print(f"prodgen: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("prodgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
