"""Figures for reports: CAM overlays, per-class bars, prototype similarity, t-SNE.

Every function renders with matplotlib's Agg canvas through
:class:`matplotlib.figure.Figure` (never ``pyplot``), so nothing needs a
display and no global matplotlib state is touched. Each writes one PNG and
returns its path; parent folders are created.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = [
    "CamSample",
    "cam_grid",
    "cam_grid_figure",
    "cam_overlay",
    "class_legend",
    "colorize",
    "confusion_ratio_bars",
    "figure_rgb",
    "per_class_iou_bars",
    "prototype_similarity_heatmap",
    "save_figure",
    "tsne_embeddings",
]

PathLike = str | os.PathLike[str]
CAM_CMAP = "jet"
CAM_ALPHA = 0.5
IGNORE_ID = 255
OUTSIDE_RIGHT = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}  # a legend beside the axes


@dataclass
class CamSample:
    """One row of :func:`cam_grid`: an image, its label maps and its CAMs.

    ``cams`` maps a class id to an HxW map in [0, 1] (usually the classes in
    the image); ``gt`` and ``pred`` are HxW class-id maps (255 = ignore);
    ``pred_title`` names the output ``pred`` comes from (CAM, mask, seg);
    ``more_preds`` holds further predictions by title, drawn after ``pred``.
    """

    image: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    cams: Mapping[int, np.ndarray] = field(default_factory=dict)
    pred_title: str = "prediction"
    more_preds: Mapping[str, np.ndarray] = field(default_factory=dict)

    def label_maps(self) -> list[np.ndarray]:
        """The ground truth and every prediction: the maps whose classes a legend names."""
        return [self.gt, self.pred, *self.more_preds.values()]


def _numpy(values: Any) -> np.ndarray:
    """A tensor or array-like as a NumPy array (on the CPU, detached)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        return (values.float() if values.dtype == torch.bfloat16 else values).numpy()
    return np.asarray(values)


def save_figure(fig: Figure, path: PathLike) -> Path:
    """Write the figure, grown to hold legends placed beside or below the axes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return path


def figure_rgb(fig: Figure) -> np.ndarray:
    """The figure rendered as :func:`save_figure` writes it, as an HxWx3 uint8 array (e.g. for TensorBoard)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    buffer.seek(0)
    with Image.open(buffer) as png:
        return np.asarray(png.convert("RGB"))


def colorize(label: np.ndarray, palette: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """An HxW class-id map as HxWx3 uint8 colours; ids past the palette (e.g. 255) are white."""
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    label = _numpy(label).astype(np.int64)
    out = np.full((*label.shape, 3), 255, dtype=np.uint8)
    known = (label >= 0) & (label < len(colours))
    out[known] = colours[label[known]]
    return out


def _draw_overlay(ax: Axes, rgb: np.ndarray, cam: np.ndarray, title: str) -> None:
    if rgb.shape[:2] != cam.shape:
        raise ValueError(f"CAM shape {cam.shape} does not match image shape {rgb.shape[:2]}")
    ax.imshow(rgb)
    ax.imshow(cam, cmap=CAM_CMAP, alpha=CAM_ALPHA, vmin=0.0, vmax=1.0)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def cam_overlay(rgb: np.ndarray, cam: np.ndarray, path: PathLike, title: str = "") -> Path:
    """One CAM (HxW in [0, 1]) drawn over its image (HxWx3 uint8)."""
    fig = Figure(figsize=(4, 4))
    _draw_overlay(fig.add_subplot(), _numpy(rgb), _numpy(cam), title)
    fig.tight_layout()
    return save_figure(fig, path)


def _draw_labels(ax: Axes, label: np.ndarray, palette: Any, title: str) -> None:
    ax.imshow(colorize(label, palette), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def class_legend(fig: Figure, label_maps: Sequence[Any], class_names: Sequence[str], palette: Any,
                 ncol: int = 8, extra: Sequence[Artist] = ()) -> None:
    """One legend below the figure: the colour of every class shown in ``label_maps`` (and ignore, if shown),
    after the ``extra`` handles (e.g. what the lines of the figure mean)."""
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    shown = set()
    for label in label_maps:
        shown.update(np.unique(_numpy(label)).tolist())
    handles = [Patch(facecolor=colours[c] / 255.0, edgecolor="grey", label=class_names[c])
               for c in sorted(shown) if 0 <= c < min(len(class_names), len(colours))]
    if IGNORE_ID in shown:  # drawn by colorize: its palette colour, or white past the palette
        ignore = colours[IGNORE_ID] / 255.0 if len(colours) > IGNORE_ID else "white"
        handles.append(Patch(facecolor=ignore, edgecolor="grey", label="ignore"))
    handles = [*extra, *handles]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), ncol), fontsize=8)


