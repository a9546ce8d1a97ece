"""The synthetic co-occurrence benchmark: determinism, layout, agreement, rates, caching."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seco.config import DataConfig, SyntheticConfig
from seco.data import DataError, build_dataset
from seco.data.files import read_index_png
from seco.synthetic import cache as cache_module
from seco.synthetic.benchmark import make_synthetic
from seco.synthetic.cache import ensure_synthetic
from seco.synthetic.scenes import CLASSES, render_scene

SMALL = SyntheticConfig(seed=3, n_train=5, n_val=2, image_size=48)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_with_any_number_of_workers(tmp_path: Path) -> None:
    first = _files(make_synthetic(tmp_path / "a", SMALL))
    second = _files(make_synthetic(tmp_path / "b", SMALL, workers=2))
    assert first == second
    other = _files(make_synthetic(tmp_path / "c", SyntheticConfig(**{**vars(SMALL), "seed": 4})))
    assert other.keys() == first.keys()
    assert other["JPEGImages/train_00000.jpg"] != first["JPEGImages/train_00000.jpg"]


def test_layout(synthetic_root: Path) -> None:
    lists = synthetic_root / "ImageSets" / "Segmentation"
    train = (lists / "train.txt").read_text().split()
    val = (lists / "val.txt").read_text().split()
    assert (len(train), len(val)) == (24, 8)
    classes = (synthetic_root / "classes.txt").read_text().split("\n")[:-1]
    assert classes[0] == "background" and len(classes) == 10
    assert (synthetic_root / "contexts.txt").read_text().split() == ["water", "rails", "sky"]
    pairs = json.loads((synthetic_root / "cooccurrence.json").read_text())
    assert ["boat", "water"] in pairs and ["rider", "horse"] in pairs and ["chair", "sofa"] in pairs
    for name in train + val:
        with Image.open(synthetic_root / "JPEGImages" / f"{name}.jpg") as img:
            assert img.size == (96, 96) and img.mode == "RGB"
        with Image.open(synthetic_root / "SegmentationClass" / f"{name}.png") as mask:
            assert mask.mode == "P" and mask.size == (96, 96)
        assert (synthetic_root / "ContextMasks" / f"{name}.png").is_file()


def test_masks_agree_with_class_labels(synthetic_root: Path) -> None:
    labels = json.loads((synthetic_root / "class_labels.json").read_text())
    assert len(labels) == 32
    for name, ids in labels.items():
        mask = np.array(Image.open(synthetic_root / "SegmentationClass" / f"{name}.png"))
        assert sorted(set(np.unique(mask).tolist()) - {0}) == ids
        assert ids, f"{name} has no object"
        context = read_index_png(synthetic_root / "ContextMasks" / f"{name}.png")
        assert not np.any((context > 0) & (mask > 0)), "a context pixel is also an object pixel"
        assert context.max() <= 3


def test_cooccurrence_rates_in_intended_ranges() -> None:
    count, size = 400, 48
    present = np.zeros((count, len(CLASSES)), bool)
    context = np.zeros((count, 4), bool)
    for i in range(count):
        canvas = render_scene(np.random.default_rng([11, 0, i]), size)
        present[i, np.unique(canvas.label)] = True
        context[i, np.unique(canvas.context)] = True
    ids = {name: i for i, name in enumerate(CLASSES)}

    def rate(given: np.ndarray, event: np.ndarray) -> float:
        return float((given & event).sum() / given.sum())

    for cls, ctx in (("boat", 1), ("train", 2), ("plane", 3)):
        has = present[:, ids[cls]]
        assert 0.15 < has.mean() < 0.35
        assert rate(has, context[:, ctx]) >= 0.88, cls
        assert rate(context[:, ctx], ~has) <= 0.12, cls
    rider, horse = present[:, ids["rider"]], present[:, ids["horse"]]
    assert 0.8 <= rate(rider, horse) <= 0.98
    assert 0.55 <= rate(horse, rider) <= 0.85
    chair, sofa = present[:, ids["chair"]], present[:, ids["sofa"]]
    assert 0.65 <= float((chair & sofa).sum() / (chair | sofa).sum()) <= 0.92
    for control in ("ball", "kite"):
        has = present[:, ids[control]]
        assert rate(has, context[:, 1]) < 0.4 and rate(has, context[:, 3]) < 0.4
    assert present[:, 1:].any(axis=1).all()


def test_ensure_synthetic_generates_once_into_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECO_CACHE", str(tmp_path / "cache"))
    cfg = DataConfig(synthetic=SyntheticConfig(seed=1, n_train=3, n_val=1, image_size=32))
    root = ensure_synthetic(cfg)
    assert root.parent == tmp_path / "cache" and root.name.startswith("synthetic-")
    assert (root / "synthetic.json").is_file()
    stamp = (root / "synthetic.json").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(cache_module, "make_synthetic", lambda *a: calls.append(a))
    assert ensure_synthetic(cfg) == root
    assert not calls and (root / "synthetic.json").stat().st_mtime_ns == stamp
    assert os.listdir(tmp_path / "cache") == [root.name]


def test_interrupted_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out: Path, cfg: SyntheticConfig, workers: int) -> Path:
        (out / "JPEGImages").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, "make_synthetic", fail)
    (tmp_path / "set").mkdir()
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(DataConfig(root=str(tmp_path / "set")))
    assert os.listdir(tmp_path) == ["set"] and os.listdir(tmp_path / "set") == []


def test_ensure_synthetic_uses_root_and_refuses_foreign_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    small = SyntheticConfig(seed=2, n_train=2, n_val=1, image_size=32)
    (tmp_path / "set").mkdir()
    root = ensure_synthetic(DataConfig(root=str(tmp_path / "set"), synthetic=small))
    assert root == tmp_path / "set"
    assert len((root / "ImageSets/Segmentation/train.txt").read_text().split()) == 2
    capsys.readouterr()
    assert ensure_synthetic(DataConfig(root=str(root))) == root
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "other settings" in warning and "n_train 2 (config: 1200)" in warning
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="other"):
        ensure_synthetic(DataConfig(root=str(tmp_path / "other")))


def test_a_synthetic_root_that_does_not_exist_asks_for_make_synthetic(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.root=.*typo.*seco make-synthetic .*typo --seed 0 --n-train 1200"):
        ensure_synthetic(DataConfig(root=str(tmp_path / "typo")))
    assert not (tmp_path / "typo").exists()


def test_evaluation_items_carry_their_context_map(synthetic_data_cfg) -> None:
    dataset = build_dataset(synthetic_data_cfg, "val", train=False)
    assert dataset.contexts == ["water", "rails", "sky"]
    item = dataset[0]
    expected = read_index_png(dataset.root / "ContextMasks" / f"{item['name']}.png")
    assert torch.equal(item["context"], torch.from_numpy(expected))
    assert "context" not in build_dataset(synthetic_data_cfg, "train", train=True)[0]
