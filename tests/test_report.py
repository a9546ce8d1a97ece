"""report.md and metrics.json come from one dict and agree; runs compare on one split only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from seco.evaluation.metrics import cooccurrence_table, segmentation_metrics
from seco.report.plots import per_class_iou_bars
from seco.report.report import compare_runs, load_results, write_report

NAMES = ["background", "boat", "train"]
PAIRS = [("boat", "water"), ("train", "rails")]


def results_for(matrix: list[list[int]], split: str = "val") -> dict:
    block = segmentation_metrics(np.array(matrix), NAMES)
    return {
        "split": split,
        "results": {"cam": block, "seg": block},
        "cooccurrence": {"seg": cooccurrence_table(block, PAIRS)},
        "meta": {"iteration": 100},
    }


BASELINE = results_for([[70, 20, 10], [3, 9, 0], [0, 0, 12]])
SECO = results_for([[95, 3, 2], [1, 11, 0], [0, 0, 12]])


def parse_class_rows(markdown: str, section: str) -> dict[str, list[str]]:
    """Per-class rows ``name -> [IoU, precision, recall, FP/TP]`` of one '### <section>' table."""
    body = markdown.split(f"### {section}", 1)[1].split("\n- ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", body, flags=re.M)
    return {name: [cell.strip() for cell in cells] for name, *cells in rows if name != "class"}


def test_report_numbers_match_metrics_json(tmp_path: Path) -> None:
    run = tmp_path / "run"
    figure = per_class_iou_bars(SECO["results"]["seg"], run / "figures" / "iou.png")
    report = write_report(run, SECO, {"per-class IoU": figure})
    assert report == run / "report.md"
    stored = load_results(run)
    assert stored == SECO
    md = report.read_text()
    assert "# Evaluation results (split: val)" in md
    for block, title in [("cam", "CAM"), ("seg", "Segmentation")]:
        rows = parse_class_rows(md, f"{title} (split: val)")
        assert list(rows) == NAMES
        for name, (iou, precision, recall, fp_tp) in rows.items():
            score = stored["results"][block]["per_class"][name]
            assert float(iou) == round(100 * score["iou"], 1)
            assert float(precision) == round(100 * score["precision"], 1)
            assert float(recall) == round(100 * score["recall"], 1)
            assert float(fp_tp) == round(score["fp_tp"], 2)
        miou = re.search(rf"### {title} \(split: val\)[\s\S]*?mIoU \(val\): ([\d.]+) %", md).group(1)
        assert float(miou) == round(100 * stored["results"][block]["miou"], 1)
    assert "![per-class IoU](figures/iou.png)" in md
    assert (run / "figures" / "iou.png").is_file()


def test_a_limited_evaluation_is_labelled_in_every_heading(tmp_path: Path) -> None:
    write_report(tmp_path, {**BASELINE, "subset": {"first": 20, "of": 445}}, {})
    report = (tmp_path / "report.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings and all("(split: val, first 20 of 445 images)" in h for h in headings)
    assert "mIoU (val, first 20 of 445 images)" in report


def test_report_refuses_missing_figures(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="'cams'"):
        write_report(tmp_path, SECO, {"cams": tmp_path / "nope.png"})


def write_run(folder: Path, results: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(results))
    return folder


def test_compare_runs_writes_table_and_bars(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / "baseline", BASELINE), write_run(tmp_path / "seco", SECO)]
    out = compare_runs(runs, tmp_path / "cmp")
    md = out.read_text()
    assert out.name == "comparison.md" and "# Run comparison (split: val)" in md
    assert "| class | baseline | seco |" in md
    boat_base, boat_seco = BASELINE["results"]["seg"]["per_class"]["boat"], SECO["results"]["seg"]["per_class"]["boat"]
    expected = f"| boat | {100 * boat_base['iou']:.1f} ({boat_base['fp_tp']:.2f}) | "
    expected += f"{100 * boat_seco['iou']:.1f} ({boat_seco['fp_tp']:.2f}) |"
    assert expected in md
    assert md.count("| boat w/(water) |") == 1  # only the seg block has co-occurrence rows
    assert "All categories: mIoU (mean FP/TP)" in md
    for block in ("cam", "seg"):
        assert (tmp_path / "cmp" / f"confusion_ratio_{block}.png").stat().st_size > 0
        assert f"(confusion_ratio_{block}.png)" in md


def test_compare_runs_refuses_mixed_splits(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / "a", BASELINE), write_run(tmp_path / "b", results_for([[1, 0, 0]] * 3, "train"))]
    with pytest.raises(ValueError, match="different splits"):
        compare_runs(runs, tmp_path / "cmp")
    limited = write_run(tmp_path / "c", {**BASELINE, "subset": {"first": 2, "of": 9}})
    with pytest.raises(ValueError, match="'val, first 2 of 9 images'"):
        compare_runs([runs[0], limited], tmp_path / "cmp")
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        compare_runs([tmp_path / "missing"], tmp_path / "cmp")


def test_seco_compare_of_mixed_splits_is_one_line_naming_them(tmp_path: Path, capsys) -> None:
    from seco.cli import main

    runs = [write_run(tmp_path / "a", BASELINE), write_run(tmp_path / "b", results_for([[1, 0, 0]] * 3, "train"))]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp")]) == 1
    err = capsys.readouterr().err
    assert "different splits" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
