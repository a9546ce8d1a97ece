"""How good is a pretrained start on the benchmark before any benchmark training?

The pretraining set's classes include the benchmark's nine, so the
pretraining classifier (``RUN_DIR/last.pt`` of ``seco pretrain``, which
keeps the heads that the shipped encoder file drops) can draw CAMs for them
on the benchmark as it is. This scores those CAMs and pseudo masks (CAM +
PAR) on a benchmark split with the evaluation of ``seco evaluate``: the
ceiling of what the start alone knows about where the objects are, and the
number a start should raise.

    python benchmarks/start_probe.py --run-dir runs/pretrain
    python benchmarks/start_probe.py --run-dir runs/pretrain --bkg-thr 0.3 0.45 0.6
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seco.bench.summary import context_classes, context_ratio
from seco.config import load_config
from seco.data import default_class_names
from seco.engine.checkpoint import LAST, Checkpoint
from seco.evaluation.evaluate import evaluate
from seco.model import SeCoNet, build_model
from seco.model.token_embed import token_embed_key
from seco.synthetic.pretrain_scenes import PRETRAIN_CLASSES

HEADS = ("classifier.conv.weight", "aux_classifier.conv.weight")
PREFIX = "encoder.vit."


def start_network(run_dir: Path, config: str) -> SeCoNet:
    """The benchmark's network with the pretraining run's encoder and its heads' rows for the benchmark's classes."""
    cfg = load_config(config)
    names = default_class_names(cfg.data)
    missing = [name for name in names[1:] if name not in PRETRAIN_CLASSES]
    if missing:
        raise SystemExit(f"config {config!r} has classes the pretraining set lacks: {', '.join(missing)}")
    rows = [PRETRAIN_CLASSES.index(name) - 1 for name in names[1:]]  # heads have no background row
    stored = Checkpoint.load(run_dir / LAST).model
    net = build_model(cfg.model, len(names))
    own = net.state_dict()
    for key, tensor in stored.items():
        if key.startswith("encoder."):
            if key not in own:  # a run written before the token embedding's own layout
                key = PREFIX + token_embed_key(key[len(PREFIX):])
            own[key] = tensor
    for key in HEADS:
        own[key] = stored[key][rows]
    net.load_state_dict(own)
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True, help="a `seco pretrain --run-dir`")
    parser.add_argument("--config", default="synthetic")
    parser.add_argument("--split", default="val")
    parser.add_argument("--bkg-thr", type=float, nargs="+", default=None, help="default: the config's")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/start_probe.json"))
    args = parser.parse_args()

    cfg = load_config(args.config)
    net = start_network(args.run_dir, args.config)
    rows = []
    print(f"| bkg_thr | CAM mIoU | mask mIoU | CAM FP/TP, context classes | background IoU (CAM) | ({args.split})")
    print("|---|---|---|---|---|")
    for thr in args.bkg_thr or [cfg.method.cam.bkg_thr]:
        cfg.method.cam.bkg_thr = thr
        document = evaluate(net, cfg, args.split, outputs=("cam", "mask"), progress=False).document
        cam, mask = document["results"]["cam"], document["results"]["mask"]
        context = context_ratio(document, "cam", context_classes(document))
        row = {"bkg_thr": thr, "cam_miou": cam["miou"], "mask_miou": mask["miou"], "cam_context_fp_tp": context,
               "cam_background_iou": cam["per_class"]["background"]["iou"],
               "cam_per_class_iou": {name: block["iou"] for name, block in cam["per_class"].items()}}
        rows.append(row)
        print(f"| {thr} | {cam['miou'] * 100:.1f} | {mask['miou'] * 100:.1f} | "
              f"{'n/a' if context is None else f'{context:.2f}'} | "
              f"{row['cam_background_iou'] * 100:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run_dir": str(args.run_dir), "split": args.split, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
