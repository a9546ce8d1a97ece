"""`seco check-data`: every sample of a split read once, in parallel workers, with a summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_palette_png

from seco.config import load_config
from seco.tools.check_data import check_split
from support import assert_clean_error, run_seco


def test_a_clean_split_passes(voc_root: Path) -> None:
    check = check_split(load_config("voc", [f"data.root={voc_root}", "data.train_split=train",
                                     "data.mask_dir=SegmentationClass"]), "train", workers=0, progress=False)
    assert (check.split, check.checked, check.bad) == ("train", 2, [])


def test_bad_samples_are_listed_by_file_with_a_summary(voc_root: Path) -> None:
    names = ["a", "b", "c"]
    (voc_root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nb\nc\nghost\n")
    np.save(voc_root / "cls_labels.npy", {n: np.eye(20, dtype=np.float32)[i] for i, n in enumerate(names)},
            allow_pickle=True)
    (voc_root / "JPEGImages" / "a.jpg").write_bytes(b"not a jpeg")
    write_palette_png(voc_root / "SegmentationClass" / "b.png", np.zeros((5, 5), np.uint8))  # image is 16x18
    done = run_seco("check-data", "--config", "voc", "--workers", "2", f"data.root={voc_root}",
                    "data.labels_file=cls_labels.npy", "data.train_split=train", "data.mask_dir=SegmentationClass")
    assert_clean_error(done, "checked 4 samples of split 'train'", "2 workers", "3 bad", "data.on_error=skip")
    listed = dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    assert set(listed) == {"a", "b", "ghost"}
    assert "a.jpg" in listed["a"] and "b.png" in listed["b"] and "size" in listed["b"]
    assert "ghost" in listed["ghost"] and "cls_labels.npy" not in listed["ghost"]
