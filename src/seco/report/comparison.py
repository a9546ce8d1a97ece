"""Runs side by side as the paper's Table 3: mIoU, and the IoU (FP/TP) of the context and pair classes.

The table reads metrics documents only (:mod:`seco.report.report`
describes them): one column per output and run, one row per co-occurring
pair of the data set, plus the mIoU and the mean CAM confusion ratio FP/TP of
the classes whose context is unlabeled background (boat on water, train on
rails, plane in sky). ``seco compare`` and ``seco demo`` put it at the top of
their report, under the side-by-side CAM figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seco.report.tables import Table, fixed_width_table, markdown_table, percent, ratio, score_cell, split_label

__all__ = [
    "compared_blocks",
    "comparison_console",
    "comparison_markdown",
    "comparison_table",
    "context_classes",
    "context_ratio",
    "one_run_sentence",
]

SHORT = {"cam": "CAM", "mask": "mask", "seg": "seg"}
Docs = Mapping[str, Mapping[str, Any]]


def context_classes(doc: Mapping[str, Any]) -> list[str]:
    """Classes paired with an unlabeled context (water, rails, sky) in a metrics document."""
    names = doc["results"]["cam"]["class_names"]
    rows = doc.get("cooccurrence", {}).get("cam", [])
    return [r["class"] for r in rows if r["context"] not in names]


def context_ratio(doc: Mapping[str, Any], block: str, classes: Sequence[str]) -> float | None:
    """Mean FP/TP of the context classes in one run (None when one of them has no TP)."""
    per_class = doc["results"][block]["per_class"]
    ratios = [per_class[c]["fp_tp"] for c in classes]
    return None if any(r is None for r in ratios) else float(np.mean(ratios))


def compared_blocks(runs: Docs) -> list[str]:
    """The outputs the table shows: CAM and mask where every run has them, else every block they share."""
    shared = [b for b in next(iter(runs.values()))["results"] if all(b in d["results"] for d in runs.values())]
    return [b for b in ("cam", "mask") if b in shared] or shared


def comparison_table(runs: Docs) -> Table:
    """Header and rows: ``mIoU``, the context classes' mean FP/TP, then one ``IoU % (FP/TP)`` row per pair.

    Columns: each output of :func:`compared_blocks`, for each run in order.
    """
    blocks = compared_blocks(runs)
    docs = list(runs.values())
    header = ["", *(f"{SHORT.get(b, b)}: {name}" for b in blocks for name in runs)]
    cells = [(b, d) for b in blocks for d in docs]
    rows = [["mIoU (%)", *(percent(d["results"][b]["miou"]) for b, d in cells)]]
    classes = context_classes(docs[0]) if "cam" in docs[0]["results"] else []
    if classes:
        rows.append([f"mean FP/TP of {', '.join(classes)}",
                     *(ratio(context_ratio(d, b, classes)) for b, d in cells)])
    pairs = [r["label"] for r in docs[0].get("cooccurrence", {}).get(blocks[0], [])]
    for label in pairs:
        row = [label]
        for block, doc in cells:
            found = [r for r in doc.get("cooccurrence", {}).get(block, []) if r["label"] == label]
            row.append(score_cell(found[0]) if found else "-")
        rows.append(row)
    return header, rows


def _caption(runs: Docs) -> str:
    return (f"Split {split_label(next(iter(runs.values())))}. Pair rows: the class's IoU % and, in brackets, its "
            "confusion ratio FP/TP, as in paper Table 3 (lower is better).")


def comparison_markdown(runs: Docs) -> str:
    """:func:`comparison_table` as Markdown with its caption."""
    return f"{markdown_table(*comparison_table(runs))}\n\n{_caption(runs)}\n"


def comparison_console(runs: Docs) -> str:
    """:func:`comparison_table` as fixed-width text with its caption."""
    return f"{fixed_width_table(*comparison_table(runs))}\n{_caption(runs)}\n"


def _change(what: str, before: float, after: float, unit: str, digits: int) -> str:
    """``lowering X from 1.20 to 0.80`` / ``raising ...`` / ``leaving X at ...``, numbers with ``digits`` decimals."""
    a, b = f"{before:.{digits}f}", f"{after:.{digits}f}"
    if a == b:
        return f"leaving {what} at {a}{unit}"
    return f"{'raising' if after > before else 'lowering'} {what} from {a} to {b}{unit}"


def one_run_sentence(base_name: str, base: Mapping[str, Any], other_name: str, other: Mapping[str, Any]) -> str:
    """What one run of each shows, from their own numbers, and what one run cannot show.

    Reads the CAM FP/TP of the context classes and the pseudo-mask mIoU of
    both documents (``mask`` block; ``cam`` when there is none) and the seed
    in ``other``'s ``meta``.
    """
    changes = []
    classes = context_classes(base)
    before, after = context_ratio(base, "cam", classes), context_ratio(other, "cam", classes)
    if classes and before is not None and after is not None:
        share = f" ({100 * (after / before - 1):+.0f} %)" if before > 0 else ""
        changes.append(_change(f"the CAM FP/TP of {', '.join(classes)}", before, after, "", 2) + share)
    block = "mask" if "mask" in base["results"] and "mask" in other["results"] else "cam"
    what = "pseudo-mask mIoU" if block == "mask" else "CAM mIoU"
    changes.append(_change(what, 100 * base["results"][block]["miou"], 100 * other["results"][block]["miou"],
                           " %", 1))
    seed = other.get("meta", {}).get("seed")
    run = f"This one run (seed {seed})" if seed is not None else "This one run"
    return (f"{run} shows {other_name} {' and '.join(changes)} against the {base_name} from the same start; "
            "one seed cannot tell that from the spread between seeds, which `seco bench ablation --seeds 5` "
            "measures (docs/results.md holds its table for the synthetic config).")
