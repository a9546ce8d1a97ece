"""What a SeCo step cannot shed without computing something else: its encoder work against the baseline's.

The CAM baseline's step is one forward and backward of the encoder on the
images. SeCo's adds, whatever the implementation, a forward and backward of
the global views and the local patches (eq. 2), a forward without gradient for
the CAMs (recipe step 1) and one for the local teacher's keys. This script
times those pieces on the synthetic config's model (random weights, random
inputs of the config's sizes), the views both ways (the whole last block, and
the class token alone as the step runs them), and the dense reg filter's
kernels, in one process with the pieces interleaved; medians of ``--repeats``.

    OMP_NUM_THREADS=2 python benchmarks/step_floor.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from seco.config import load_config
from seco.data import default_class_names
from seco.method.losses.dense_energy import dense_bilateral_filter
from seco.model import build_model


def pieces(config: str) -> dict[str, Callable[[], object]]:
    """The timed pieces, by name."""
    cfg = load_config(config, ["model.pretrained=false", "model.weights="])
    torch.manual_seed(0)
    net = build_model(cfg.model, len(default_class_names(cfg.data)))
    dec, batch, crop = cfg.method.decomposition, cfg.train.batch_size, cfg.data.crop_size
    images, global_views = torch.rand(batch, 3, crop, crop), torch.rand(batch, 3, crop, crop)
    patches = torch.rand(batch * dec.num_patches, 3, dec.patch_size, dec.patch_size)
    energy_size = int(crop * cfg.method.losses.reg.scale)
    maps = torch.rand(batch, net.num_classes, energy_size, energy_size).softmax(1)
    colours = F.interpolate(torch.rand(batch, 3, 6, 6), size=(energy_size, energy_size), mode="bilinear") * 255
    reg = cfg.method.losses.reg

    def images_step(seg: bool) -> None:
        out = net.encoder(images)
        loss = out.tokens.sum() + out.aux_tokens.sum() + net.projector(out.cls).sum()
        (loss + net.seg_head(out.tokens).sum() if seg else loss).backward()

    def views(embed: Callable[[torch.Tensor], torch.Tensor]) -> None:
        (net.projector(embed(global_views)).sum() + net.projector(embed(patches)).sum()).backward()

    @torch.no_grad()
    def cams_and_keys(embed: Callable[[torch.Tensor], torch.Tensor]) -> None:
        net.eval()
        net.cams(images)
        net.train()
        embed(patches)

    whole, alone = (lambda x: net.encoder(x).cls), net.encoder.forward_cls
    return {
        "baseline: images, forward and backward": lambda: images_step(False),
        "SeCo: images with the seg head, forward and backward": lambda: images_step(True),
        "SeCo: global views and patches, whole last block": lambda: views(whole),
        "SeCo: global views and patches, class token alone": lambda: views(alone),
        "SeCo: CAM forward and teacher keys, whole last block": lambda: cams_and_keys(whole),
        "SeCo: CAM forward and teacher keys, class token alone": lambda: cams_and_keys(alone),
        "dense reg filter, blocked": lambda: dense_bilateral_filter(maps, colours, reg.sigma_rgb,
                                                                     reg.sigma_xy * reg.scale, "blocked"),
        "dense reg filter, sdpa": lambda: dense_bilateral_filter(maps, colours, reg.sigma_rgb,
                                                                  reg.sigma_xy * reg.scale, "sdpa"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="synthetic")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/step_floor.json"))
    args = parser.parse_args()
    timed = pieces(args.config)
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    load_before = os.getloadavg()
    for run in timed.values():
        run()
    for _ in range(args.repeats):
        for name, run in timed.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    ms = {name: 1000 * statistics.median(values) for name, values in seconds.items()}
    print(f"{args.config}, {torch.get_num_threads()} threads, median ms of {args.repeats} (load average "
          f"{load_before[0]:.1f})")
    for name, value in ms.items():
        print(f"{value:8.1f}  {name}")
    baseline = ms["baseline: images, forward and backward"]
    ratios = {}
    for way in ("whole last block", "class token alone"):
        seco = (ms["SeCo: images with the seg head, forward and backward"]
                + ms[f"SeCo: global views and patches, {way}"] + ms[f"SeCo: CAM forward and teacher keys, {way}"])
        ratios[way] = seco / baseline
        print(f"SeCo's encoder work / the baseline's, {way}: {ratios[way]:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"config": args.config, "threads": torch.get_num_threads(), "torch": torch.__version__,
               "load_average_before": load_before, "median_ms": ms, "encoder_work_ratio": ratios}
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
