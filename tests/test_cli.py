"""The command line end to end on the tiny synthetic set: demo, evaluate, export, predict, compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seco.cli import main
from support import tiny_overrides


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--out", str(out), *tiny_overrides(synthetic_root, out)]) == 0
    return out


def test_demo_writes_config_checkpoint_metrics_and_overlays(demo_run: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("config.yaml", "last.pt", "metrics.json", "report.md", "figures/cam_overlays.png"):
        assert (demo_run / name).is_file(), name
    doc = json.loads((demo_run / "metrics.json").read_text())
    assert doc["split"] == "val"
    assert set(doc["results"]) == {"cam", "mask", "seg"}
    for block in doc["results"].values():
        assert len(block["per_class"]) == 10 and 0.0 <= block["miou"] <= 1.0
    assert "boat w/(water)" in {row["label"] for row in doc["cooccurrence"]["cam"]}


def test_evaluate_names_the_split_and_counts_train_images(demo_run: Path, capsys: pytest.CaptureFixture) -> None:
    out = demo_run / "eval-train"
    assert main(["evaluate", "--checkpoint", str(demo_run / "last.pt"), "--split", "train", "--outputs", "cam,seg",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "split: train" in printed and "mIoU (train)" in printed
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["split"] == "train" and set(doc["results"]) == {"cam", "seg"}
    assert doc["meta"]["images"] == 24


def test_export_masks_writes_voc_layout(demo_run: Path, tmp_path: Path) -> None:
    assert main(["export-masks", "--checkpoint", str(demo_run / "last.pt"), "--split", "val",
                 "--out", str(tmp_path)]) == 0
    names = (tmp_path / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert len(names) == 8
    mask = Image.open(tmp_path / "SegmentationClass" / f"{names[0]}.png")
    assert mask.mode == "P" and mask.size == (96, 96)
    assert np.asarray(mask).max() < 10


def test_predict_on_png_jpeg_and_grayscale_of_odd_sizes(demo_run: Path, tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)).save(images / "odd.png")
    Image.fromarray(rng.integers(0, 255, (101, 67, 3), dtype=np.uint8)).save(images / "photo.jpg")
    Image.fromarray(rng.integers(0, 255, (45, 29), dtype=np.uint8), mode="L").save(tmp_path / "gray.png")
    out = tmp_path / "out"
    assert main(["predict", str(images), str(tmp_path / "gray.png"), "--checkpoint",
                 str(demo_run / "last.pt"), "--out", str(out)]) == 0
    for stem, size in (("odd", (53, 37)), ("photo", (67, 101)), ("gray", (29, 45))):
        assert Image.open(out / f"{stem}.png").size == size
        overlay = Image.open(out / f"{stem}_overlay.png").size  # the image above its legend band
        assert overlay[0] >= size[0] and overlay[1] > size[1]


def test_predict_reports_an_unreadable_image(demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    assert main(["predict", str(bad), "--checkpoint", str(demo_run / "last.pt"), "--out", str(tmp_path)]) == 1
    assert "broken.jpg" in capsys.readouterr().err


def test_compare_two_runs(demo_run: Path, tmp_path: Path) -> None:
    assert main(["compare", str(demo_run), str(demo_run), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "comparison.md").is_file()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")]) == 1
    assert "none.pt" in capsys.readouterr().err


def test_bad_override_is_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "train.iteratons=3"]) == 1
    assert "train.iteratons" in capsys.readouterr().err


def test_make_synthetic_and_configs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["make-synthetic", str(tmp_path / "set"), "--n-train", "4", "--n-val", "2"]) == 0
    assert len((tmp_path / "set" / "ImageSets" / "Segmentation" / "train.txt").read_text().split()) == 4
    assert main(["configs"]) == 0 and "ablations/no_lil" in capsys.readouterr().out
    assert main(["configs", "voc", "train.iterations=5"]) == 0 and "iterations: 5" in capsys.readouterr().out


def test_evaluate_with_dense_crf_streams_both_variants(demo_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("pydensecrf.densecrf", reason="the crf extra (pydensecrf2) is not installed")
    assert main(["evaluate", "--checkpoint", str(demo_run / "last.pt"), "--outputs", "seg,cam", "--out",
                 str(tmp_path), "eval.crf=true", "eval.crf_workers=2"]) == 0
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert set(doc["results"]) == {"seg", "cam", "seg_crf", "cam_crf"}
    for block in ("seg_crf", "cam_crf"):
        assert doc["results"][block]["num_pixels"] == doc["results"]["seg"]["num_pixels"] == 8 * 96 * 96
