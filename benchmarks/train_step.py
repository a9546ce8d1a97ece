"""Training-step speed and memory: the CAM baseline against full SeCo.

Prints a table and writes JSON. On the CPU it uses the synthetic config and
the tiny model; on a GPU pass ``--config voc`` and ``--random-data`` to time
the full-size step (ViT-B/16, 448 px crops) without the data set on disk.

    python benchmarks/train_step.py                       # CPU, tiny model
    python benchmarks/train_step.py --config voc --random-data --device cuda
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import torch

from seco.config import Config, apply_overrides, load_config
from seco.data import default_class_names
from seco.engine.train import build_training

ABLATION_OFF = [f"method.losses.{n}.enabled=false" for n in ("ptc", "lig", "lil", "seg", "reg")]
ALL_ON = [f"method.losses.{n}.start_iter=0" for n in ("ptc", "lig", "lil", "seg", "reg")] + [
    "method.prototypes.start_iter=0"
]


def _random_batch(cfg: Config, num_classes: int, device: torch.device, gen: torch.Generator) -> dict:
    size, batch = cfg.data.crop_size, cfg.train.batch_size
    labels = (torch.rand(batch, num_classes - 1, generator=gen) < 0.15).float()
    labels[torch.arange(batch), torch.randint(0, num_classes - 1, (batch,), generator=gen)] = 1.0
    return {
        "image": torch.rand(batch, 3, size, size, generator=gen).to(device),
        "labels": labels.to(device),
        "crop_box": torch.tensor([[0, size, 0, size]] * batch, device=device),
        "name": [f"random{i}" for i in range(batch)],
    }


def _real_batches(cfg: Config, device: torch.device):
    from seco.data import build_dataset
    from seco.engine.loader import TrainStream, to_device

    data = build_dataset(cfg.data, cfg.data.train_split, train=True)
    for batch in TrainStream(data, cfg.train.batch_size, cfg.seed, cfg.data.num_workers).iterate(0):
        yield to_device(batch, device)


def measure(cfg: Config, device: torch.device, steps: int, warmup: int, random_data: bool) -> dict:
    names = default_class_names(cfg.data)
    num_classes = len(names)
    run = build_training(cfg, device, num_classes, names)
    gen = torch.Generator().manual_seed(0)
    batches = _real_batches(cfg, device) if not random_data else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elapsed = 0.0
    for i in range(warmup + steps):
        batch = _random_batch(cfg, num_classes, device, gen) if random_data else next(batches)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run.step(run.net, batch, 10**6)  # an iteration past every loss's start
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            elapsed += time.perf_counter() - start
    images = steps * cfg.train.batch_size
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"images_per_s": images / elapsed, "s_per_step": elapsed / steps, "peak_memory_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="synthetic")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--random-data", action="store_true", help="random tensors instead of the data set")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_step.json"))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    device = torch.device(args.device)
    base = load_config(args.config, [*args.overrides, "model.pretrained=false"])
    rows = []
    for name, extra in (("baseline (cls + aux)", ABLATION_OFF), ("SeCo (all losses on)", ALL_ON)):
        cfg = apply_overrides(base, extra)
        result = measure(cfg, device, args.steps, args.warmup, args.random_data)
        rows.append({"variant": name, **result})
    header = f"{'variant':<22} {'img/s':>8} {'s/step':>8} {'peak MiB':>9}"  # CPU: process peak RSS so far
    print(f"train step, config {args.config}, batch {base.train.batch_size}, crop {base.data.crop_size}, "
          f"model {base.model.name}, device {device} ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads)")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['variant']:<22} {row['images_per_s']:>8.1f} {row['s_per_step']:>8.3f} "
              f"{row['peak_memory_mib']:>9.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": args.config, "device": str(device), "batch_size": base.train.batch_size,
            "crop_size": base.data.crop_size, "model": base.model.name, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "overrides": args.overrides}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
