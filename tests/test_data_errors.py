"""Every DataError case names the file at fault."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_palette_png
from PIL import Image

from seco.config import DataConfig
from seco.data import DataError, build_dataset, pad_collate


def _voc(root: Path, **fields: object) -> DataConfig:
    return DataConfig(format="voc", root=str(root), **fields)


def test_corrupt_image(voc_root: Path) -> None:
    (voc_root / "JPEGImages" / "a.jpg").write_bytes(b"not a jpeg at all")
    dataset = build_dataset(_voc(voc_root), "train", train=True)
    with pytest.raises(DataError, match="a.jpg"):
        dataset[0]


def test_truncated_image(voc_root: Path) -> None:
    path = voc_root / "JPEGImages" / "b.png"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError, match="b.png"):
        build_dataset(_voc(voc_root), "train", train=False)[1]


def test_mask_size_differs_from_image(voc_root: Path) -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[2:4, 2:4] = 15
    write_palette_png(voc_root / "SegmentationClass" / "a.png", mask)
    dataset = build_dataset(_voc(voc_root), "train", train=True)
    with pytest.raises(DataError, match=r"SegmentationClass/a\.png.*size"):
        dataset[0]


def test_mask_class_id_out_of_range(voc_root: Path) -> None:
    mask = np.zeros((20, 24), np.uint8)
    mask[0, 0] = 30
    write_palette_png(voc_root / "SegmentationClass" / "a.png", mask)
    with pytest.raises(DataError, match=r"a\.png.*30"):
        build_dataset(_voc(voc_root), "train", train=True)
    (voc_root / "labels.json").write_text(json.dumps({"a": [15], "b": [1]}))
    dataset = build_dataset(_voc(voc_root, labels_file="labels.json"), "train", train=True)
    with pytest.raises(DataError, match=r"a\.png.*30"):
        dataset[0]


@pytest.mark.parametrize("labels", [[21], ["unicorn"], [-1]])
def test_unknown_label_id_or_name(voc_root: Path, labels: list) -> None:
    (voc_root / "labels.json").write_text(json.dumps({"a": labels, "b": [1]}))
    with pytest.raises(DataError, match=r"labels\.json.*'a'"):
        build_dataset(_voc(voc_root, labels_file="labels.json"), "train", train=True)


def test_image_missing_from_labels_file(voc_root: Path) -> None:
    (voc_root / "labels.csv").write_text("a,person\n")
    with pytest.raises(DataError, match=r"labels\.csv.*'b'"):
        build_dataset(_voc(voc_root, labels_file="labels.csv"), "train", train=True)


def test_list_entry_without_image(voc_root: Path) -> None:
    (voc_root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nghost\n")
    with pytest.raises(DataError, match=r"train\.txt.*ghost"):
        build_dataset(_voc(voc_root), "train", train=True)


def test_empty_labels_only_fail_for_training(voc_root: Path) -> None:
    (voc_root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nc\n")
    with pytest.raises(DataError, match=r"c\.png.*empty label list"):
        build_dataset(_voc(voc_root), "train", train=True)
    assert build_dataset(_voc(voc_root), "train", train=False).names == ["a", "c"]
    (voc_root / "labels.json").write_text(json.dumps({"a": [15], "c": []}))
    with pytest.raises(DataError, match=r"labels\.json.*'c'.*empty label list"):
        build_dataset(_voc(voc_root, labels_file="labels.json"), "train", train=True)


def test_missing_split_list(voc_root: Path) -> None:
    with pytest.raises(DataError, match=r"ImageSets/Segmentation/trainval\.txt"):
        build_dataset(_voc(voc_root), "trainval", train=False)


def test_mask_missing_without_labels_file(voc_root: Path) -> None:
    (voc_root / "SegmentationClass" / "b.png").unlink()
    with pytest.raises(DataError, match=r"b\.png.*labels file"):
        build_dataset(_voc(voc_root), "train", train=True)


def test_colour_mask_is_rejected(voc_root: Path) -> None:
    Image.new("RGB", (24, 20)).save(voc_root / "SegmentationClass" / "a.png")
    with pytest.raises(DataError, match=r"a\.png.*mode RGB"):
        build_dataset(_voc(voc_root), "train", train=True)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.root"):
        build_dataset(DataConfig(format="voc"), "train", train=True)
    with pytest.raises(DataError, match="nowhere"):
        build_dataset(_voc(tmp_path / "nowhere"), "train", train=True)


def test_skip_leaves_bad_list_entries_out_and_names_them(voc_root: Path) -> None:
    (voc_root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nghost\nb\n")
    mask = np.zeros((16, 18), np.uint8)
    mask[0, 0] = 40
    write_palette_png(voc_root / "SegmentationClass" / "b.png", mask)
    dataset = build_dataset(_voc(voc_root, on_error="skip"), "train", train=True)
    assert dataset.names == ["a"]
    skipped = {bad.name: bad.reason for bad in dataset.catalog.skipped}
    assert set(skipped) == {"ghost", "b"}
    assert "ghost" in skipped["ghost"] and "b.png" in skipped["b"] and "40" in skipped["b"]


def test_skip_replaces_a_bad_training_sample_and_drops_a_bad_evaluation_sample(voc_root: Path) -> None:
    (voc_root / "JPEGImages" / "a.jpg").write_bytes(b"not a jpeg at all")
    train = build_dataset(_voc(voc_root, on_error="skip"), "train", train=True)
    item = train[0]
    assert item["name"] == "b" and [bad.name for bad in item["skipped"]] == ["a"]
    assert "a.jpg" in item["skipped"][0].reason
    evaluation = build_dataset(_voc(voc_root, on_error="skip"), "train", train=False)
    dropped = evaluation[0]
    assert "image" not in dropped and [bad.name for bad in dropped["skipped"]] == ["a"]
    batch = pad_collate([dropped, evaluation[1]])
    assert batch["name"] == ["b"] and [bad.name for bad in batch["skipped"]] == ["a"]
    with pytest.raises(DataError, match="a.jpg"):
        build_dataset(_voc(voc_root), "train", train=True)[0]
