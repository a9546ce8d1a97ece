"""The patch-level feature figure of ``seco explain`` (paper Fig. 6).

Left, the image with its numbered grid of patches. Then one column per
checkpoint: on top the patch embeddings in 2-D (PCA or t-SNE, scikit-learn),
each point numbered like its patch and coloured by its tag; below, when the
checkpoint has class prototypes, the cosine similarity of each patch to each
prototype (the right half of the paper's Fig. 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from seco.report.plots import PathLike, save_figure

__all__ = ["PROJECTIONS", "Box", "PatchView", "patch_view_figure", "project_2d"]

PROJECTIONS = ("pca", "tsne")
_OUTLINE = [patheffects.withStroke(linewidth=2.5, foreground="black")]

Box = tuple[int, int, int, int]  # y0, y1, x0, x1


@dataclass
class PatchView:
    """One checkpoint's view of the patches of one image.

    ``embeddings`` (N, D) are the projected class tokens q; ``tags`` (N,)
    hold 0 background, k class k, -1 mixed or uncertain; ``tag_source`` says
    whether they come from the ``ground truth`` or the ``CAM``;
    ``similarity`` (N, P) is the cosine similarity to the prototypes of the
    classes ``prototype_names`` (empty when the checkpoint has none).
    """

    embeddings: np.ndarray
    tags: np.ndarray
    tag_source: str
    similarity: np.ndarray
    prototype_names: list[str]


def project_2d(embeddings: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of (N, D) embeddings by PCA or t-SNE (perplexity below N / 3, at least 1)."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose from {', '.join(PROJECTIONS)}")
    points = embeddings.astype(np.float64)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(points)
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(1.0, (len(points) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def _tag_name(tag: int, class_names: Sequence[str]) -> str:
    return "mixed / uncertain" if tag < 0 else class_names[tag]


def _tag_colour(tag: int) -> tuple[float, ...]:
    """Dark grey for mixed, light grey for background, the 10 dark then the 10 light tab20 hues for classes."""
    if tag <= 0:
        return (0.3, 0.3, 0.3, 1.0) if tag < 0 else (0.85, 0.85, 0.85, 1.0)
    k = tag - 1
    return colormaps["tab20"]((2 * k) % 20 + (k // 10) % 2)


def _draw_image(ax: Axes, rgb: np.ndarray, boxes: Sequence[Box]) -> None:
    ax.imshow(rgb)
    for number, (y0, y1, x0, x1) in enumerate(boxes, start=1):
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white", linewidth=1.0))
        text = ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(number), ha="center", va="center", color="white",
                       fontsize=10, fontweight="bold")
        text.set_path_effects(_OUTLINE)
    ax.set_title("patches, numbered row by row", fontsize=9)
    ax.axis("off")


def _draw_scatter(ax: Axes, xy: np.ndarray, view: PatchView, class_names: Sequence[str], title: str) -> None:
    for tag in np.unique(view.tags):
        keep = view.tags == tag
        ax.scatter(xy[keep, 0], xy[keep, 1], s=140, marker="*", color=_tag_colour(int(tag)),
                   edgecolors="black", linewidths=0.4, label=_tag_name(int(tag), class_names))
    for number, (x, y) in enumerate(xy, start=1):
        ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.legend(fontsize=7, loc="best", title=f"tag ({view.tag_source})", title_fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _draw_similarity(fig: Figure, ax: Axes, view: PatchView) -> None:
    image = ax.imshow(view.similarity.T, cmap="viridis", vmin=-1.0, vmax=1.0, aspect="auto")
    count = view.similarity.shape[0]
    ax.set_xticks(np.arange(count), [str(i) for i in range(1, count + 1)], fontsize=7)
    ax.set_yticks(np.arange(len(view.prototype_names)), view.prototype_names, fontsize=7)
    ax.set_xlabel("patch", fontsize=8)
    ax.set_title("cosine similarity to class prototypes", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def patch_view_figure(rgb: np.ndarray, boxes: Sequence[Box], views: Mapping[str, PatchView],
                      class_names: Sequence[str], path: PathLike, projection: str = "pca",
                      seed: int = 0) -> Path:
    """Draw the image with its numbered grid beside each checkpoint's patch view; returns the PNG path.

    ``views`` maps a column title (e.g. ``SeCo``, ``baseline``) to that checkpoint's :class:`PatchView`.
    """
    if not views:
        raise ValueError("patch_view_figure needs at least one view")
    with_similarity = any(v.prototype_names for v in views.values())
    rows = 2 if with_similarity else 1
    fig = Figure(figsize=(4.5 * (1 + len(views)), 4.2 * rows))
    grid = fig.add_gridspec(rows, 1 + len(views))
    _draw_image(fig.add_subplot(grid[:, 0]), rgb, boxes)
    for column, (title, view) in enumerate(views.items(), start=1):
        xy = project_2d(view.embeddings, projection, seed)
        _draw_scatter(fig.add_subplot(grid[0, column]), xy, view, class_names,
                      f"{title}\npatch embeddings q ({projection.upper()})")
        if view.prototype_names:
            _draw_similarity(fig, fig.add_subplot(grid[1, column]), view)
    fig.tight_layout()
    return save_figure(fig, path)
