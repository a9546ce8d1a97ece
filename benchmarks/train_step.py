"""Training-step speed, memory, per-phase profile and host syncs: the CAM baseline against full SeCo.

Prints tables and writes JSON that names the device and the fidelity preset.
On the CPU it uses the synthetic config and the tiny model; on a GPU pass
``--config voc --random-data --device cuda`` to time the full-size step
(ViT-B/16, 448 px crops) without the data set on disk.

    python benchmarks/train_step.py                                   # CPU, tiny model
    python benchmarks/train_step.py --config voc --random-data --device cuda train.amp=true
    python benchmarks/train_step.py --config voc --random-data --device cuda train.amp=true train.compile=default

* s/step and img/s come from timed steps without the profiler, each synchronised
  on CUDA. Both variants are built first; their timed steps then alternate
  (baseline, SeCo, baseline, ...) and each one's s/step is its median step, so
  that a shared machine's bursts of load fall on both alike and the ratio stays
  meaningful (the JSON keeps every step's seconds and the load average).
* The per-phase table comes from a separate profiled run: each phase of
  ``seco.profiling.PHASES`` is a ``record_function`` range; CPU time on the
  CPU, device time on CUDA (CUDA events, via the profiler).
* Host syncs per step: on CUDA, ``torch.cuda.set_sync_debug_mode("warn")``
  counts every synchronising call; on the CPU a dispatch mode counts the
  operators that synchronise on a GPU (``.item()``, ``nonzero``, ``unique``,
  boolean masking, ...).
* The VOC (20k) and COCO (80k) schedules are projected from s/step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.autograd import DeviceType

from seco.config import Config, apply_overrides, load_config
from seco.data import default_class_names
from seco.engine.train import Training, build_training
from seco.method.seco import SeCoMethod
from seco.profiling import PHASES, SyncCounter

BASELINE = [f"method.losses.{n}.enabled=false" for n in ("ptc", "lig", "lil", "seg", "reg")]
ALL_ON = [f"method.losses.{n}.start_iter=0" for n in ("ptc", "lig", "lil", "seg", "reg")] + [
    "method.prototypes.start_iter=0"
]
SCHEDULES = {"VOC (20k)": 20_000, "COCO (80k)": 80_000}
def _random_batch(cfg: Config, num_classes: int, device: torch.device, gen: torch.Generator) -> dict:
    size, batch = cfg.data.crop_size, cfg.train.batch_size
    labels = (torch.rand(batch, num_classes - 1, generator=gen) < 0.15).float()
    labels[torch.arange(batch), torch.randint(0, num_classes - 1, (batch,), generator=gen)] = 1.0
    out = {
        "image": torch.rand(batch, 3, size, size, generator=gen).to(device),
        "labels": labels.to(device),
        "crop_box": torch.tensor([[0, size, 0, size]] * batch, device=device),
        "name": [f"random{i}" for i in range(batch)],
    }
    if SeCoMethod.wants_global_view(cfg.method):
        out["global_view"] = torch.rand(batch, 3, size, size, generator=gen).to(device)
    return out


def _real_batches(cfg: Config, device: torch.device):
    from seco.data import build_dataset
    from seco.engine.loader import TrainStream, to_device

    views = SeCoMethod.wants_global_view(cfg.method)
    data = build_dataset(cfg.data, cfg.data.train_split, train=True, global_view=views)
    for batch in TrainStream(data, cfg.train.batch_size, cfg.seed, cfg.data.num_workers).iterate(0):
        yield to_device(batch, device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _phases(run: Training, batches: list[dict], device: torch.device) -> dict[str, dict[str, float]]:
    """Milliseconds per step of each phase, from a profiled run: CPU time, and device time on CUDA."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for batch in batches:
            run.step(run.net, batch, 10**6)
        _sync(device)
    clocks = ("cpu", "device") if device.type == "cuda" else ("cpu",)
    totals = {clock: {name: 0.0 for name in PHASES} for clock in clocks}
    for event in prof.events():
        # the host-side range only: its device time sums the kernels it launched, while the GPU's copy of the
        # annotation spans them again (key_averages() merges both, counting every kernel twice)
        if event.device_type == DeviceType.CPU and event.name.startswith("seco:") and event.name[5:] in PHASES:
            for clock in clocks:
                time_us = event.device_time_total if clock == "device" else event.cpu_time_total
                totals[clock][event.name[5:]] += time_us / 1000.0 / len(batches)
    return totals


def _syncs(run: Training, batch: dict, device: torch.device) -> tuple[int, dict[str, int]]:
    """Host synchronisations during one step."""
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run.step(run.net, batch, 10**6)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        where = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in caught)
        return len(caught), dict(where)
    counter = SyncCounter()
    optimizer_step = run.optimizer.step

    def uncounted_step(*args: Any, **kwargs: Any) -> Any:
        counter.active = False
        try:
            return optimizer_step(*args, **kwargs)
        finally:
            counter.active = True

    run.optimizer.step = uncounted_step  # type: ignore[method-assign]
    try:
        with counter:
            run.step(run.net, batch, 10**6)
    finally:
        run.optimizer.step = optimizer_step  # type: ignore[method-assign]
    return counter.count, counter.ops


@dataclass
class Variant:
    """One variant's training objects and its batch source, kept for the interleaved timing."""

    cfg: Config
    run: Training
    batch: Callable[[], dict]


