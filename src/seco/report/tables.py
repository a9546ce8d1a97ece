"""Metrics as Markdown and console tables, and the writer of metrics.json.

Every heading states the split the numbers come from: the paper's CAM and
mask numbers are on the *train* split and its segmentation numbers on *val*,
and mixing them up is the most common reproduction mistake.

Number formats: IoU, precision and recall in % with one decimal; FP/TP as a
plain ratio with two decimals; ``inf`` for an infinite ratio (TP = 0, FP > 0)
and ``n/a`` for an undefined value (0/0). The results document is described
in :mod:`seco.report.report`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from seco.atomic import atomic_write

__all__ = [
    "cam_inference_line",
    "fixed_width_table",
    "format_console_table",
    "iou_ratio_cell",
    "markdown_table",
    "metrics_markdown",
    "percent",
    "ratio",
    "results_markdown",
    "score_cell",
    "split_label",
    "validate_results",
    "write_metrics",
]

BLOCK_TITLES = {
    "cam": "CAM",
    "cam_crf": "CAM + CRF",
    "mask": "Pseudo-label mask",
    "seg": "Segmentation",
    "seg_crf": "Segmentation + CRF",
}

Table = tuple[list[str], list[list[str]]]


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal, ``n/a`` for None."""
    return "n/a" if value is None else f"{100.0 * value:.1f}"


def ratio(value: float | None, infinite: bool = False) -> str:
    """A confusion ratio with two decimals, ``inf`` or ``n/a``."""
    if infinite:
        return "inf"
    return "n/a" if value is None else f"{value:.2f}"


def iou_ratio_cell(iou: float | None, fp_tp: float | None, infinite: bool) -> str:
    """The paper's Table 3 cell: ``IoU% (FP/TP)``, e.g. ``68.4 (0.32)``."""
    return f"{percent(iou)} ({ratio(fp_tp, infinite)})"


def score_cell(entry: Mapping[str, Any]) -> str:
    """:func:`iou_ratio_cell` of a per-class entry or a co-occurrence row."""
    return iou_ratio_cell(entry["iou"], entry["fp_tp"], entry["fp_tp_infinite"])


def split_label(results: Mapping[str, Any]) -> str:
    """What the numbers of a results document come from: ``val``, or ``val, first 20 of 445 images``
    when the evaluation stopped early (its ``subset``)."""
    subset = results.get("subset")
    if subset:
        return f"{results['split']}, first {subset['first']} of {subset['of']} images"
    return results["split"]


def cam_inference_line(results: Mapping[str, Any]) -> str | None:
    """How the CAM and mask blocks were inferred (the document's ``cam_inference``), or None when not recorded:
    ``CAM inference: scales 1, 0.5, 0.75, 1.5 with flips, background score 0.45``."""
    inference = results.get("cam_inference")
    if not inference:
        return None
    scales = ", ".join(f"{s:g}" for s in inference["scales"])
    flips = "with flips" if inference["flip"] else "without flips"
    return f"CAM inference: scales {scales} {flips}, background score {inference['bkg_thr']:g}"


def _class_table(metrics: Mapping[str, Any]) -> Table:
    header = ["class", "IoU (%)", "precision (%)", "recall (%)", "FP/TP"]
    rows = [
        [name, percent(s["iou"]), percent(s["precision"]), percent(s["recall"]), ratio(s["fp_tp"], s["fp_tp_infinite"])]
        for name, s in metrics["per_class"].items()
    ]
    return header, rows


def _cooccurrence_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    header = ["pair", "IoU (FP/TP)", "FP on context (%)"]
    return header, [[r["label"], score_cell(r), percent(r["context_fp_fraction"])] for r in rows]


