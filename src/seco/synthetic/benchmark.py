"""The synthetic co-occurrence benchmark on disk, in the PASCAL VOC layout.

Layout written by :func:`make_synthetic`::

    JPEGImages/<name>.jpg             images (JPEG quality 95)
    SegmentationClass/<name>.png      palette PNG class masks (VOC palette)
    ContextMasks/<name>.png           0 = none, k = k-th line of contexts.txt
    ImageSets/Segmentation/{train,val}.txt
    class_labels.json                 {name: [foreground class ids]}
    classes.txt  contexts.txt         one name per line (classes: background first)
    cooccurrence.json                 [[class, context or partner class], ...]
    synthetic.json                    generator settings; written last, marks a complete set
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seco.config import SyntheticConfig
from seco.data.classes import SYNTHETIC_CLASSES as CLASSES
from seco.data.palette import palette_image
from seco.data.readers.synthetic import CONTEXT_DIR, SYNTHETIC_LABELS
from seco.synthetic.contexts import CONTEXTS
from seco.synthetic.scenes import COOCCURRENCE, render_scene

__all__ = ["GENERATOR_VERSION", "MARKER", "make_synthetic", "settings"]

GENERATOR_VERSION = 1
MARKER = "synthetic.json"
SPLITS = ("train", "val")


def settings(cfg: SyntheticConfig) -> dict[str, Any]:
    """Everything the generated files depend on: the config plus the generator version."""
    return {"generator_version": GENERATOR_VERSION, **dataclasses.asdict(cfg)}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _write_scene(folders: dict[str, Path], seed: int, split_id: int, index: int, name: str,
                 image_size: int) -> list[int]:
    """Draw image ``index`` of a split, write its three files; returns its foreground class ids."""
    canvas = render_scene(np.random.default_rng([seed, split_id, index]), image_size)
    Image.fromarray(canvas.to_uint8()).save(folders["JPEGImages"] / f"{name}.jpg", quality=95)
    palette_image(canvas.label).save(folders["SegmentationClass"] / f"{name}.png")
    Image.fromarray(np.ascontiguousarray(canvas.context, dtype=np.uint8), mode="L").save(
        folders[CONTEXT_DIR] / f"{name}.png")
    return [int(c) for c in np.unique(canvas.label) if c != 0]


def make_synthetic(out: Path, cfg: SyntheticConfig, workers: int = 1) -> Path:
    """Generate the benchmark into ``out`` (created if needed); returns ``out``.

    Image ``i`` of split ``s`` is drawn from ``numpy.random.default_rng([seed, s, i])``,
    so the same settings give byte-identical files, with any number of
    ``workers`` (processes drawing images side by side).
    """
    out = Path(out)
    folders = {key: out / key for key in ("JPEGImages", "SegmentationClass", CONTEXT_DIR)}
    for folder in (*folders.values(), out / "ImageSets" / "Segmentation"):
        folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folders, cfg.seed, split_id, i, f"{split}_{i:05d}", cfg.image_size)
            for split_id, (split, count) in enumerate(zip(SPLITS, (cfg.n_train, cfg.n_val))) for i in range(count)]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            labels = pool.starmap(_write_scene, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
    else:
        labels = [_write_scene(*job) for job in jobs]
    class_labels = {job[4]: found for job, found in zip(jobs, labels)}
    for split in SPLITS:
        names = [job[4] for job in jobs if SPLITS[job[2]] == split]
        (out / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    _write_json(out / SYNTHETIC_LABELS, class_labels)
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    (out / "contexts.txt").write_text("".join(f"{c}\n" for c in CONTEXTS))
    _write_json(out / "cooccurrence.json", [list(pair) for pair in COOCCURRENCE])
    _write_json(out / MARKER, settings(cfg))
    return out
