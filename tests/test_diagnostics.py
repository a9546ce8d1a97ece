"""Contrast diagnostics read back from TensorBoard: curves, means over training, the figure and the table."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from seco.bench.summary import _diagnostics_table, mean_std
from seco.report.diagnostics import contrast_summary, diagnostics_plot, read_scalars


def _log(tb: Path, rows: dict[str, list[tuple[int, float]]]) -> None:
    writer = SummaryWriter(str(tb))
    for tag, points in rows.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    writer.close()


def test_scalars_come_back_by_step_and_are_averaged_over_the_logged_steps(tmp_path: Path) -> None:
    _log(tmp_path / "tb", {"stats/tag_agreement_gt": [(20, 0.5), (10, 0.75)], "stats/rectified": [(10, 0.1)],
                           "reservoir/boat": [(0, 0.2), (10, 0.4)], "loss/cls": [(0, 1.0)]})
    series = read_scalars(tmp_path / "tb")
    steps, values = zip(*series["stats/tag_agreement_gt"], strict=True)
    assert steps == (10, 20)  # sorted by step
    assert values == pytest.approx((0.75, 0.5))  # float32 in the event file
    summary = contrast_summary(series)
    assert summary == pytest.approx({"stats/tag_agreement_gt": 0.625, "stats/rectified": 0.1, "reservoir/boat": 0.3})
    assert "loss/cls" not in summary  # only the diagnostics


def test_steps_that_logged_nan_are_left_out_of_the_mean(tmp_path: Path) -> None:
    """A step without class-tagged patches logs a NaN precision; it must not turn the run's mean into NaN."""
    _log(tmp_path / "tb", {"stats/tag_class_precision": [(0, float("nan")), (10, 0.6), (20, 0.8)]})
    assert contrast_summary(read_scalars(tmp_path / "tb")) == pytest.approx({"stats/tag_class_precision": 0.7})


def test_figure_and_table_name_every_run(tmp_path: Path) -> None:
    _log(tmp_path / "a", {"stats/tag_agreement_gt": [(0, 0.4)], "reservoir/background": [(0, 0.8)]})
    runs = {"SeCo": read_scalars(tmp_path / "a"), "no LiL": read_scalars(tmp_path / "a")}
    assert diagnostics_plot(runs, tmp_path / "d.png").stat().st_size > 1000
    stats = {"stats/tag_agreement_gt": mean_std([0.4, 0.6]), "reservoir/background": mean_std([0.8])}
    table = _diagnostics_table({"seco_paper": {"diagnostics": stats}, "baseline": {}}, {"seco_paper": "SeCo"})
    assert "| SeCo | 0.50 ± 0.14 | - | - | - | 0.80 |" in table and not any("baseline" in line for line in table)
