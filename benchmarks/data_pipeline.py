"""The folder pipeline at a shop's scale: how fast it streams photos, and whether memory grows with
the catalogue.

1. Writes a catalogue of JPEG product photos (256 x 256 RGB, quality 90; the colour catalogue's
   products upscaled: `data.colour_catalogue`), one sub-folder per category.
2. Throughput: `Catalogue.dataset` at 64 x 64 (decode, resize, scale, batch 64, shuffled),
   images per second over two passes after a warm-up batch, nothing else consuming them.
3. Memory: `prodgen train cgan --data FOLDER --image-size 64 --minutes M` in a process of its own
   on the first 10,000 photos and on all 50,000; the peak resident memory of each (ru_maxrss).

Writes pipeline_results.json and PIPELINE.md next to this file.

    python benchmarks/data_pipeline.py                        # 50,000 photos (about 1.5 GB on disk)
    python benchmarks/data_pipeline.py --sizes 1000 2000 --minutes 0.2 --out-dir /tmp/pipe  # a smoke run
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_photos(folder, count, size=256, seed=0):
    """`count` JPEGs, spread evenly over the categories, `size` pixels square. Returns seconds."""
    from PIL import Image

    from prodgen_lessons import data

    start = time.perf_counter()
    catalogue = data.colour_catalogue(seed=seed)
    per_category = count // catalogue.num_classes
    for k, name in enumerate(catalogue.class_names):
        target = folder / name.replace("/", "-")
        target.mkdir(parents=True, exist_ok=True)
        chosen = np.flatnonzero(catalogue.y_train == k)
        for n in range(per_category):
            image = Image.fromarray(catalogue.x_train[chosen[n % len(chosen)]]).resize((size, size), Image.BILINEAR)
            image.save(target / f"{n:05d}.jpg", quality=90)
    return time.perf_counter() - start


def subset(folder, target, per_category):
    """A folder with the first `per_category` photos of each category of `folder` (hard links)."""
    for category in sorted(p for p in folder.iterdir() if p.is_dir()):
        (target / category.name).mkdir(parents=True, exist_ok=True)
        for photo in sorted(category.iterdir())[:per_category]:
            os.link(photo, target / category.name / photo.name)


def throughput(folder, image_size=64, batch_size=64, passes=2):
    """Images per second that `Catalogue.dataset` delivers."""
    from prodgen_lessons import data

    catalogue = data.load_catalogue(folder, image_size=image_size)
    dataset = catalogue.dataset("train", batch_size=batch_size, seed=0)
    next(iter(dataset))  # warm-up: the first batch pays for building the pipeline
    start, images = time.perf_counter(), 0
    for _ in range(passes):
        for batch, _ in dataset:
            images += int(batch.shape[0])
    return images / (time.perf_counter() - start), images


def peak_memory_of_training(folder, out, minutes, image_size=64):
    """(peak resident MB, seconds, exit code) of `prodgen train cgan` on `folder`."""
    command = [sys.executable, "-m", "prodgen_lessons.cli", "train", "cgan", "--data", str(folder),
               "--image-size", str(image_size), "--minutes", str(minutes), "--out", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    _, status, usage = os.wait4(process.pid, 0)
    error = process.stderr.read().decode()[-2000:]
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise RuntimeError(f"prodgen train failed ({code}): {error}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, code


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs=2, default=[10_000, 50_000], metavar=("SMALL", "LARGE"))
    p.add_argument("--minutes", type=float, default=1.0, help="training budget of each memory run")
    p.add_argument("--out-dir", default=None, help="where results go (default: benchmarks/)")
    p.add_argument("--work-dir", default=None, help="where the photos go (default: a temp folder, removed)")
    args = p.parse_args(argv)
    small, large = args.sizes
    out_dir = Path(args.out_dir) if args.out_dir else HERE
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="prodgen-pipeline-"))
    try:
        photos = work / "large"
        write_seconds = write_photos(photos, large)
        subset(photos, work / "small", small // 10)
        print(f"wrote {large:,} JPEGs in {write_seconds:.0f} s")
        rate, counted = throughput(work / "small")
        print(f"throughput: {rate:,.0f} images/s at 64 x 64 ({counted:,} images)")
        memory = {}
        for name, count in (("small", small), ("large", large)):
            mb, seconds, _ = peak_memory_of_training(work / name, work / f"run-{name}", args.minutes)
            memory[count] = dict(peak_mb=round(mb, 1), seconds=round(seconds, 1))
            print(f"prodgen train on {count:,} photos: peak {mb:,.0f} MB in {seconds:.0f} s")
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    (a, b) = (memory[small]["peak_mb"], memory[large]["peak_mb"])
    result = dict(date=datetime.date.today().isoformat(), cores=os.cpu_count(), photos=large,
                  photo_size=256, image_size=64, batch_size=64, write_seconds=round(write_seconds, 1),
                  throughput_images_per_s=round(rate, 1), memory=memory, minutes=args.minutes,
                  memory_ratio=round(b / a, 3), load_average_end=[round(x, 2) for x in os.getloadavg()])
    (out_dir / "pipeline_results.json").write_text(json.dumps(result, indent=1))
    (out_dir / "PIPELINE.md").write_text(f"""# The folder pipeline at a shop's scale

Measured by `benchmarks/data_pipeline.py` on {result['date']}, {result['cores']} cores (load average
at the end {result['load_average_end']}). Photos: 256 x 256 RGB JPEGs
(quality 90), the colour catalogue's products upscaled, one folder per category.

| measure | value |
|---|---|
| decode-resize-batch throughput at 64 x 64, batch 64 | {rate:,.0f} images/s ({counted:,} images) |
| peak memory of `prodgen train cgan --image-size 64 --minutes {args.minutes:g}`, {small:,} photos | {a:,.0f} MB |
| the same, {large:,} photos | {b:,.0f} MB |
| ratio (target: within 10 %) | {b / a:.3f} |

The pipeline holds the list of file names, not pixels: memory does not grow with the catalogue.
""")
    print(f"memory ratio {b / a:.3f} -> {out_dir / 'PIPELINE.md'}")
    return 0 if b / a <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
