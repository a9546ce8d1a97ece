"""Markdown/console tables state the split and print the metrics' numbers; writes are atomic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from seco.evaluation.metrics import cooccurrence_table, segmentation_metrics
from seco.report.tables import (
    cam_inference_line,
    format_console_table,
    metrics_markdown,
    results_markdown,
    validate_results,
    write_metrics,
)

NAMES = ["background", "boat", "horse", "cat"]
MATRIX = np.array([[50, 10, 0, 0], [5, 20, 5, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


@pytest.fixture()
def metrics() -> dict:
    return segmentation_metrics(MATRIX, NAMES)


def test_markdown_states_split_and_numbers(metrics: dict) -> None:
    rows = cooccurrence_table(metrics, [("boat", "water")])
    md = metrics_markdown(metrics, "Segmentation", "val", rows)
    assert md.startswith("### Segmentation (split: val)")
    assert "| boat | 50.0 | 66.7 | 66.7 | 0.50 |" in md
    assert "| background | 76.9 | 90.9 | 83.3 | 0.10 |" in md
    assert "| horse | 0.0 | 0.0 | n/a | inf |" in md
    assert "| cat | n/a | n/a | n/a | n/a |" in md
    assert f"mIoU (val): {100 * metrics['miou']:.1f} % over 3 of 4 classes" in md
    assert "(left out as infinite, TP = 0: horse)" in md
    assert "Co-occurring pairs, Segmentation (split: val)" in md
    assert "| boat w/(water) | 50.0 (0.50) | n/a |" in md


def test_console_table_has_the_same_content(metrics: dict) -> None:
    text = format_console_table(metrics, "CAM", "train")
    assert text.splitlines()[0] == "CAM (split: train)"
    boat = next(line for line in text.splitlines() if line.startswith("boat"))
    assert boat.split() == ["boat", "50.0", "66.7", "66.7", "0.50"]
    widths = {len(line) for line in text.splitlines()[3:9]}
    assert len(widths) == 1  # header, rule and rows share one fixed width


def test_write_metrics_writes_json_and_markdown(tmp_path: Path, metrics: dict) -> None:
    results = {"split": "val", "results": {"seg": metrics}, "cooccurrence": {"seg": cooccurrence_table(metrics, [])}}
    write_metrics(tmp_path / "out" / "metrics.json", tmp_path / "out" / "metrics.md", results, extra_markdown="## end")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == results
    md = (tmp_path / "out" / "metrics.md").read_text()
    assert md == results_markdown(results) + "\n## end"
    assert "# Evaluation results (split: val)" in md and "### Segmentation (split: val)" in md
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "metrics.md"]


def test_the_report_says_how_cams_were_inferred(metrics: dict) -> None:
    """A checkpoint written before ``eval.cam_scales`` existed scores at its training scale: the report says so."""
    plain = {"split": "val", "results": {"cam": metrics}}
    assert cam_inference_line(plain) is None
    assert "CAM inference" not in results_markdown(plain)
    paper = plain | {"cam_inference": {"scales": [1.0, 0.5, 0.75, 1.5], "flip": True, "bkg_thr": 0.45}}
    line = "CAM inference: scales 1, 0.5, 0.75, 1.5 with flips, background score 0.45"
    assert cam_inference_line(paper) == line
    assert results_markdown(paper).splitlines()[2] == line
    single = plain | {"cam_inference": {"scales": [1.0], "flip": False, "bkg_thr": 0.3}}
    assert cam_inference_line(single) == "CAM inference: scales 1 without flips, background score 0.3"


def test_nan_is_refused_and_nothing_is_written(tmp_path: Path, metrics: dict) -> None:
    bad = {"split": "val", "results": {"seg": metrics | {"miou": math.nan}}}
    with pytest.raises(ValueError):
        write_metrics(tmp_path / "m.json", tmp_path / "m.md", bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"results": {"seg": {}}}, "split"),
        ({"split": "val", "results": {}}, "non-empty 'results'"),
        ({"split": "val", "results": {"seg": {"miou": 0.1}}}, "'seg' is not"),
    ],
)
def test_validate_results_names_the_fault(results: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_results(results)


def test_validate_results_rejects_orphan_cooccurrence(metrics: dict) -> None:
    with pytest.raises(ValueError, match="unknown result blocks: \\['cam'\\]"):
        validate_results({"split": "val", "results": {"seg": metrics}, "cooccurrence": {"cam": []}})
