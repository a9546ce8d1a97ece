"""Evaluation at COCO scale in bounded memory: images/s and peak RSS of `seco evaluate` with CRF against N.

COCO val has 40,504 images and 81 classes. This generates a stand-in of N
small images in the VOC layout (random rectangles of 81 classes on a noisy
background, masks as palette PNGs; one split list per N, each a prefix of the
same images), a random-init tiny model with 81 classes as a checkpoint, and
runs `python -m seco.cli evaluate --outputs seg eval.crf=true` on each split
in a fresh process. While it runs, every process of its tree (evaluator plus
CRF workers) is read from /proc: its peak resident memory (the kernel's
high-water mark, VmHWM) and the bytes it wrote to storage (write_bytes);
afterwards the files the run left are listed. The weights do not change
the cost, so random ones are fine.

    python benchmarks/eval_scale.py                                  # N = 1000, 4000, 20000 at 32 px
    python benchmarks/eval_scale.py --sizes 200 400 --no-crf         # without the crf extra

Linux only (/proc). Prints a table and writes benchmarks/results/eval_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from seco.config import load_config, to_dict
from seco.data import voc_palette
from seco.engine.checkpoint import Checkpoint
from seco.evaluation.crf import crf_available
from seco.model import build_model

NUM_CLASSES = 81
REPORT_FILES = {"metrics.json", "report.md"}


@dataclass
class Row:
    """One evaluation run at N images."""

    images: int
    crf_workers: int | None
    eval_seconds: float
    images_per_s: float
    peak_rss_mb: float              # sum over the process tree of each process's peak RSS
    evaluator_peak_rss_mb: float    # the evaluating process alone
    written_kb: float
    files: list[str]
    miou: float


def make_stand_in(root: Path, count: int, size: int, seed: int = 0) -> None:
    """``count`` images of ``size`` px with random 81-class masks in the VOC layout (skips existing files)."""
    palette = voc_palette(256)
    images, masks = root / "JPEGImages", root / "SegmentationClass"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    colours = np.random.default_rng(seed).integers(0, 256, (NUM_CLASSES, 3))
    for index in range(count):
        name = f"{index:06d}"
        if (images / f"{name}.jpg").is_file() and (masks / f"{name}.png").is_file():
            continue
        rng = np.random.default_rng([seed, index])
        classes = rng.integers(1, NUM_CLASSES, rng.integers(1, 4))
        boxes = rng.integers(0, size, (len(classes), 4))
        mask = np.zeros((size, size), np.uint8)
        for cls, (a, b, c, d) in zip(classes, boxes):
            y0, y1, x0, x1 = min(a, b), max(a, b) + 1, min(c, d), max(c, d) + 1
            mask[y0:y1, x0:x1] = cls
        pixels = colours[mask] + rng.normal(0, 20, (size, size, 3))
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(images / f"{name}.jpg", quality=90)
        png = Image.fromarray(mask, mode="P")
        png.putpalette(palette.tobytes())
        png.save(masks / f"{name}.png")


def write_split(root: Path, count: int) -> str:
    """``ImageSets/Segmentation/n<count>.txt`` listing the first ``count`` images; returns the split name."""
    lists = root / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True, exist_ok=True)
    split = f"n{count}"
    (lists / f"{split}.txt").write_text("".join(f"{i:06d}\n" for i in range(count)))
    return split


def make_checkpoint(path: Path, root: Path, size: int) -> Path:
    """A random-init tiny model (synthetic config's sizes) with 81 classes, saved as a seco checkpoint."""
    names = ["background", *(f"class{i:02d}" for i in range(1, NUM_CLASSES))]
    cfg = load_config("synthetic", [
        "data.format=voc", f"data.root={root}", f"data.class_names=[{', '.join(names)}]",
        f"model.kwargs={{embed_dim: 128, depth: 4, num_heads: 4, patch_size: 8, img_size: {size}}}",
        "train.device=cpu",
    ])
    net = build_model(cfg.model, NUM_CLASSES)
    return Checkpoint(kind="train", model=net.state_dict(), config=to_dict(cfg), class_names=names).save(path)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/*/task/*/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return found


def _proc_value(pid: int, file: str, field: str) -> int | None:
    """The number of a ``<field>: <n> [kB]`` line of ``/proc/<pid>/<file>``; None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _sample(child: subprocess.Popen, interval: float) -> tuple[int, int, int]:
    """Until ``child`` exits, read every process of its tree each ``interval`` s.

    Returns, in KB, the child's peak RSS (its VmHWM) and the sum of the peak
    RSS of every process of the tree (an upper bound of the tree's peak), and
    the bytes the tree wrote to storage. Per process the last value seen
    counts; a process is only read once it runs its own program, because
    between fork and exec a child is a copy of the evaluator whose pages are
    shared, not new memory.
    """
    own = _cmdline(child.pid)
    peaks: dict[int, int] = {}
    written: dict[int, int] = {}
    while child.poll() is None:
        for pid in _tree(child.pid):
            if pid != child.pid and _cmdline(pid) in (own, None):
                continue
            peak, wrote = _proc_value(pid, "status", "VmHWM"), _proc_value(pid, "io", "write_bytes")
            if peak is not None:
                peaks[pid] = peak
            if wrote is not None:
                written[pid] = wrote
        time.sleep(interval)
    return peaks.get(child.pid, 0), sum(peaks.values()), sum(written.values())


def run_evaluation(checkpoint: Path, split: str, out: Path, crf_workers: int | None, batch_size: int,
                   interval: float = 0.05) -> Row:
    """``seco evaluate`` of ``split`` in a child process, sampled every ``interval`` s."""
    command = [sys.executable, "-m", "seco.cli", "evaluate", "--checkpoint", str(checkpoint), "--split", split,
               "--outputs", "seg", "--out", str(out), f"eval.batch_size={batch_size}", "eval.num_overlays=0",
               "eval.num_embeddings=0", "eval.crf=" + ("true" if crf_workers is not None else "false"),
               f"eval.crf_workers={crf_workers or 0}"]
    shutil.rmtree(out, ignore_errors=True)  # only what this run leaves is listed
    out.mkdir(parents=True)
    log = out.parent / f"{out.name}.log"
    with log.open("wb") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        peak_main, peak_tree, written = _sample(child, interval)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed, see {log}:\n{log.read_text()[-2000:]}")
    doc = json.loads((out / "metrics.json").read_text())
    seconds = doc["meta"]["eval_seconds"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return Row(images=doc["meta"]["images"], crf_workers=crf_workers, eval_seconds=seconds,
               images_per_s=doc["meta"]["images"] / seconds, peak_rss_mb=peak_tree / 1024,
               evaluator_peak_rss_mb=peak_main / 1024, written_kb=written / 1024, files=files,
               miou=doc["results"]["seg" + ("_crf" if crf_workers is not None else "")]["miou"])


def float_files(files: list[str]) -> list[str]:
    """Files an evaluation left besides its report (metrics.json, report.md, figures/*.png)."""
    return [f for f in files if f not in REPORT_FILES and not (f.startswith("figures/") and f.endswith(".png"))]


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 20000])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--crf-workers", type=int, default=2)
    parser.add_argument("--no-crf", action="store_true", help="measure without the dense CRF")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--root", type=Path, default=Path("benchmarks/results/eval_scale_data"),
                        help="where the stand-in set is generated (reused when already there)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/eval_scale.json"))
    args = parser.parse_args(argv)
    use_crf = not args.no_crf
    if use_crf and not crf_available():
        parser.error("the dense CRF needs the crf extra (pip install 'seco-wsss[crf]'); or pass --no-crf")
    start = time.perf_counter()
    make_stand_in(args.root, max(args.sizes), args.image_size)
    generated = time.perf_counter() - start
    checkpoint = make_checkpoint(args.root / "random81.pt", args.root, args.image_size)
    rows = []
    for count in sorted(args.sizes):
        split = write_split(args.root, count)
        row = run_evaluation(checkpoint, split, args.root / "eval" / split, args.crf_workers if use_crf else None,
                             args.batch_size)
        rows.append(row)
        print(f"N={row.images}: {row.images_per_s:.1f} img/s, peak RSS {row.peak_rss_mb:.0f} MB", flush=True)
    float_maps_gb = max(args.sizes) * NUM_CLASSES * args.image_size ** 2 * 4 / 1e9
    crf_label = f"CRF, {args.crf_workers} workers" if use_crf else "no CRF"
    print(f"\nseco evaluate --outputs seg ({crf_label}), {NUM_CLASSES} classes, {args.image_size} px images, "
          f"batch {args.batch_size}; stand-in generated in {generated:.0f} s")
    print(f"{'images':>8} {'img/s':>7} {'eval s':>7} {'peak RSS MB (tree)':>19} {'evaluator MB':>13} "
          f"{'written KB':>11}  other files")
    for row in rows:
        print(f"{row.images:>8} {row.images_per_s:>7.1f} {row.eval_seconds:>7.1f} {row.peak_rss_mb:>19.0f} "
              f"{row.evaluator_peak_rss_mb:>13.0f} {row.written_kb:>11.0f}  {float_files(row.files) or 'none'}")
    print(f"(float32 probability maps of {max(args.sizes)} images would take {float_maps_gb:.1f} GB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"classes": NUM_CLASSES, "image_size": args.image_size, "crf_workers": args.crf_workers if use_crf else None,
            "batch_size": args.batch_size, "cpus": os.cpu_count(), "generation_seconds": round(generated, 1),
            "float_maps_gb_at_max_n": round(float_maps_gb, 2)}
    args.out.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