def prepare(cfg: Config, device: torch.device, steps: int, warmup: int, random_data: bool,
            ) -> tuple[Variant, dict[str, Any]]:
    """Build one variant, warm it up and measure what does not need a clock: peak memory, per-phase profile
    and host syncs. Peak memory is that of the warm-up and profiled steps; on CUDA less the memory another
    variant still holds, on the CPU the process's peak RSS so far."""
    names = default_class_names(cfg.data)
    if device.type == "cuda":
        _sync(device)
        resident = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    run = build_training(cfg, device, len(names), names)
    gen = torch.Generator().manual_seed(0)
    stream = None if random_data else _real_batches(cfg, device)

    def batch() -> dict:
        return _random_batch(cfg, len(names), device, gen) if random_data else next(stream)

    for _ in range(warmup):
        run.step(run.net, batch(), 10**6)  # an iteration past every loss's start
    profiled = [batch() for _ in range(min(steps, 5))]
    phases = _phases(run, profiled, device)
    peak = (torch.cuda.max_memory_allocated(device) - resident if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    syncs, sync_ops = _syncs(run, profiled[0], device)
    return Variant(cfg, run, batch), {"peak_memory_mib": peak / 2**20, "phases_ms": phases,
                                      "host_syncs_per_step": syncs, "sync_ops": sync_ops}


def time_interleaved(variants: list[Variant], device: torch.device, steps: int) -> list[list[float]]:
    """Seconds of each timed step, the variants' steps alternating, so that a shared machine's load falls
    on all of them alike."""
    batches = [[v.batch() for _ in range(steps)] for v in variants]
    seconds: list[list[float]] = [[] for _ in variants]
    for index in range(steps):
        for variant, own, times in zip(variants, batches, seconds):
            _sync(device)
            start = time.perf_counter()
            variant.run.step(variant.run.net, own[index], 10**6)
            _sync(device)
            times.append(time.perf_counter() - start)
    return seconds


def summary(cfg: Config, seconds: list[float], measured: dict[str, Any]) -> dict[str, Any]:
    """A variant's row: the median step (robust to a shared machine's bursts), its rate and projections."""
    per_step = statistics.median(seconds)
    return {
        "s_per_step": per_step,
        "images_per_s": cfg.train.batch_size / per_step,
        **measured,
        "step_seconds": seconds,
        "projected_minutes": {name: per_step * iters / 60 for name, iters in SCHEDULES.items()},
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _fused_attention(cfg: Config) -> bool:
    """Whether the encoder's attention blocks use F.scaled_dot_product_attention (timm's fused_attn)."""
    from seco.model import build_model

    model_cfg = apply_overrides(cfg, ["model.pretrained=false"]).model
    net = build_model(model_cfg, len(default_class_names(cfg.data)))
    flags = [m.fused_attn for m in net.modules() if hasattr(m, "fused_attn")]
    return bool(flags) and all(flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="synthetic")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--random-data", action="store_true", help="random tensors instead of the data set")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_step.json"))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    device = torch.device(args.device)
    base = load_config(args.config, [*args.overrides, "model.pretrained=false", "model.weights="])
    load_before = os.getloadavg()
    names = ("baseline (cls + aux)", "SeCo (every loss on)")
    prepared = [prepare(apply_overrides(base, extra), device, args.steps, args.warmup, args.random_data)
                for extra in (BASELINE, ALL_ON)]
    seconds = time_interleaved([variant for variant, _ in prepared], device, args.steps)
    rows = [{"variant": name, **summary(variant.cfg, times, measured)}
            for name, (variant, measured), times in zip(names, prepared, seconds)]
    meta = {"config": args.config, "fidelity": base.method.fidelity, "device": _device_name(device),
            "batch_size": base.train.batch_size, "crop_size": base.data.crop_size, "model": base.model.name,
            "amp_bf16": base.train.amp and device.type == "cuda", "compile": base.train.compile or "off",
            "fused_attention": _fused_attention(base), "torch": torch.__version__, "overrides": args.overrides,
            "random_data": args.random_data, "steps": args.steps, "warmup": args.warmup,
            "timing": "variants' steps alternate; s/step is each one's median",
            "load_average_1_5_15": {"before": load_before, "after": os.getloadavg()}}
    print(f"train step: config {args.config}, fidelity {meta['fidelity']}, batch {meta['batch_size']}, crop "
          f"{meta['crop_size']}, model {meta['model']}, {meta['device']}, bf16 {meta['amp_bf16']}, compile "
          f"{meta['compile']}, fused attention {meta['fused_attention']}")
    header = f"{'variant':<22} {'s/step':>8} {'img/s':>8} {'peak MiB':>9} {'syncs':>6} " + " ".join(
        f"{n:>9}" for n in SCHEDULES)
    print(header + "\n" + "-" * len(header))
    for row in rows:
        projected = " ".join(f"{row['projected_minutes'][n]:>8.0f}m" for n in SCHEDULES)
        print(f"{row['variant']:<22} {row['s_per_step']:>8.3f} {row['images_per_s']:>8.1f} "
              f"{row['peak_memory_mib']:>9.0f} {row['host_syncs_per_step']:>6} {projected}")
    ratio = rows[1]["s_per_step"] / rows[0]["s_per_step"]
    print(f"SeCo step / baseline step: {ratio:.2f}x (median steps, alternating; load average "
          f"{load_before[0]:.1f} before, {meta['load_average_1_5_15']['after'][0]:.1f} after)")
    for clock in rows[0]["phases_ms"]:
        print(f"\nper phase, ms of {clock} time per step (profiled run)")
        print(f"{'phase':<22} " + " ".join(f"{r['variant'][:14]:>14}" for r in rows))
        for phase in PHASES:
            print(f"{phase:<22} " + " ".join(f"{r['phases_ms'][clock][phase]:>14.1f}" for r in rows))
    for row in rows:
        if row["sync_ops"]:
            print(f"syncing operators, {row['variant']}: {row['sync_ops']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "seco_over_baseline": ratio}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