def cam_grid(
    samples: Sequence[CamSample],
    class_names: Sequence[str],
    palette: np.ndarray | Sequence[Sequence[int]],
    path: PathLike,
    title: str = "",
) -> Path:
    """:func:`cam_grid_figure` written to ``path``."""
    return save_figure(cam_grid_figure(samples, class_names, palette, title), path)


def cam_grid_figure(
    samples: Sequence[CamSample],
    class_names: Sequence[str],
    palette: np.ndarray | Sequence[Sequence[int]],
    title: str = "",
) -> Figure:
    """A grid, one row per sample: image | GT | one CAM per class | prediction(s).

    Every class of ``cams`` gets its column, one whose CAM stayed all zero
    too (titled so). A colour legend of the classes and a CAM colour bar sit
    outside the images; each prediction column is titled with its output.
    """
    if not samples:
        raise ValueError("cam_grid needs at least one sample")
    n_cams = max(len(s.cams) for s in samples)
    n_preds = max(1 + len(s.more_preds) for s in samples)
    cols = n_cams + 2 + n_preds
    fig = Figure(figsize=(2.2 * cols + 1.0, 2.2 * len(samples) + 0.8 + (0.4 if title else 0.0)),
                 layout="constrained")
    axes = fig.subplots(len(samples), cols, squeeze=False)
    cam_axes = []
    for row, sample in zip(axes, samples):
        image = _numpy(sample.image)
        row[0].imshow(image)
        row[0].set_title("image", fontsize=9)
        row[0].axis("off")
        _draw_labels(row[1], sample.gt, palette, "ground truth")
        for ax, (class_id, cam) in zip(row[2:], sample.cams.items()):
            cam = _numpy(cam)
            zero = " (all zero)" if float(cam.max()) <= 0 else ""
            _draw_overlay(ax, image, cam, f"CAM: {class_names[class_id]}{zero}")
            cam_axes.append(ax)
        for ax in row[2 + len(sample.cams) : cols - n_preds]:
            ax.axis("off")
        preds = {sample.pred_title: sample.pred, **sample.more_preds}
        for ax, (pred_title, pred) in zip(row[cols - n_preds :], preds.items()):
            _draw_labels(ax, pred, palette, pred_title)
        for ax in row[cols - n_preds + len(preds) :]:
            ax.axis("off")
    if cam_axes:
        scale = ScalarMappable(Normalize(0.0, 1.0), colormaps[CAM_CMAP])
        fig.colorbar(scale, ax=axes.ravel().tolist(), label="CAM score", shrink=0.6, location="right")
    class_legend(fig, [m for s in samples for m in s.label_maps()], class_names, palette)
    if title:
        fig.suptitle(title)
    return fig


def _wide_figure(n_items: int) -> Figure:
    """A figure wide enough for ``n_items`` labelled bars or groups."""
    return Figure(figsize=(max(6.0, 0.45 * n_items + 2.0), 4.5))


