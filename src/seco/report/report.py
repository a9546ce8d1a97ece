"""Run reports (metrics.json + report.md) and cross-run comparisons.

The results document, written to ``<run_dir>/metrics.json`` and rendered
into ``report.md`` from the very same dict (so the two never disagree)::

    {
      "split": "val",                  # required: the split ALL blocks were computed on
      "results": {                     # required: named result blocks, in display order
        "cam":     {...},              # each block is a segmentation_metrics() dict:
        "cam_crf": {...},              #   class_names, background_index, num_pixels, miou,
        "mask":    {...},              #   miou_classes, pixel_accuracy, mean_precision,
        "seg":     {...},              #   mean_recall, confusion_ratio_mean,
        "seg_crf": {...}               #   confusion_ratio_infinite, confusion_ratio_fg_pooled,
      },                               #   confusion_ratio_fg_pooled_infinite,
                                       #   per_class {name: {iou, precision, recall, fp_tp,
                                       #   fp_tp_infinite, tp, fp, fn, gt_pixels, pred_pixels}},
                                       #   confusion_matrix (rows = GT, cols = prediction)
      "cooccurrence": {                # optional: cooccurrence_table() rows per result block
        "seg": [{"label": "boat w/(water)", "class": "boat", "context": "water", "iou": ...,
                 "fp_tp": ..., "fp_tp_infinite": ..., "context_fp_fraction": ...}]
      },
      "subset": {"first": 20, "of": 445},  # optional: a limited evaluation saw only the first 20 images
      "meta": {...}                    # optional, free-form (run name, checkpoint, iteration, ...)
    }

Block names are free; ``cam``, ``cam_crf``, ``mask``, ``seg`` and ``seg_crf``
get friendly titles. Scores are fractions in [0, 1]; undefined values are
``null`` and infinite confusion ratios are ``null`` with ``*_infinite: true``
(see :mod:`seco.evaluation.metrics`). One document holds one split: write the
train-split CAM/mask numbers and the val-split segmentation numbers to
separate run folders or files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seco.atomic import atomic_write
from seco.errors import SecoError
from seco.report.ceiling import ceiling_section
from seco.report.comparison import comparison_markdown
from seco.report.plots import confusion_ratio_bars
from seco.report.tables import (
    BLOCK_TITLES,
    iou_ratio_cell,
    markdown_table,
    ratio,
    score_cell,
    split_label,
    validate_results,
    write_metrics,
)

__all__ = ["CompareError", "compare_runs", "load_results", "run_names", "write_report"]


class CompareError(SecoError, ValueError):
    """Runs that cannot be compared (other images or splits, nothing shared); the message names them."""

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
COMPARISON_FILE = "comparison.md"
PathLike = str | os.PathLike[str]


def _figure_links(figures: Mapping[str, PathLike], base: Path) -> str:
    """A Markdown section embedding each figure by its path relative to ``base``."""
    lines = ["## Figures", ""]
    for name, fig_path in figures.items():
        if not Path(fig_path).is_file():
            raise FileNotFoundError(f"figure {name!r} not found: {fig_path}")
        rel = Path(os.path.relpath(Path(fig_path).resolve(), base.resolve())).as_posix()
        lines += [f"### {name}", "", f"![{name}]({rel})", ""]
    return "\n".join(lines)


def write_report(run_dir: PathLike, results: Mapping[str, Any], figures: Mapping[str, PathLike]) -> Path:
    """Write ``metrics.json`` and ``report.md`` (tables + figures) into ``run_dir``; returns report.md."""
    run_dir = Path(run_dir)
    report = run_dir / REPORT_FILE
    extra = _figure_links(figures, run_dir) if figures else ""
    write_metrics(run_dir / METRICS_FILE, report, results, extra_markdown=extra)
    return report


def load_results(run_dir: PathLike) -> dict[str, Any]:
    """Read and validate ``<run_dir>/metrics.json``."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_FILE} in run folder {run_dir}")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        validate_results(results)
    except ValueError as err:  # JSONDecodeError included
        raise CompareError(f"{path}: not a seco metrics file ({err})") from err
    return results


def run_names(run_dirs: Sequence[Path]) -> list[str]:
    """Folder names, or full paths when two folders share a name."""
    names = [d.name for d in run_dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in run_dirs]


