"""The folder reader: images plus a CSV or JSON file of labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_image, write_palette_png

from seco.config import DataConfig
from seco.data import DataError, build_dataset


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_image(root / "images" / "p1.jpg", (12, 16), 0)
    write_image(root / "images" / "p2.png", (10, 10), 1)
    write_image(root / "images" / "p3.bmp", (8, 12), 2)
    return root


def _cfg(root: Path, labels_file: str, class_names: list[str] | None = None) -> DataConfig:
    return DataConfig(format="folder", root=str(root), image_dir="images", mask_dir="masks",
                      labels_file=labels_file, class_names=class_names or [])


def test_csv_with_names_derives_sorted_classes(folder_root: Path) -> None:
    (folder_root / "labels.csv").write_text("image,labels\np1.jpg,dog;cat\np2,cat\np3.bmp,bird dog\n")
    dataset = build_dataset(_cfg(folder_root, "labels.csv"), "train", train=True)
    assert dataset.class_names == ["background", "bird", "cat", "dog"]
    assert dataset.names == ["p1", "p2", "p3"]
    assert [r.labels for r in dataset.records] == [(2, 3), (2,), (1, 3)]
    item = dataset[2]
    assert torch.all(item["mask"] == 255) and item["labels"].tolist() == [1.0, 0.0, 1.0]


def test_json_with_ids_and_class_names(folder_root: Path) -> None:
    (folder_root / "labels.json").write_text(json.dumps({"p1": [1], "p2": [2, 1]}))
    cfg = _cfg(folder_root, "labels.json", ["background", "cat", "dog"])
    dataset = build_dataset(cfg, "val", train=False)
    assert [r.labels for r in dataset.records] == [(1,), (1, 2)]
    assert dataset[1]["image"].shape == (3, 10, 10)


def test_ids_without_class_names_is_an_error(folder_root: Path) -> None:
    (folder_root / "labels.json").write_text(json.dumps({"p1": [1]}))
    with pytest.raises(DataError, match="labels.json"):
        build_dataset(_cfg(folder_root, "labels.json"), "train", train=True)


def test_masks_are_used_where_present(folder_root: Path) -> None:
    mask = np.zeros((12, 16), np.uint8)
    mask[2:6, 2:6] = 2
    write_palette_png(folder_root / "masks" / "p1.png", mask)
    (folder_root / "labels.json").write_text(json.dumps({"p1": ["dog"], "p2": ["cat"]}))
    cfg = _cfg(folder_root, "labels.json", ["background", "cat", "dog"])
    dataset = build_dataset(cfg, "train", train=False)
    assert dataset[0]["mask"][3, 3] == 2 and dataset[0]["mask"][0, 0] == 0
    assert torch.all(dataset[1]["mask"] == 255)


def test_labels_file_is_required(folder_root: Path) -> None:
    with pytest.raises(DataError, match="labels_file"):
        build_dataset(_cfg(folder_root, ""), "train", train=True)
    with pytest.raises(DataError, match="nothere.csv"):
        build_dataset(_cfg(folder_root, "nothere.csv"), "train", train=True)
