"""The CAMs of two runs side by side on images with a co-occurring context (paper Fig. 4).

One row per image: the image, its ground truth, then each run's CAM of one
class of the image (boat, train, ...) on one colour scale shared by every
CAM panel. The context the class co-occurs with (water, rails, a partner
class) is outlined with a dashed line and the object's ground truth with a
solid one, so a false activation on the context shows as colour inside the
dashed outline. Each CAM panel says its mean score on the object and on the
context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from seco.report.plots import CAM_ALPHA, CAM_CMAP, class_legend, colorize

__all__ = ["ContextRow", "side_by_side_figure"]

CONTEXT_STYLE = {"colors": "white", "linestyles": "--", "linewidths": 1.6}
OBJECT_STYLE = {"colors": "magenta", "linestyles": "-", "linewidths": 1.6}


@dataclass
class ContextRow:
    """One image of the figure.

    ``class_id`` is the class whose CAMs are drawn, ``context`` the HxW bool
    map of where its context (``context_name``) lies, ``cams`` each run's
    HxW CAM of the class in [0, 1], by run name, in column order.
    """

    name: str
    image: np.ndarray
    gt: np.ndarray
    class_id: int
    context_name: str
    context: np.ndarray
    cams: Mapping[str, np.ndarray]


def _outline(ax: Axes, region: np.ndarray, style: Mapping[str, object]) -> None:
    """A contour around the pixels of ``region`` (nothing when it is empty)."""
    if region.any():
        ax.contour(region.astype(float), levels=[0.5], **style)


def _mean_on(cam: np.ndarray, region: np.ndarray) -> str:
    return f"{cam[region].mean():.2f}" if region.any() else "n/a"


def side_by_side_figure(rows: Sequence[ContextRow], class_names: Sequence[str], palette: np.ndarray,
                        title: str = "") -> Figure:
    """``rows`` drawn as image | ground truth | one CAM per run (write it with :func:`save_figure`)."""
    if not rows:
        raise ValueError("side_by_side_figure needs at least one row")
    runs = list(rows[0].cams)
    cols = 2 + len(runs)
    fig = Figure(figsize=(2.6 * cols + 1.2, 2.75 * len(rows) + 1.2), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for row, ax_row in zip(rows, axes):
        target = class_names[row.class_id]
        obj = row.gt == row.class_id
        ax_row[0].imshow(row.image)
        unmarked = "" if row.context.any() else "\n(context not annotated)"
        ax_row[0].set_title(f"{target} with {row.context_name}{unmarked}", fontsize=10, fontweight="bold")
        ax_row[0].text(0.02, 0.02, row.name, transform=ax_row[0].transAxes, fontsize=7, color="white",
                       bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
        ax_row[1].imshow(colorize(row.gt, palette), interpolation="nearest")
        ax_row[1].set_title("ground truth", fontsize=10)
        _outline(ax_row[1], row.context, CONTEXT_STYLE)
        for ax, run in zip(ax_row[2:], runs):
            cam = np.asarray(row.cams[run], dtype=np.float64)
            ax.imshow(row.image)
            ax.imshow(cam, cmap=CAM_CMAP, alpha=CAM_ALPHA, vmin=0.0, vmax=1.0)
            _outline(ax, row.context, CONTEXT_STYLE)
            _outline(ax, obj, OBJECT_STYLE)
            ax.set_title(f"{run}: CAM of {target}", fontsize=10)
            ax.set_xlabel(f"mean on {target} {_mean_on(cam, obj)}, on {row.context_name} "
                          f"{_mean_on(cam, row.context)}", fontsize=8)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
    scale = ScalarMappable(Normalize(0.0, 1.0), colormaps[CAM_CMAP])
    fig.colorbar(scale, ax=axes[:, 2:].ravel().tolist(), label="CAM score (one scale for every CAM)", shrink=0.7,
                 location="right")
    lines = [Line2D([], [], color="grey", linestyle="--", linewidth=1.6, label="context (dashed, white)"),
             Line2D([], [], color=OBJECT_STYLE["colors"], linewidth=1.6, label="the class, ground truth")]
    class_legend(fig, [r.gt for r in rows], class_names, palette, ncol=6, extra=lines)
    if title:
        fig.suptitle(title)
    return fig