def per_class_iou_bars(metrics: Mapping[str, Any], path: PathLike, title: str = "Per-class IoU") -> Path:
    """Bars of per-class IoU (%) with the mIoU as a dashed line; undefined IoUs are marked n/a."""
    names = list(metrics["per_class"])
    ious = [metrics["per_class"][n]["iou"] for n in names]
    fig = _wide_figure(len(names))
    ax = fig.add_subplot()
    x = np.arange(len(names))
    ax.bar(x, [100.0 * v if v is not None else 0.0 for v in ious], color="tab:blue")
    for i, v in enumerate(ious):
        if v is None:
            ax.text(i, 1.0, "n/a", ha="center", fontsize=7, rotation=90)
    if metrics["miou"] is not None:
        ax.axhline(100.0 * metrics["miou"], color="tab:red", linestyle="--", label=f"mIoU {100 * metrics['miou']:.1f}")
        ax.legend(**OUTSIDE_RIGHT)
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("IoU (%)")
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def confusion_ratio_bars(
    runs: Mapping[str, Mapping[str, Any]], path: PathLike, title: str = "Confusion ratio FP/TP (lower is better)"
) -> Path:
    """Grouped bars of per-class FP/TP, one bar per run, on a symmetric-log axis.

    Infinite ratios (TP = 0) are drawn hatched at the top of the axis and
    labelled ``inf``; undefined ones are left empty. All runs must share one
    list of class names.
    """
    if not runs:
        raise ValueError("confusion_ratio_bars needs at least one run")
    names = list(next(iter(runs.values()))["per_class"])
    for run, metrics in runs.items():
        if list(metrics["per_class"]) != names:
            raise ValueError(f"run {run!r} has different class names from the first run")
    finite = [s["fp_tp"] for m in runs.values() for s in m["per_class"].values() if s["fp_tp"] is not None]
    cap = 2.0 * max(finite + [1.0])
    fig = _wide_figure(len(names) * (len(runs) + 1) // 2)
    ax = fig.add_subplot()
    width = 0.8 / len(runs)
    x = np.arange(len(names))
    for j, (run, metrics) in enumerate(runs.items()):
        scores = [metrics["per_class"][n] for n in names]
        offset = x - 0.4 + width * (j + 0.5)
        heights = [cap if s["fp_tp_infinite"] else (s["fp_tp"] or 0.0) for s in scores]
        bars = ax.bar(offset, heights, width, label=run, color=colormaps["tab10"](j % 10))
        for bar, s in zip(bars, scores):
            if s["fp_tp_infinite"]:
                bar.set_hatch("//")
                ax.text(bar.get_x() + bar.get_width() / 2, cap, "inf", ha="center", va="bottom", fontsize=7)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(0, cap * 1.5)
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("FP / TP")
    ax.set_title(title)
    ax.legend(fontsize=8, **OUTSIDE_RIGHT)
    fig.tight_layout()
    return save_figure(fig, path)


def prototype_similarity_heatmap(
    prototypes: Any, class_names: Sequence[str], path: PathLike, title: str = "Prototype cosine similarity"
) -> Path:
    """Cosine similarity among class prototypes (K, D), class names on both axes (paper Fig. 5 right)."""
    protos = _numpy(prototypes).astype(np.float64)
    if protos.ndim != 2 or protos.shape[0] != len(class_names):
        raise ValueError(f"prototypes of shape {protos.shape} do not match {len(class_names)} class names")
    unit = protos / np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    k = len(class_names)
    side = max(5.0, 0.35 * k + 2.0)
    fig = Figure(figsize=(side + 1.0, side))
    ax = fig.add_subplot()
    image = ax.imshow(sim, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(k)
    ax.set_xticks(ticks, class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                colour = "white" if abs(sim[i, j]) > 0.5 else "black"
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def tsne_embeddings(
    embeddings: Any,
    labels: Any,
    class_names: Sequence[str],
    path: PathLike,
    seed: int = 0,
    title: str = "t-SNE of class embeddings",
) -> Path:
    """A 2-D t-SNE scatter of (N, D) embeddings coloured by class (paper Fig. 5 left).

    The perplexity is sklearn's usual 30, clipped to (N - 1) / 3 (at least 1)
    for small sets: it must stay below N, and a perplexity near N makes every
    point a neighbour of every other and erases the clusters. ``seed`` makes
    the layout deterministic.
    """
    from sklearn.manifold import TSNE

    points = _numpy(embeddings).astype(np.float64)
    ids = _numpy(labels).astype(np.int64).reshape(-1)
    if points.ndim != 2 or points.shape[0] != ids.shape[0] or points.shape[0] < 2:
        raise ValueError(f"need (N, D) embeddings with N >= 2 and N labels, got {points.shape} and {ids.shape}")
    if ids.min() < 0 or ids.max() >= len(class_names):
        raise ValueError(f"labels must index the {len(class_names)} class names, got range [{ids.min()}, {ids.max()}]")
    perplexity = min(30.0, max(1.0, (points.shape[0] - 1) / 3))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    cmap = colormaps["tab20"]
    for c in np.unique(ids):
        keep = ids == c
        ax.scatter(xy[keep, 0], xy[keep, 1], s=14, color=cmap(int(c) % 20), label=class_names[c])
    ax.legend(fontsize=7, ncol=max(1, math.ceil(len(np.unique(ids)) / 20)), markerscale=1.5, **OUTSIDE_RIGHT)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)
