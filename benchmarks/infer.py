"""Inference speed: images/s of CAM, pseudo mask (CAM + PAR), segmentation and dense CRF.

Batched on the device; the CRF runs in worker processes on the CPU. The
weights do not change the speed, so a random-init model is used unless
``--checkpoint`` is given.

    python benchmarks/infer.py                                  # synthetic val, CPU
    python benchmarks/infer.py --config voc --random-data --size 500 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from seco.config import load_config
from seco.data import default_class_names
from seco.evaluation.crf import CRFPool, crf_available
from seco.evaluation.inference import predict_scores
from seco.method.par import build_par
from seco.model import build_model


def _batches(cfg, args, device, num_classes):
    if args.random_data:
        gen = torch.Generator().manual_seed(0)
        k = num_classes - 1
        for _ in range(args.batches):
            labels = (torch.rand(args.batch_size, k, generator=gen) < 0.2).float()
            yield torch.randn(args.batch_size, 3, args.size, args.size, generator=gen).to(device), labels.to(device)
        return
    from torch.utils.data import DataLoader

    from seco.data import build_dataset, pad_collate

    data = build_dataset(cfg.data, cfg.eval.split, train=False)
    loader = DataLoader(data, batch_size=args.batch_size, collate_fn=pad_collate)
    for i, batch in enumerate(loader):
        if i >= args.batches:
            return
        yield batch["image"].to(device), batch["labels"].to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="synthetic")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--random-data", action="store_true")
    parser.add_argument("--size", type=int, default=448, help="image side with --random-data")
    parser.add_argument("--crf-workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/infer.json"))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.checkpoint:
        from seco.evaluation.trained import load_trained

        trained = load_trained(args.checkpoint, device=args.device)
        cfg, net = trained.cfg, trained.net
    else:
        cfg = load_config(args.config, [*args.overrides, "model.pretrained=false"])
        num_classes = len(default_class_names(cfg.data))
        net = build_model(cfg.model, num_classes).to(device).eval()
    par = build_par(cfg.method.par, device)
    batches = list(_batches(cfg, args, device, net.num_classes))
    rows = []
    crf_items = []
    for output in ("cam", "mask", "seg"):
        predict_scores(net, batches[0][0][:1], batches[0][1][:1], par, cfg, (output,))
        count, elapsed = 0, 0.0
        for images, labels in batches:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            scores = predict_scores(net, images, labels, par, cfg, (output,))[output]
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed += time.perf_counter() - start
            count += images.shape[0]
            if output == "seg" and len(crf_items) < 32:
                rgb8 = (images * 255).byte().permute(0, 2, 3, 1).cpu().numpy()
                crf_items += [(len(crf_items) + i, rgb8[i], scores[i].float().cpu().numpy())
                              for i in range(images.shape[0])]
        rows.append({"output": output, "images_per_s": count / elapsed, "images": count})
    if crf_available():
        start = time.perf_counter()
        with CRFPool(workers=args.crf_workers) as pool:
            done = sum(1 for _ in pool.imap(crf_items))
        rate = done / (time.perf_counter() - start)
        rows.append({"output": f"crf ({args.crf_workers} workers)", "images_per_s": rate, "images": done})
    size = tuple(batches[0][0].shape[-2:])
    print(f"inference, config {cfg.name}, model {cfg.model.name}, images {size[0]}x{size[1]}, "
          f"batch {args.batch_size}, device {device}, {torch.get_num_threads()} threads")
    print(f"{'output':<22} {'img/s':>8} {'images':>7}")
    print("-" * 39)
    for row in rows:
        print(f"{row['output']:<22} {row['images_per_s']:>8.1f} {row['images']:>7}")
    if not crf_available():
        print("crf: skipped (pip install 'seco-wsss[crf]')")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": cfg.name, "device": str(device), "size": size, "batch_size": args.batch_size,
            "torch": torch.__version__, "numpy": np.__version__}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
