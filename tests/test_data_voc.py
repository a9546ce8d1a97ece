"""The VOC reader and the dataset built on it, including the synthetic format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seco.config import DataConfig
from seco.data import VOC_CLASSES, DataError, build_dataset, default_class_names, read_voc


def test_labels_from_masks_and_raw_indices(voc_root: Path) -> None:
    dataset = build_dataset(DataConfig(format="voc", root=str(voc_root)), "train", train=True)
    assert dataset.class_names == list(VOC_CLASSES) and dataset.num_classes == 21
    assert dataset.names == ["a", "b"] and dataset.cooccurrence == []
    assert [r.labels for r in dataset.records] == [(12, 15), (1,)]
    assert dataset.palette.shape == (256, 3)
    a = build_dataset(DataConfig(format="voc", root=str(voc_root)), "train", train=False)[0]
    assert set(np.unique(a["mask"].numpy()).tolist()) == {0, 12, 15}
    assert a["labels"].shape == (20,) and a["labels"].nonzero().flatten().tolist() == [11, 14]
    assert a["size"].tolist() == [20, 24] and a["image"].shape == (3, 20, 24)
    b = build_dataset(DataConfig(format="voc", root=str(voc_root)), "train", train=False)[1]
    assert b["mask"][0, 0] == 255 and b["mask"][5, 5] == 1


def test_train_items_have_crop_size(voc_root: Path) -> None:
    cfg = DataConfig(format="voc", root=str(voc_root), crop_size=32, scale_range=[0.5, 1.5])
    item = build_dataset(cfg, "train", train=True)[0]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (32, 32)
    assert item["image"].dtype == torch.float32 and item["mask"].dtype == torch.int64
    assert item["size"].tolist() == [20, 24]


def test_labels_file_json_names_and_csv_ids(voc_root: Path) -> None:
    (voc_root / "labels.json").write_text(json.dumps({"a": ["dog", "person"], "b": ["aeroplane"], "c": []}))
    labels_file = voc_root / "labels.json"
    records = read_voc(voc_root, "train", class_names=VOC_CLASSES, labels_file=labels_file).records
    assert [r.labels for r in records] == [(12, 15), (1,)]
    (voc_root / "labels.csv").write_text("name,labels\na,12;15\nb,1\n")
    cfg = DataConfig(format="voc", root=str(voc_root), labels_file="labels.csv")
    assert [r.labels for r in build_dataset(cfg, "train", train=True).records] == [(12, 15), (1,)]


def test_missing_mask_with_labels_file_is_all_ignore(voc_root: Path) -> None:
    (voc_root / "SegmentationClass" / "b.png").unlink()
    (voc_root / "labels.json").write_text(json.dumps({"a": [12, 15], "b": [1]}))
    cfg = DataConfig(format="voc", root=str(voc_root), labels_file="labels.json")
    item = build_dataset(cfg, "train", train=False)[1]
    assert torch.all(item["mask"] == 255) and item["labels"][0] == 1


def test_synthetic_format_reads_generated_set(synthetic_data_cfg: DataConfig, synthetic_root: Path) -> None:
    train = build_dataset(synthetic_data_cfg, "train", train=True)
    val = build_dataset(synthetic_data_cfg, "val", train=False)
    assert (len(train), len(val)) == (24, 8)
    assert train.class_names[0] == "background" and train.num_classes == 10
    assert ("boat", "water") in train.cooccurrence and train.root == synthetic_root
    labels = json.loads((synthetic_root / "class_labels.json").read_text())
    for i in range(len(val)):
        item = val[i]
        present = sorted(set(item["mask"].unique().tolist()) - {0})
        assert present == labels[item["name"]]
        assert (item["labels"].nonzero().flatten() + 1).tolist() == present


def test_default_class_names_need_no_data_on_disk() -> None:
    assert len(default_class_names(DataConfig(format="voc"))) == 21
    assert len(default_class_names(DataConfig(format="coco"))) == 81
    assert default_class_names(DataConfig(format="folder", class_names=["background", "cat"])) == ["background", "cat"]
    with pytest.raises(DataError, match="data.class_names"):
        default_class_names(DataConfig(format="folder"))