def _summary_lines(metrics: Mapping[str, Any], split: str) -> list[str]:
    infinite = metrics["confusion_ratio_infinite"]
    left_out = f" (left out as infinite, TP = 0: {', '.join(infinite)})" if infinite else ""
    pooled = ratio(metrics["confusion_ratio_fg_pooled"], metrics["confusion_ratio_fg_pooled_infinite"])
    return [
        f"mIoU ({split}): {percent(metrics['miou'])} % over {metrics['miou_classes']} of "
        f"{len(metrics['class_names'])} classes (classes absent from both GT and prediction are left out)",
        f"pixel accuracy: {percent(metrics['pixel_accuracy'])} %",
        f"mean precision: {percent(metrics['mean_precision'])} %, mean recall: {percent(metrics['mean_recall'])} %",
        f"confusion ratio, mean of per-class FP/TP (all categories): "
        f"{ratio(metrics['confusion_ratio_mean'])}{left_out}",
        f"confusion ratio, total FP / total TP over foreground: {pooled}",
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, first column left-aligned and the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fixed_width_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table as aligned text for a terminal, first column left-aligned and the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, rest = cells[0].ljust(widths[0]), [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def metrics_markdown(
    metrics: Mapping[str, Any], title: str, split: str, cooccurrence_rows: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """One result block as Markdown: per-class table, summary bullets, co-occurrence table."""
    parts = [
        f"### {title} (split: {split})",
        markdown_table(*_class_table(metrics)),
        "\n".join(f"- {line}" for line in _summary_lines(metrics, split)),
    ]
    if cooccurrence_rows:
        parts += [
            f"#### Co-occurring pairs, {title} (split: {split})",
            markdown_table(*_cooccurrence_table(cooccurrence_rows)),
        ]
    return "\n\n".join(parts) + "\n"


def format_console_table(
    metrics: Mapping[str, Any], title: str, split: str, cooccurrence_rows: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """The content of :func:`metrics_markdown` as fixed-width text for a terminal."""
    heading = f"{title} (split: {split})"
    parts = [
        f"{heading}\n{'=' * len(heading)}",
        fixed_width_table(*_class_table(metrics)),
        "\n".join(_summary_lines(metrics, split)),
    ]
    if cooccurrence_rows:
        parts += ["co-occurring pairs:\n" + fixed_width_table(*_cooccurrence_table(cooccurrence_rows))]
    return "\n\n".join(parts) + "\n"


def validate_results(results: Mapping[str, Any]) -> None:
    """Check the shape of a results document; raises ValueError naming the fault."""
    if not isinstance(results.get("split"), str) or not results["split"]:
        raise ValueError("results need a non-empty 'split' string (e.g. 'train' or 'val')")
    blocks = results.get("results")
    if not isinstance(blocks, Mapping) or not blocks:
        raise ValueError("results need a non-empty 'results' mapping of named metric blocks")
    for name, block in blocks.items():
        if not isinstance(block, Mapping) or "per_class" not in block or "miou" not in block:
            raise ValueError(f"result block {name!r} is not a segmentation_metrics() dict")
    extra = sorted(set(results.get("cooccurrence", {})) - set(blocks))
    if extra:
        raise ValueError(f"co-occurrence rows for unknown result blocks: {extra}")
    subset = results.get("subset")
    if subset is not None and not (isinstance(subset, Mapping) and {"first", "of"} <= set(subset)):
        raise ValueError("'subset' must be {'first': N, 'of': total}, the images a limited evaluation saw")


def results_markdown(results: Mapping[str, Any]) -> str:
    """The whole results document as Markdown, one section per result block."""
    validate_results(results)
    split = split_label(results)
    cooccurrence = results.get("cooccurrence", {})
    sections = [f"# Evaluation results (split: {split})\n"]
    inference = cam_inference_line(results)
    if inference:
        sections.append(inference + "\n")
    sections += [
        metrics_markdown(block, BLOCK_TITLES.get(name, name), split, cooccurrence.get(name))
        for name, block in results["results"].items()
    ]
    return "\n".join(sections)


def write_metrics(
    path_json: str | os.PathLike[str],
    path_md: str | os.PathLike[str],
    results: Mapping[str, Any],
    extra_markdown: str = "",
) -> None:
    """Write a results document as strict JSON and as Markdown, both from ``results``.

    ``extra_markdown`` is appended to the Markdown (e.g. a figures section).
    NaN or inf anywhere in ``results`` raises ValueError: strict JSON has none.
    """
    text = json.dumps(results, indent=2, allow_nan=False) + "\n"
    markdown = results_markdown(results)
    atomic_write(path_json, text)
    atomic_write(path_md, markdown + (f"\n{extra_markdown}" if extra_markdown else ""))