def _comparison_section(
    title: str,
    blocks: Mapping[str, Mapping[str, Any]],
    cooccurrence: Mapping[str, Sequence[Mapping[str, Any]]],
    split: str,
    figure: str,
) -> str:
    """One result block compared across runs: per-class, all-categories and co-occurrence rows.

    ``blocks`` and ``cooccurrence`` map each run name to its metrics block and its co-occurrence rows.
    """
    cells = list(blocks.values())
    rows = [[name, *(score_cell(b["per_class"][name]) for b in cells)] for name in cells[0]["class_names"]]
    summary = [iou_ratio_cell(b["miou"], b["confusion_ratio_mean"], False) for b in cells]
    pooled = [ratio(b["confusion_ratio_fg_pooled"], b["confusion_ratio_fg_pooled_infinite"]) for b in cells]
    rows += [["**All categories: mIoU (mean FP/TP)**", *summary], ["foreground FP / TP, pooled", *pooled]]
    by_label = [{r["label"]: r for r in run_rows} for run_rows in cooccurrence.values()]
    for label in dict.fromkeys(label for table in by_label for label in table):
        rows.append([label, *(score_cell(t[label]) if label in t else "-" for t in by_label)])
    table = markdown_table(["class", *blocks], rows)
    return "\n".join(
        [f"## {title} (split: {split})", "", "Cells: IoU % (FP/TP).", "", table, "", f"![{title} FP/TP]({figure})", ""]
    )


def compare_runs(
    run_dirs: Sequence[PathLike],
    out_dir: PathLike,
    names: Sequence[str] | None = None,
    figure: PathLike | None = None,
    note: str = "",
    file_name: str = COMPARISON_FILE,
) -> Path:
    """Compare runs' metrics.json: the side-by-side table, then confusion-ratio bars and a table per shared block.

    All runs must be on the same images (comparing train CAMs to val
    segmentation, or a limited evaluation to a full one, is an error) and
    share class names. ``names`` titles the runs (default: their folder
    names). The Markdown opens with ``figure`` (the side-by-side CAMs of
    :mod:`seco.report.side_by_side`) when given, then ``note``, then
    :func:`~seco.report.comparison.comparison_markdown`. Writes
    ``confusion_ratio_<block>.png`` and ``file_name`` into ``out_dir``;
    returns the Markdown path. When full-supervision runs are among them,
    the weak runs are also reported as a fraction of their counterpart
    (:mod:`seco.report.ceiling`).
    """
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise CompareError("compare needs at least one run folder")
    runs = dict(zip(names or run_names(dirs), map(load_results, dirs)))
    splits = {name: split_label(r) for name, r in runs.items()}
    if len(set(splits.values())) > 1:
        raise CompareError(f"runs are on different splits or images, refusing to compare: {splits}")
    split = next(iter(splits.values()))
    shared = [b for b in next(iter(runs.values()))["results"] if all(b in r["results"] for r in runs.values())]
    if not shared:
        raise CompareError("the runs share no result block (cam, mask, seg)")
    out_dir = Path(out_dir)
    listed = ", ".join(f"{name} (`{d}`)" if name != d.name else f"`{d}`" for name, d in zip(runs, dirs))
    sections = [f"# Run comparison (split: {split})", "", f"Runs: {listed}", ""]
    if figure is not None:
        rel = Path(os.path.relpath(Path(figure).resolve(), out_dir.resolve())).as_posix()
        sections += ["## CAMs side by side (paper Fig. 4)", "", f"![CAMs side by side]({rel})", ""]
    if note:
        sections += [note, ""]
    sections += ["## Side by side (paper Table 3)", "", comparison_markdown(runs)]
    for block_name in shared:
        title = BLOCK_TITLES.get(block_name, block_name)
        blocks = {run: r["results"][block_name] for run, r in runs.items()}
        plot_title = f"{title} (split: {split})"  # the heading of its section
        figure_path = confusion_ratio_bars(blocks, out_dir / f"confusion_ratio_{block_name}.png", title=plot_title)
        cooccurrence = {run: r.get("cooccurrence", {}).get(block_name, []) for run, r in runs.items()}
        sections.append(_comparison_section(title, blocks, cooccurrence, split, figure_path.name))
    ceiling = ceiling_section(runs)
    if ceiling:
        sections.append(ceiling)
    return atomic_write(out_dir / file_name, "\n".join(sections))
