"""The side-by-side table (paper Table 3) and the one-run sentence, from hand-made confusion matrices."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from seco.evaluation.metrics import cooccurrence_table, segmentation_metrics
from seco.report.comparison import (
    comparison_console,
    comparison_markdown,
    comparison_table,
    context_ratio,
    one_run_sentence,
)
from seco.report.report import compare_runs, write_report

NAMES = ["background", "boat", "rider", "horse"]
PAIRS = [("boat", "water"), ("rider", "horse"), ("horse", "rider")]


def document(cam: list[list[int]], mask: list[list[int]], seg: bool = False, seed: int = 0) -> dict:
    """A metrics document of CAM and mask blocks (and a seg block equal to the mask one, when ``seg``)."""
    blocks = {"cam": segmentation_metrics(np.array(cam), NAMES), "mask": segmentation_metrics(np.array(mask), NAMES)}
    if seg:
        blocks["seg"] = blocks["mask"]
    return {"split": "val", "results": blocks, "meta": {"seed": seed},
            "cooccurrence": {b: cooccurrence_table(m, PAIRS) for b, m in blocks.items()}}


# rows = ground truth, columns = prediction; boat's FP lie on background (its water)
BASE = document(cam=[[60, 30, 5, 5], [2, 8, 0, 0], [0, 0, 6, 4], [0, 0, 2, 8]],
                mask=[[80, 15, 3, 2], [1, 9, 0, 0], [0, 0, 7, 3], [0, 0, 1, 9]])
SECO = document(cam=[[88, 6, 3, 3], [2, 8, 0, 0], [0, 0, 8, 2], [0, 0, 1, 9]],
                mask=[[92, 4, 2, 2], [1, 9, 0, 0], [0, 0, 9, 1], [0, 0, 0, 10]], seg=True, seed=3)
RUNS = {"baseline": BASE, "SeCo": SECO}


def test_the_table_has_a_column_per_output_and_run_and_the_papers_rows() -> None:
    header, rows = comparison_table(RUNS)
    assert header == ["", "CAM: baseline", "CAM: SeCo", "mask: baseline", "mask: SeCo"]  # seg: SeCo only
    by_label = {row[0]: row[1:] for row in rows}
    assert list(by_label) == ["mIoU (%)", "mean FP/TP of boat", "boat w/(water)", "rider w/(horse)", "horse w/(rider)"]
    docs = [BASE["results"]["cam"], SECO["results"]["cam"], BASE["results"]["mask"], SECO["results"]["mask"]]
    assert by_label["mIoU (%)"] == [f"{100 * d['miou']:.1f}" for d in docs]
    # boat in the baseline's CAM, by hand: TP 8, FP 30 (background predicted boat), FN 2: IoU 8 / 40, FP/TP 30 / 8
    assert by_label["boat w/(water)"][0] == "20.0 (3.75)"
    assert by_label["mean FP/TP of boat"][:2] == [f"{30 / 8:.2f}", f"{6 / 8:.2f}"]
    rider = SECO["results"]["mask"]["per_class"]["rider"]
    assert by_label["rider w/(horse)"][3] == f"{100 * rider['iou']:.1f} ({rider['fp_tp']:.2f})"


def test_markdown_and_console_show_the_same_cells() -> None:
    markdown, console = comparison_markdown(RUNS), comparison_console(RUNS)
    for row in comparison_table(RUNS)[1]:
        assert "| " + " | ".join(row) + " |" in markdown
        assert re.search(r"\s+".join(re.escape(cell) for cell in row), console), row
    assert "paper Table 3" in markdown and "paper Table 3" in console


def test_the_sentence_takes_its_numbers_and_their_direction_from_the_runs() -> None:
    before, after = context_ratio(BASE, "cam", ["boat"]), context_ratio(SECO, "cam", ["boat"])
    text = one_run_sentence("CAM baseline", BASE, "SeCo", SECO)
    masks = [100 * d["results"]["mask"]["miou"] for d in (BASE, SECO)]
    assert text.startswith("This one run (seed 3) shows SeCo lowering the CAM FP/TP of boat")
    assert f"from {before:.2f} to {after:.2f} ({100 * (after / before - 1):+.0f} %)" in text
    assert f"raising pseudo-mask mIoU from {masks[0]:.1f} to {masks[1]:.1f} %" in text
    assert "against the CAM baseline" in text and "docs/results.md" in text
    swapped = one_run_sentence("SeCo", SECO, "CAM baseline", BASE)
    assert "raising the CAM FP/TP" in swapped and "lowering pseudo-mask mIoU" in swapped
    assert "leaving pseudo-mask mIoU at" in one_run_sentence("CAM baseline", BASE, "SeCo", BASE)


def test_compare_opens_with_the_figure_then_the_note_then_the_table(tmp_path: Path) -> None:
    for name, doc in RUNS.items():
        write_report(tmp_path / name, doc, {})
    figure = tmp_path / "out" / "side_by_side.png"
    figure.parent.mkdir()
    figure.write_bytes(b"\x89PNG\r\n\x1a\n")
    report = compare_runs([tmp_path / "baseline", tmp_path / "SeCo"], tmp_path / "out", figure=figure,
                          note="One sentence.", file_name="report.md")
    text = report.read_text()
    order = [text.index(part) for part in ("![CAMs side by side](side_by_side.png)", "One sentence.",
                                           "| mIoU (%) |", "## CAM (split: val)", "## Pseudo-label mask (split: val)")]
    assert order == sorted(order)
    assert "## Segmentation" not in text  # the baseline has no seg block
    assert comparison_markdown(RUNS).strip() in text
