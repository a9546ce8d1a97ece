"""The packaged benchmarks: mean ± std over seeds, the issue's target check, a tiny ablation end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seco.bench import run_ablation
from seco.bench.ablation import target_check
from seco.bench.summary import mean_std, summarise
from support import tiny_overrides


def _doc(miou: float, boat_ratio: float, seed: int) -> dict:
    """A minimal metrics document: classes background/boat/ball; boat sits on water (a context)."""
    def block() -> dict:
        per_class = {"background": {"fp_tp": 0.1, "iou": 0.9}, "boat": {"fp_tp": boat_ratio, "iou": 0.2},
                     "ball": {"fp_tp": 0.5, "iou": 0.6}}
        return {"class_names": ["background", "boat", "ball"], "miou": miou, "mean_recall": 0.5,
                "mean_precision": 0.5, "per_class": per_class}
    pairs = [{"label": "boat w/(water)", "class": "boat", "context": "water", "iou": 0.2, "fp_tp": boat_ratio}]
    return {"results": {"cam": block(), "mask": block()}, "cooccurrence": {"cam": pairs, "mask": pairs},
            "meta": {"seed": seed, "train_seconds": 10.0 + seed}}


def test_mean_and_sample_std_by_hand():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 3}
    assert mean_std([4.0, None]) == {"mean": 4.0, "std": 0.0, "n": 1}
    assert mean_std([None]) == {"mean": None, "std": None, "n": 0}


def test_summary_over_seeds():
    summary = summarise([_doc(0.30, 4.0, 0), _doc(0.34, 6.0, 1)])
    assert summary["context_classes"] == ["boat"]  # ball has no context pair
    assert summary["miou"]["mask"]["mean"] == pytest.approx(0.32)
    assert summary["context_fp_tp"]["cam"]["mean"] == pytest.approx(5.0)
    assert summary["pairs"]["cam"]["boat w/(water)"]["fp_tp"]["std"] == pytest.approx(2**0.5)
    assert summary["train_seconds"]["mean"] == pytest.approx(10.5)


def test_target_needs_a_30_percent_cut_and_a_gain_beyond_two_stds():
    base = summarise([_doc(0.30, 4.0, 0), _doc(0.32, 4.0, 1)])  # mask 31 +- 1.41
    good = summarise([_doc(0.40, 2.0, 0), _doc(0.41, 2.4, 1)])  # FP/TP 2.2: cut 45 %; gain 9.5 > 2 x 1.41
    verdict = target_check({"baseline": base, "seco_paper": good})
    assert verdict["variant"] == "seco_paper" and verdict["fp_tp_target_met"] and verdict["miou_target_met"]
    weak = summarise([_doc(0.31, 3.0, 0), _doc(0.34, 3.2, 1)])  # cut 22.5 %, gain 1.5 < 2 x 2.12
    verdict = target_check({"baseline": base, "seco_public": weak, "seco_paper": weak})
    assert not verdict["fp_tp_target_met"] and not verdict["miou_target_met"]


def test_tiny_ablation_over_two_seeds_resumes_instead_of_retraining(synthetic_root: Path, tmp_path: Path):
    overrides = [o for o in tiny_overrides(synthetic_root, tmp_path / "unused", iterations=2)
                 if not o.startswith("out_dir=")]
    overrides += ["eval.num_overlays=0", "eval.num_embeddings=0"]
    doc = run_ablation(["baseline"], [0, 1], tmp_path / "bench", overrides, progress=False)
    summary = doc["variants"]["baseline"]
    assert summary["runs"] == 2 and summary["seeds"] == [0, 1] and summary["miou"]["cam"]["n"] == 2
    assert json.loads((tmp_path / "bench" / "ablation.json").read_text())["seeds"] == [0, 1]
    assert "CAM baseline" in (tmp_path / "bench" / "ablation.md").read_text()
    checkpoint = tmp_path / "bench" / "baseline" / "seed0" / "last.pt"
    stamp = checkpoint.stat().st_mtime_ns
    run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False)
    assert checkpoint.stat().st_mtime_ns == stamp  # read back, not trained again


def test_seco_bench_ablation_from_the_command_line(synthetic_root: Path, tmp_path: Path, capsys):
    from seco.cli import main

    overrides = [o for o in tiny_overrides(synthetic_root, tmp_path / "unused", iterations=2)
                 if not o.startswith("out_dir=")]
    code = main(["bench", "ablation", "--variants", "baseline", "--seeds", "1", "--out", str(tmp_path / "b"),
                 *overrides, "eval.num_overlays=0", "eval.num_embeddings=0"])
    assert code == 0 and "CAM baseline (cls + aux)" in capsys.readouterr().out
    assert main(["bench", "ablation", "--variants", "nonsense", "--out", str(tmp_path / "b")]) == 1
    assert "unknown variant(s) nonsense" in capsys.readouterr().err
