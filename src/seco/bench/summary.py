"""Mean and standard deviation over seeds of the numbers a benchmark reports, and their tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seco.report.comparison import context_classes, context_ratio

__all__ = ["context_classes", "context_ratio", "format_markdown", "mean_std", "summarise"]

BLOCKS = ("cam", "mask", "seg")


def mean_std(values: Sequence[float | None]) -> dict[str, float | None]:
    """``{"mean", "std", "n"}`` of the values that are known; the std is the sample std (n - 1), 0 for one value."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(known, ddof=1)) if len(known) > 1 else 0.0
    return {"mean": float(np.mean(known)), "std": std, "n": len(known)}


def summarise(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over runs (seeds) of mIoU, the context classes' FP/TP, per-class FP/TP and the pair rows."""
    classes = context_classes(docs[0])
    blocks = [b for b in BLOCKS if all(b in d["results"] for d in docs)]
    names = docs[0]["results"][blocks[0]]["class_names"][1:]
    summary: dict[str, Any] = {
        "runs": len(docs),
        "seeds": [d.get("meta", {}).get("seed") for d in docs],
        "train_seconds": mean_std([d.get("meta", {}).get("train_seconds") for d in docs]),
        "context_classes": classes,
        "miou": {b: mean_std([d["results"][b]["miou"] for d in docs]) for b in blocks},
        "recall": {b: mean_std([d["results"][b]["mean_recall"] for d in docs]) for b in blocks},
        "precision": {b: mean_std([d["results"][b]["mean_precision"] for d in docs]) for b in blocks},
        "context_fp_tp": {b: mean_std([context_ratio(d, b, classes) for d in docs]) for b in blocks},
        "per_class_fp_tp": {b: {c: mean_std([d["results"][b]["per_class"][c]["fp_tp"] for d in docs])
                                for c in names} for b in blocks},
        "per_class_iou": {b: {c: mean_std([d["results"][b]["per_class"][c]["iou"] for d in docs])
                              for c in names} for b in blocks},
        "pairs": {},
    }
    for b in blocks:
        rows = [d.get("cooccurrence", {}).get(b, []) for d in docs]
        labels = [r["label"] for r in rows[0]]
        summary["pairs"][b] = {
            label: {key: mean_std([run[i][key] for run in rows]) for key in ("iou", "fp_tp")}
            for i, label in enumerate(labels)
        }
    return summary


def _cell(stat: dict[str, float | None], scale: float = 1.0, digits: int = 1) -> str:
    if stat["mean"] is None:
        return "-"
    if stat["n"] > 1:
        return f"{scale * stat['mean']:.{digits}f} ± {scale * stat['std']:.{digits}f}"
    return f"{scale * stat['mean']:.{digits}f}"


def format_markdown(summaries: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """Markdown tables: the main table (mIoU, context FP/TP, time), per-class FP/TP and the pair rows (CAM)."""
    first = next(iter(summaries.values()))
    contexts = "/".join(first["context_classes"])
    lines = [f"| variant | CAM mIoU | mask mIoU | seg mIoU | CAM FP/TP ({contexts}) | mask FP/TP ({contexts}) "
             "| runs | train s / run |", "|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        miou = s["miou"]
        seg = _cell(miou["seg"], 100) if "seg" in miou and name != "baseline" else "-"
        lines.append(f"| {labels.get(name, name)} | {_cell(miou['cam'], 100)} | {_cell(miou['mask'], 100)} | {seg} "
                     f"| {_cell(s['context_fp_tp']['cam'], digits=2)} | {_cell(s['context_fp_tp']['mask'], digits=2)} "
                     f"| {s['runs']} | {_cell(s['train_seconds'], digits=0)} |")
    classes = list(first["per_class_fp_tp"]["cam"])
    lines += ["", "CAM FP/TP per class (mean ± std over seeds):", "",
              "| variant | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for name, s in summaries.items():
        cells = [_cell(s["per_class_fp_tp"]["cam"][c], digits=2) for c in classes]
        lines.append(f"| {labels.get(name, name)} | " + " | ".join(cells) + " |")
    pairs = list(first["pairs"]["cam"])
    lines += ["", "CAM IoU % (FP/TP) of the co-occurring pairs (paper Table 3):", "",
              "| variant | " + " | ".join(pairs) + " |", "|---" * (len(pairs) + 1) + "|"]
    for name, s in summaries.items():
        cells = [f"{_cell(s['pairs']['cam'][p]['iou'], 100)} ({_cell(s['pairs']['cam'][p]['fp_tp'], digits=2)})"
                 for p in pairs]
        lines.append(f"| {labels.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + _diagnostics_table(summaries, labels)) + "\n"


DIAGNOSTICS = {"stats/tag_agreement_gt": "tags = GT tags", "stats/tag_class_precision": "class tags = GT class",
               "stats/rectified": "rectified",
               "stats/prototype_similarity": "prototype cos", "reservoir/background": "reservoir background"}


def _diagnostics_table(summaries: dict[str, dict[str, Any]], labels: dict[str, str]) -> list[str]:
    """The contrast diagnostics (means over training, mean ± std over seeds) of the variants that log them."""
    rows = {name: s["diagnostics"] for name, s in summaries.items() if s.get("diagnostics")}
    if not rows:
        return []
    missing = {"mean": None, "std": None, "n": 0}
    lines = ["", "Contrast diagnostics, mean over training (seco.report.diagnostics):", "",
             "| variant | " + " | ".join(DIAGNOSTICS.values()) + " |", "|---" * (len(DIAGNOSTICS) + 1) + "|"]
    for name, stats in rows.items():
        cells = [_cell(stats.get(tag, missing), digits=2) for tag in DIAGNOSTICS]
        lines.append(f"| {labels.get(name, name)} | " + " | ".join(cells) + " |")
    return lines
