"""The packaged benchmarks: mean ± std over seeds, the issue's target check, a tiny ablation end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seco.bench import run_ablation
from seco.bench.ablation import target_check, target_lines
from seco.bench.summary import mean_std, summarise
from seco.bench.threshold import SELECTION, check_grid, choose_bkg_thr
from seco.config import ConfigError
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
    lines = target_lines({"labels": {"seco_public": "SeCo, fidelity public"}, "target": verdict})
    assert lines == ["target at the fixed background score: SeCo, fidelity public against the CAM baseline: "
                     "context CAM FP/TP 22.5 % lower (at least 30 %: not met); mask mIoU +1.50 against 2 std = "
                     "4.24 (not met); baseline context FP/TP above 2: yes"]


def test_one_seed_has_no_spread_so_the_miou_target_is_not_judged():
    base, good = summarise([_doc(0.30, 4.0, 0)]), summarise([_doc(0.40, 2.0, 0)])  # +10 points, std 0
    verdict = target_check({"baseline": base, "seco_paper": good})
    assert verdict["fp_tp_target_met"] and verdict["miou_target_met"] is None
    assert "mask mIoU +10.00 against 2 std = 0.00 (not judged: fewer than 2 seeds)" in target_lines(
        {"labels": {}, "target": verdict})[0]


def test_background_grid_is_sorted_and_checked():
    assert check_grid([0.5, 0.3, 0.5]) == (0.3, 0.5)
    with pytest.raises(ConfigError, match="empty"):
        check_grid([])
    with pytest.raises(ConfigError, match=r"\(0, 1\), got 1.2"):
        check_grid([0.3, 1.2])


def test_chosen_background_score_is_the_best_and_ties_go_to_the_nearest_to_the_default():
    scores = {0.3: 0.50, 0.4: 0.61, 0.5: 0.61, 0.6: 0.40}
    assert choose_bkg_thr(scores, default=0.55) == 0.5
    assert choose_bkg_thr(scores, default=0.3) == 0.4
    assert choose_bkg_thr({0.3: 0.2, 0.45: 0.1}, default=0.45) == 0.3  # a better score wins over the default


def _tiny_bench_overrides(root: Path, tmp_path: Path) -> list[str]:
    overrides = [o for o in tiny_overrides(root, tmp_path / "unused", iterations=2) if not o.startswith("out_dir=")]
    return overrides + ["eval.num_overlays=0", "eval.num_embeddings=0", "method.cam.bkg_thr=0.45"]


def test_tiny_ablation_over_two_seeds_resumes_instead_of_retraining(synthetic_root: Path, tmp_path: Path):
    overrides = _tiny_bench_overrides(synthetic_root, tmp_path)
    doc = run_ablation(["baseline"], [0, 1], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.3, 0.45))
    summary = doc["variants"]["baseline"]
    assert summary["runs"] == 2 and summary["seeds"] == [0, 1] and summary["miou"]["cam"]["n"] == 2
    assert json.loads((tmp_path / "bench" / "ablation.json").read_text())["seeds"] == [0, 1]
    assert "CAM baseline" in (tmp_path / "bench" / "ablation.md").read_text()
    checkpoint = tmp_path / "bench" / "baseline" / "seed0" / "last.pt"
    selection = tmp_path / "bench" / "baseline" / "seed0" / SELECTION
    stamps = checkpoint.stat().st_mtime_ns, selection.stat().st_mtime_ns
    again = run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.45, 0.3))
    assert (checkpoint.stat().st_mtime_ns, selection.stat().st_mtime_ns) == stamps  # read back, not redone
    assert again["bkg_selection"]["chosen"]["baseline"] == doc["bkg_selection"]["chosen"]["baseline"][:1]


def test_each_run_scores_val_at_the_background_score_it_chose_on_train(synthetic_root: Path, tmp_path: Path):
    overrides = _tiny_bench_overrides(synthetic_root, tmp_path)
    doc = run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.2, 0.45, 0.7))
    saved = json.loads((tmp_path / "bench" / "baseline" / "seed0" / SELECTION).read_text())
    assert saved["split"] == "train" and saved["grid"] == [0.2, 0.45, 0.7]
    chosen = saved["bkg_thr"]
    assert saved["train_mask_miou"][saved["grid"].index(chosen)] == max(saved["train_mask_miou"])
    assert doc["bkg_selection"]["chosen"]["baseline"] == [chosen]
    fixed = json.loads((tmp_path / "bench" / "baseline" / "seed0" / "metrics.json").read_text())
    assert saved["document"]["split"] == "val" and saved["document"]["meta"] == fixed["meta"]
    # the train sweep really moves with the score, and a one-point grid at the config's score repeats the fixed run
    assert len(set(saved["train_mask_miou"])) > 1
    same = run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.45,))
    for block in ("cam", "mask"):
        chosen_score = same["bkg_selection"]["variants"]["baseline"]["miou"][block]
        assert chosen_score == doc["variants"]["baseline"]["miou"][block]
    markdown = (tmp_path / "bench" / "ablation.md").read_text()
    assert "Background score chosen on the train split" in markdown
    assert "## Target" not in markdown  # no full SeCo row: no verdict


def test_a_wider_grid_measures_only_its_new_points_and_flags_a_choice_at_its_edge(synthetic_root: Path,
                                                                                   tmp_path: Path, monkeypatch):
    from seco.bench import threshold

    overrides = _tiny_bench_overrides(synthetic_root, tmp_path)
    first = run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.3, 0.45))
    calls, swept = [], []
    real, real_sweep = threshold.evaluate, threshold.mask_miou_sweep
    monkeypatch.setattr(threshold, "evaluate", lambda net, cfg, split, **kw: calls.append(
        (split, cfg.method.cam.bkg_thr)) or real(net, cfg, split, **kw))
    monkeypatch.setattr(threshold, "mask_miou_sweep", lambda net, cfg, split, scores, progress, images: swept.append(
        (split, list(scores))) or real_sweep(net, cfg, split, scores, progress, images))
    doc = run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.05, 0.3, 0.45))
    assert swept == [("train", [0.05])]  # 0.3 and 0.45 were measured by the first call
    saved = json.loads((tmp_path / "bench" / "baseline" / "seed0" / SELECTION).read_text())
    assert saved["grid"] == [0.05, 0.3, 0.45] and len(saved["train_mask_miou"]) == 3
    chosen = doc["bkg_selection"]["chosen"]["baseline"][0]
    assert saved["at_edge"] == (chosen in (0.05, 0.45))
    assert ("(grid edge)" in (tmp_path / "bench" / "ablation.md").read_text()) == saved["at_edge"]
    changed = chosen != first["bkg_selection"]["chosen"]["baseline"][0]
    assert [call for call in calls if call[0] == "val"] == ([("val", chosen)] if changed else [])


def test_the_background_score_sweep_gives_each_scores_evaluation(synthetic_root: Path, tmp_path: Path):
    from seco.bench.threshold import mask_miou_sweep
    from seco.config import apply_overrides
    from seco.evaluation.evaluate import evaluate
    from seco.evaluation.trained import load_trained

    overrides = _tiny_bench_overrides(synthetic_root, tmp_path)
    run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=())
    trained = load_trained(tmp_path / "bench" / "baseline" / "seed0" / "last.pt")
    cfg = apply_overrides(trained.cfg, ["eval.cam_scales=[1.0,0.5]", "eval.cam_flip=true"])
    swept = mask_miou_sweep(trained.net, cfg, "train", [0.2, 0.45, 0.7], progress=False)
    for thr, miou in swept.items():
        one = evaluate(trained.net, apply_overrides(cfg, [f"method.cam.bkg_thr={thr}"]), "train", outputs=("mask",),
                       progress=False)
        assert miou == pytest.approx(one.document["results"]["mask"]["miou"], abs=1e-12)
    assert len(set(swept.values())) > 1


def test_new_cam_inference_scores_finished_runs_again_without_training_them_again(synthetic_root: Path,
                                                                                  tmp_path: Path):
    overrides = [*_tiny_bench_overrides(synthetic_root, tmp_path), "eval.cam_scales=[1.0]", "eval.cam_flip=false"]
    run = tmp_path / "bench" / "baseline" / "seed0"
    run_ablation(["baseline"], [0], tmp_path / "bench", overrides, progress=False, bkg_grid=(0.3, 0.45))
    before = json.loads((run / "metrics.json").read_text())
    stamp = (run / "last.pt").stat().st_mtime_ns
    assert before["cam_inference"] == {"scales": [1.0], "flip": False, "bkg_thr": 0.45}
    flipped = [*overrides, "eval.cam_scales=[1.0,0.5]", "eval.cam_flip=true"]
    run_ablation(["baseline"], [0], tmp_path / "bench", flipped, progress=False, bkg_grid=(0.3, 0.45))
    after = json.loads((run / "metrics.json").read_text())
    assert (run / "last.pt").stat().st_mtime_ns == stamp  # not trained again
    assert after["cam_inference"] == {"scales": [1.0, 0.5], "flip": True, "bkg_thr": 0.45}
    assert after["meta"]["train_seconds"] == before["meta"]["train_seconds"]  # the training's time, kept
    assert after["results"]["cam"] != before["results"]["cam"]
    saved = json.loads((run / SELECTION).read_text())  # the train sweep measured again with the new inference
    assert saved["document"]["cam_inference"]["flip"] is True
    assert saved["document"]["cam_inference"]["bkg_thr"] == saved["bkg_thr"]


def test_seco_bench_ablation_from_the_command_line(synthetic_root: Path, tmp_path: Path, capsys):
    from seco.cli import main

    overrides = [o for o in tiny_overrides(synthetic_root, tmp_path / "unused", iterations=2)
                 if not o.startswith("out_dir=")]
    code = main(["bench", "ablation", "--variants", "baseline", "--seeds", "1", "--out", str(tmp_path / "b"),
                 *overrides, "eval.num_overlays=0", "eval.num_embeddings=0"])
    printed = capsys.readouterr().out
    assert code == 0 and "CAM baseline (cls + aux)" in printed and "Background score chosen on the train" in printed
    assert main(["bench", "ablation", "--variants", "nonsense", "--out", str(tmp_path / "b")]) == 1
    assert "unknown variant(s) nonsense" in capsys.readouterr().err
    assert main(["bench", "ablation", "--bkg-grid", "0.3;0.4", "--out", str(tmp_path / "b")]) == 1
    assert "--bkg-grid '0.3;0.4': expected a comma list" in capsys.readouterr().err


def test_the_train_images_a_run_chooses_on_are_recorded_and_another_count_measures_again(
        synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from seco.bench import threshold
    from seco.bench.ablation import run_variant

    overrides = _tiny_bench_overrides(synthetic_root, tmp_path)
    first = run_variant("baseline", 0, tmp_path / "bench", overrides, (0.3, 0.45), progress=False, select_images=8)
    assert first.selection["images"] == 8 and first.document["meta"]["seed"] == 0
    swept, real = [], threshold.mask_miou_sweep
    monkeypatch.setattr(threshold, "mask_miou_sweep", lambda *args: swept.append(args[3:]) or real(*args))
    run_variant("baseline", 0, tmp_path / "bench", overrides, (0.3, 0.45), progress=False, select_images=8)
    assert swept == []  # the same 8 images: read back
    again = run_variant("baseline", 0, tmp_path / "bench", overrides, (0.3, 0.45), progress=False)
    assert swept == [([0.3, 0.45], False, 0)] and again.selection["images"] == 0
