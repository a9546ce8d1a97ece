"""Image-level label files, including the cls_labels.npy of the IRN, ToCo and SeCo repositories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_image

from seco.config import DataConfig
from seco.data import DataError, build_dataset
from seco.data.readers.label_files import read_label_file

NAMES = ["2007_000032", "2011_003276"]


class RunsCode:
    """Pickles to a call of ``Path.touch`` on a sentinel: what allow_pickle=True would execute."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.sentinel,))


def _one_hot(*classes: int) -> np.ndarray:
    vector = np.zeros(20, dtype=np.float32)
    vector[[c - 1 for c in classes]] = 1.0
    return vector


@pytest.fixture
def voc_ids(tmp_path: Path) -> Path:
    """A VOC folder with VOC-style image ids and no masks."""
    root = tmp_path / "VOC2012"
    for i, name in enumerate(NAMES):
        write_image(root / "JPEGImages" / f"{name}.jpg", (16, 20), i)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(NAMES) + "\n")
    return root


def _labels(root: Path) -> list[tuple[int, ...]]:
    cfg = DataConfig(format="voc", root=str(root), labels_file="cls_labels.npy")
    return [r.labels for r in build_dataset(cfg, "train", train=True).records]


def test_seco_and_toco_npy_with_string_ids(voc_ids: Path) -> None:
    np.save(voc_ids / "cls_labels.npy", {NAMES[0]: _one_hot(1, 15), NAMES[1]: _one_hot(20)}, allow_pickle=True)
    assert _labels(voc_ids) == [(1, 15), (20,)]


def test_irn_npy_with_integer_ids(voc_ids: Path) -> None:
    table = {np.int32(2007000032): _one_hot(12), 2011003276: _one_hot(3, 4)}
    np.save(voc_ids / "cls_labels.npy", table, allow_pickle=True)
    assert _labels(voc_ids) == [(12,), (3, 4)]


def test_npy_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    np.save(tmp_path / "cls_labels.npy", np.array({"a": RunsCode(sentinel)}, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"cls_labels\.npy: not a readable cls_labels\.npy \(refusing"):
        read_label_file(tmp_path / "cls_labels.npy")
    assert not sentinel.exists()


def test_npy_of_plain_numbers_names_the_expected_content(tmp_path: Path) -> None:
    np.save(tmp_path / "cls_labels.npy", np.zeros((3, 20)))
    with pytest.raises(DataError, match=r"cls_labels\.npy: holds a plain float64 array without image names"):
        read_label_file(tmp_path / "cls_labels.npy")


def test_a_binary_file_read_as_csv_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_bytes(bytes(range(128, 256)))
    with pytest.raises(DataError, match=r"labels\.txt: not a text CSV file"):
        read_label_file(tmp_path / "labels.txt")
