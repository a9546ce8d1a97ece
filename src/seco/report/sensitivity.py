"""The hyper-parameter sensitivity figure (paper Fig. 4): mIoU and context FP/TP against each swept value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from seco.atomic import atomic_write

__all__ = ["sensitivity_plot"]


def sensitivity_plot(results: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path:
    """One panel per swept parameter: CAM and mask mIoU (%, left axis) and the context classes' CAM FP/TP
    (right axis) at each value; the legend sits below the panels so it covers no data."""
    fig = Figure(figsize=(4.2 * len(results), 3.8))
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    handles = []
    for ax, (name, points) in zip(axes, results.items()):
        x = [p["value"] for p in points]
        handles = [
            ax.plot(x, [100 * (p["miou_cam"] or 0) for p in points], "o-", color="tab:blue", label="CAM mIoU")[0],
            ax.plot(x, [100 * (p["miou_mask"] or 0) for p in points], "s-", color="tab:green",
                    label="mask mIoU")[0],
        ]
        ratio_ax = ax.twinx()
        handles.append(ratio_ax.plot(x, [p["context_fp_tp_cam"] or 0 for p in points], "^--", color="tab:red",
                                     label="CAM FP/TP, context classes")[0])
        ax.set_xlabel(name)
        ax.set_ylabel("mIoU (%)")
        ratio_ax.set_ylabel("FP/TP")
        ax.set_title(f"sensitivity to {name}")
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=100))
