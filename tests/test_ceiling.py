"""seco compare reports a weak run as a fraction of its fully supervised counterpart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seco.config import Config, apply_overrides
from seco.evaluation.metrics import segmentation_metrics
from seco.report.ceiling import run_setting
from seco.report.report import compare_runs

NAMES = ["background", "boat"]


def _run(folder: Path, correct: int, supervision: str, setting: str) -> Path:
    block = segmentation_metrics(np.array([[100, 0], [100 - correct, correct]]), NAMES)
    doc = {"split": "val", "results": {"seg": block},
           "meta": {"supervision": supervision, "setting": setting}}
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(doc))
    return folder


def test_setting_ignores_supervision_but_not_the_schedule(tiny_cfg: Config) -> None:
    full = apply_overrides(tiny_cfg, ["train.supervision=full"])
    assert run_setting(full) == run_setting(tiny_cfg)
    assert run_setting(apply_overrides(tiny_cfg, ["train.iterations=7"])) != run_setting(tiny_cfg)
    assert run_setting(apply_overrides(tiny_cfg, ["model.proj_dim=16"])) != run_setting(tiny_cfg)


def test_compare_pairs_each_weak_run_with_the_full_run_of_its_setting(tmp_path: Path) -> None:
    weak = _run(tmp_path / "seco", 50, "weak", "A")
    other = _run(tmp_path / "other", 50, "weak", "B")
    full = _run(tmp_path / "full", 100, "full", "A")
    markdown = compare_runs([weak, other, full], tmp_path / "cmp").read_text()
    section = markdown.split("## Fraction of the fully supervised counterpart", 1)[1]
    weak_miou = segmentation_metrics(np.array([[100, 0], [50, 50]]), NAMES)["miou"]
    expected = f"{100 * weak_miou / 1.0:.1f}"
    assert f"| seco | full | Segmentation | {100 * weak_miou:.1f} | 100.0 | {expected} |" in section
    assert "| other | none with the same setting |" in section


def test_no_fraction_section_without_a_full_run(tmp_path: Path) -> None:
    runs = [_run(tmp_path / "a", 50, "weak", "A"), _run(tmp_path / "b", 60, "weak", "A")]
    assert "Fraction of the fully supervised" not in compare_runs(runs, tmp_path / "cmp").read_text()
