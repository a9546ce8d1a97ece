"""Every plot writes a non-empty PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from seco.evaluation.metrics import segmentation_metrics
from seco.report.plots import (
    CamSample,
    cam_grid,
    cam_grid_figure,
    cam_overlay,
    colorize,
    confusion_ratio_bars,
    figure_rgb,
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


def _figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Collect every figure the plot functions save."""
    import seco.report.plots as plots

    saved, real_save = [], plots.save_figure

    def keep(fig: object, path: object) -> Path:
        saved.append(fig)
        return real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return saved


def _overlaps(a: object, b: object) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_no_legend_covers_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _figures(monkeypatch)
    full = segmentation_metrics(np.array([[50, 10, 0], [5, 20, 5], [0, 0, 10]]), NAMES)
    per_class_iou_bars(full, tmp_path / "iou.png")
    confusion_ratio_bars({"baseline": full, "seco": full}, tmp_path / "ratio.png")
    labels = np.repeat(np.arange(3), 4)
    tsne_embeddings(RNG.normal(size=(12, 4)) + labels[:, None], labels, NAMES, tmp_path / "t.png")
    label = np.zeros((16, 16), np.int64)
    cam_grid([CamSample(image(), label, label, cams={1: RNG.random((16, 16))})], NAMES, PALETTE,
             tmp_path / "grid.png", title="val")
    checked = 0
    for fig in figures:
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        data_axes = [ax for ax in fig.axes if ax.has_data()]
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert not any(_overlaps(box, ax.get_window_extent(renderer)) for ax in data_axes)
            checked += 1
    assert checked == 4


def test_cam_grid_keeps_a_ground_truth_class_whose_cam_is_all_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = _figures(monkeypatch)
    label = np.zeros((16, 16), np.int64)
    label[2:6, 2:6], label[8:12, 8:12] = 1, 2
    sample = CamSample(image(), label, label, cams={1: RNG.random((16, 16)), 2: np.zeros((16, 16))},
                       pred_title="Segmentation")
    cam_grid([sample], NAMES, PALETTE, tmp_path / "grid.png")
    titles = [ax.get_title() for ax in figures[0].axes]
    assert titles[:5] == ["image", "ground truth", "CAM: boat", "CAM: horse (all zero)", "Segmentation"]
    legend = figures[0].legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["background", "boat", "horse"]


def test_cam_grid_draws_the_pseudo_mask_and_the_segmentation_and_renders_for_tensorboard() -> None:
    label = np.zeros((16, 16), np.int64)
    label[2:6, 2:6] = 1
    seg = label.copy()
    seg[10:14, 10:14] = 2  # horse: only in the segmentation, yet named in the legend
    sample = CamSample(image(), label, label, cams={1: RNG.random((16, 16))}, pred_title="Pseudo-label mask",
                       more_preds={"Segmentation": seg})
    fig = cam_grid_figure([sample], NAMES, PALETTE, title="iteration 10")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["image", "ground truth", "CAM: boat", "Pseudo-label mask", "Segmentation"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["background", "boat", "horse"]
    rgb = figure_rgb(fig)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and min(rgb.shape[:2]) > 100
