"""Every plot writes a non-empty PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seco.report.metrics import segmentation_metrics
from seco.report.plots import (
    CamSample,
    cam_grid,
    cam_overlay,
    colorize,
    confusion_ratio_bars,
    per_class_iou_bars,
    prototype_similarity_heatmap,
    tsne_embeddings,
)

NAMES = ["background", "boat", "horse"]
PALETTE = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0]], dtype=np.uint8)
RNG = np.random.default_rng(0)


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 100
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def image(size: int = 16) -> np.ndarray:
    return RNG.integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_colorize_maps_palette_and_ignore() -> None:
    out = colorize(np.array([[0, 2], [255, 1]]), PALETTE)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 1].tolist() == [0, 128, 0] and out[1, 0].tolist() == [255, 255, 255]


def test_cam_overlay_and_grid(tmp_path: Path) -> None:
    cam = RNG.random((16, 16))
    assert_png(cam_overlay(image(), torch.from_numpy(cam), tmp_path / "a" / "overlay.png", "boat"))
    label = RNG.integers(0, 3, (16, 16))
    samples = [
        CamSample(image(), label, label, cams={1: cam, 2: 1 - cam}),
        CamSample(image(), label, np.full((16, 16), 255), cams={2: cam}),
    ]
    assert_png(cam_grid(samples, NAMES, PALETTE, tmp_path / "grid.png", title="val"))
    with pytest.raises(ValueError, match="does not match image shape"):
        cam_overlay(image(), cam[:8], tmp_path / "bad.png")


def test_metric_bars(tmp_path: Path) -> None:
    run_a = segmentation_metrics(np.array([[50, 10, 0], [5, 20, 5], [0, 0, 0]]), NAMES)  # horse: FP/TP inf
    run_b = segmentation_metrics(np.array([[60, 2, 0], [1, 30, 0], [0, 0, 0]]), NAMES)  # horse: absent
    assert_png(per_class_iou_bars(run_a, tmp_path / "iou.png"))
    assert_png(confusion_ratio_bars({"baseline": run_a, "seco": run_b}, tmp_path / "ratio.png"))
    other = segmentation_metrics(np.eye(2, dtype=np.int64), ["background", "train"])
    with pytest.raises(ValueError, match="different class names"):
        confusion_ratio_bars({"a": run_a, "b": other}, tmp_path / "x.png")


def test_prototype_similarity_heatmap(tmp_path: Path) -> None:
    prototypes = torch.randn(3, 8, dtype=torch.float16)
    assert_png(prototype_similarity_heatmap(prototypes, NAMES, tmp_path / "sim.png"))
    with pytest.raises(ValueError, match="do not match 2 class names"):
        prototype_similarity_heatmap(prototypes, NAMES[:2], tmp_path / "bad.png")


def test_tsne_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    labels = np.repeat(np.arange(3), 10)
    points = RNG.normal(size=(30, 16)) + 4.0 * labels[:, None]
    first = tsne_embeddings(torch.from_numpy(points), labels, NAMES, tmp_path / "t1.png", seed=3)
    second = tsne_embeddings(points, labels, NAMES, tmp_path / "t2.png", seed=3)
    assert_png(first)
    assert first.read_bytes() == second.read_bytes()
    assert_png(tsne_embeddings(points[:2], labels[:2], NAMES, tmp_path / "tiny.png"))  # perplexity clipped to 1 < N
