"""The COCO reader: instances JSON through pycocotools, and pre-rendered masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_image, write_palette_png

from seco.config import DataConfig
from seco.data import COCO_CLASSES, DataError, build_dataset


def _square(y0: int, x0: int, size: int) -> list[float]:
    return [x0, y0, x0 + size, y0, x0 + size, y0 + size, x0, y0 + size]


@pytest.fixture
def coco_root(tmp_path: Path) -> Path:
    """Two train images: 1 has a big dog, a small cat on it and a crowd of persons; 2 only a crowd."""
    root = tmp_path / "coco"
    write_image(root / "train2014" / "img1.jpg", (30, 40), 0)
    write_image(root / "train2014" / "img2.jpg", (20, 20), 1)
    crowd_counts = [30 * 5, 30 * 35]  # column-major RLE from background: columns 0-4 free, 5-39 crowd
    instances = {
        "images": [{"id": 1, "file_name": "img1.jpg", "height": 30, "width": 40},
                   {"id": 2, "file_name": "img2.jpg", "height": 20, "width": 20}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 17, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 17, "iscrowd": 0, "area": 16.0,
             "segmentation": [_square(10, 10, 4)], "bbox": [10, 10, 4, 4]},
            {"id": 2, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 400.0,
             "segmentation": [_square(5, 5, 20)], "bbox": [5, 5, 20, 20]},
            {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 1050.0,
             "segmentation": {"counts": crowd_counts, "size": [30, 40]}, "bbox": [5, 0, 35, 30]},
            {"id": 4, "image_id": 2, "category_id": 1, "iscrowd": 1, "area": 400.0,
             "segmentation": {"counts": [0, 400], "size": [20, 20]}, "bbox": [0, 0, 20, 20]},
        ],
    }
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_train2014.json").write_text(json.dumps(instances))
    return root


def _cfg(root: Path) -> DataConfig:
    return DataConfig(format="coco", root=str(root), image_dir="{split}",
                      annotations="annotations/instances_{split}.json")


def test_instances_json_gives_contiguous_ids_and_rendered_masks(coco_root: Path) -> None:
    dataset = build_dataset(_cfg(coco_root), "train2014", train=False)
    assert dataset.class_names == ["background", "person", "cat", "dog"]
    assert dataset.names == ["img1", "img2"]
    assert [r.labels for r in dataset.records] == [(2, 3), ()]
    mask = dataset[0]["mask"].numpy()
    assert mask[11, 11] == 2, "the small cat is painted over the larger dog"
    assert mask[20, 20] == 3
    assert mask[28, 30] == 255, "crowd region without an object is ignored"
    assert mask[28, 2] == 0
    assert dataset[0]["labels"].tolist() == [0.0, 1.0, 1.0]
    assert torch.all(dataset[1]["mask"] == 255)


def test_training_skips_images_without_objects(coco_root: Path) -> None:
    assert build_dataset(_cfg(coco_root), "train2014", train=True).names == ["img1"]


def test_missing_annotations_file(coco_root: Path) -> None:
    with pytest.raises(DataError, match="instances_val2014.json"):
        build_dataset(_cfg(coco_root), "val2014", train=False)


def test_class_name_count_must_match_categories(coco_root: Path) -> None:
    cfg = _cfg(coco_root)
    cfg.class_names = ["background", "person"]
    with pytest.raises(DataError, match="instances_train2014.json"):
        build_dataset(cfg, "train2014", train=False)


def test_prerendered_masks_use_coco_names(coco_root: Path) -> None:
    write_palette_png(coco_root / "masks" / "train2014" / "img1.png", np.full((30, 40), 80, np.uint8))
    (coco_root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (coco_root / "ImageSets" / "Segmentation" / "train2014.txt").write_text("img1\n")
    cfg = DataConfig(format="coco", root=str(coco_root), image_dir="{split}", mask_dir="masks/{split}")
    dataset = build_dataset(cfg, "train2014", train=True)
    assert dataset.num_classes == 81 and dataset.class_names == list(COCO_CLASSES)
    assert dataset.records[0].labels == (80,) and dataset[0]["labels"][79] == 1
