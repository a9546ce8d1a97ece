"""Everything a finished evaluation leaves in its folder.

metrics.json and report.md (same numbers), a grid of CAM overlays, per-class
IoU bars, confusion-ratio bars, the prototype similarity heatmap (paper
Fig. 5 right) and a t-SNE of the class tokens of single-label images (Fig. 5
left).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from seco.data import voc_palette
from seco.evaluation.evaluate import Evaluation
from seco.evaluation.trained import Trained
from seco.report.plots import (
    cam_grid,
    confusion_ratio_bars,
    per_class_iou_bars,
    prototype_similarity_heatmap,
    tsne_embeddings,
)
from seco.report.report import write_report
from seco.report.tables import BLOCK_TITLES, cam_inference_line, format_console_table, split_label

__all__ = ["OVERLAYS", "console_tables", "write_run_report"]

OVERLAYS = Path("figures") / "cam_overlays.png"
"""Where :func:`write_run_report` puts the CAM overlay grid, inside its ``out_dir``."""


def write_run_report(trained: Trained, evaluation: Evaluation, out_dir: Path) -> str:
    """Write the report files into ``out_dir``; return the console table to print.

    Each figure's title is its heading in report.md, and both name the
    images the numbers come from ("val, first 20 of 445 images").
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = out_dir / "figures"
    doc = evaluation.document
    label = split_label(doc)
    figures: dict[str, Path] = {}
    if evaluation.samples:
        title = f"CAM overlays ({label})"
        figures[title] = cam_grid(evaluation.samples, trained.class_names, voc_palette(256),
                                  out_dir / OVERLAYS, title=title)
    for block, metrics in doc["results"].items():
        title = f"Per-class IoU, {BLOCK_TITLES.get(block, block)} ({label})"
        figures[title] = per_class_iou_bars(metrics, figures_dir / f"iou_{block}.png", title=title)
    title = f"Confusion ratio FP/TP, lower is better ({label})"
    figures[title] = confusion_ratio_bars(doc["results"], figures_dir / "confusion_ratio.png", title=title)
    if len(trained.prototypes) >= 2:
        names = list(trained.prototypes)
        matrix = torch.stack([trained.prototypes[n] for n in names]).float().numpy()
        title = f"Prototype cosine similarity (iteration {trained.iteration})"
        figures[title] = prototype_similarity_heatmap(matrix, names, figures_dir / "prototype_similarity.png",
                                                      title=title)
    classes_seen = {c for c, _ in evaluation.embeddings}
    if len(evaluation.embeddings) >= 5 and len(classes_seen) >= 2:
        ids = np.array([c for c, _ in evaluation.embeddings])
        z = torch.stack([e for _, e in evaluation.embeddings]).float().numpy()
        title = f"t-SNE of class tokens of single-label images ({label})"
        figures[title] = tsne_embeddings(z, ids, trained.class_names, figures_dir / "tsne.png",
                                         seed=trained.cfg.seed, title=title)
    write_report(out_dir, doc, figures)
    return console_tables(doc) + f"\nreport: {out_dir / 'report.md'}"


def console_tables(doc: dict[str, Any]) -> str:
    """A metrics document as the terminal shows it: the CAM inference, then one table per output."""
    label = split_label(doc)
    cooccurrence = doc.get("cooccurrence", {})
    inference = cam_inference_line(doc)
    tables = [inference + "\n"] if inference else []
    tables += [
        format_console_table(metrics, BLOCK_TITLES.get(block, block), label, cooccurrence.get(block))
        for block, metrics in doc["results"].items()
    ]
    return "\n".join(tables)
