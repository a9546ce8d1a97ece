"""Paper Table 2/3 in miniature: train each ablation on the synthetic benchmark and compare.

For every variant (baseline, w/o LiG, w/o LiL, w/o rectification, SeCo) it
trains from the same seed, evaluates CAMs, pseudo masks and the
segmentation head on the val split, and prints mIoU and the confusion
ratios FP/TP of the co-occurring pairs. Results go to JSON and Markdown and
each run folder keeps its own report.

    python benchmarks/cooccurrence.py --variants baseline seco train.iterations=1200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from seco.config import load_config
from seco.engine.evaluate import evaluate
from seco.engine.restore import load_trained
from seco.engine.run_report import write_run_report
from seco.engine.train import train
from seco.report.report import compare_runs

VARIANTS = {
    "baseline": "ablations/baseline",
    "no_lig": "ablations/no_lig",
    "no_lil": "ablations/no_lil",
    "no_rect": "ablations/no_rect",
    "seco": "ablations/seco",
}


def _pairs(doc: dict, block: str) -> str:
    rows = doc.get("cooccurrence", {}).get(block, [])
    cells = []
    for row in rows:
        ratio = "inf" if row["fp_tp_infinite"] else ("n/a" if row["fp_tp"] is None else f"{row['fp_tp']:.2f}")
        cells.append(f"{row['class']} {100 * (row['iou'] or 0):.1f} ({ratio})")
    return "; ".join(cells)


def _fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "n/a" if value is None else f"{scale * value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--runs", type=Path, default=Path("runs/cooccurrence"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cooccurrence.json"))
    parser.add_argument("overrides", nargs="*", help="config overrides applied to every variant")
    args = parser.parse_args()
    rows = []
    for variant in args.variants:
        cfg = load_config(VARIANTS[variant], [*args.overrides, f"out_dir={args.runs / variant}"])
        start = time.perf_counter()
        result = train(cfg, resume=False)
        trained = load_trained(result.checkpoint)
        evaluation = evaluate(trained.net, trained.cfg, cfg.eval.split, num_samples=cfg.eval.num_overlays)
        evaluation.document["meta"] = {"run": variant, "train_seconds": round(result.seconds, 1)}
        write_run_report(trained, evaluation, Path(cfg.out_dir))
        doc = evaluation.document
        rows.append({
            "variant": variant,
            "train_seconds": round(result.seconds, 1),
            "wall_seconds": round(time.perf_counter() - start, 1),
            **{f"miou_{b}": doc["results"][b]["miou"] for b in doc["results"]},
            **{f"fp_tp_mean_{b}": doc["results"][b]["confusion_ratio_mean"] for b in doc["results"]},
            "pairs_cam": _pairs(doc, "cam"),
            "pairs_seg": _pairs(doc, "seg"),
        })
    compare_runs([args.runs / v for v in args.variants], args.runs / "comparison")
    print(f"\n{'variant':<9} {'CAM mIoU':>8} {'mask':>6} {'seg':>6} {'CAM FP/TP':>9} {'seg FP/TP':>9} {'train s':>8}")
    for r in rows:
        print(f"{r['variant']:<9} {_fmt(r['miou_cam'], 100):>8} {_fmt(r['miou_mask'], 100):>6} "
              f"{_fmt(r['miou_seg'], 100):>6} {_fmt(r['fp_tp_mean_cam'], digits=2):>9} "
              f"{_fmt(r['fp_tp_mean_seg'], digits=2):>9} {r['train_seconds']:>8.0f}")
    for r in rows:
        print(f"{r['variant']}: CAM pairs IoU (FP/TP): {r['pairs_cam']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"overrides": args.overrides, "rows": rows}, indent=2))
    print(f"wrote {args.out} and {args.runs / 'comparison'}")


if __name__ == "__main__":
    main()
