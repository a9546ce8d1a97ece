"""The reg loss's dense energy, kernel against kernel: s/call, peak memory and error against the exact ``blocked``.

The energy ``-1e-7 / B sum_i g_i S_i . (W S)_i`` (``dense_energy_loss``, the ``reg`` row of docs/method.md) is
timed forward and backward, once per kernel of ``method.losses.reg.kernel`` (``blocked``, ``sdpa``, ``lattice``),
at the sizes of a config (``--configs``; default the synthetic config's, batch 32 crops of 96 px with the energy at
scale 0.25, 24 x 24 maps, and VOC's, batch 4 crops of 448 px at scale 0.5, 224 x 224 maps), on inputs made like a
crop's: a softmax of smooth random logits over the config's classes, and colours mixing smooth gradients with
flat blocks (edges). Each (config, kernel) runs in its own process, so its peak memory is its own: on a CPU the
process's peak resident memory (VmHWM) less its resident memory before the first call, on CUDA
``torch.cuda.max_memory_allocated`` less what was allocated before. The errors are relative to ``blocked`` on the
same inputs: of the energy, and of its gradient (norm of the difference over the norm). A last table is the
lattice's kernel itself, in a flat-colour image: the weight one pixel gives another r feature units away (the
exact kernel's ``exp(-r^2 / 2)``), a pixel's self weight (exactly 1) and the weights' sum against the Gaussian's.

    OMP_NUM_THREADS=2 python benchmarks/dense_energy.py --out docs/bench/cpu/dense_energy.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

KERNELS = ("blocked", "sdpa", "lattice")


def inputs(config: str, device: torch.device) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
    """The config's energy sizes and bandwidths, and (probs, rgb, valid, pseudo) of its shape."""
    from seco.config import load_config
    from seco.data import default_class_names
    from seco.labels import IGNORE_INDEX

    cfg = load_config(config)
    reg, batch, crop = cfg.method.losses.reg, cfg.train.batch_size, cfg.data.crop_size
    classes = len(default_class_names(cfg.data))
    gen = torch.Generator().manual_seed(0)
    logits = F.interpolate(4 * torch.randn(batch, classes, 8, 8, generator=gen), size=(crop, crop), mode="bilinear")
    smooth = F.interpolate(torch.rand(batch, 3, 6, 6, generator=gen), size=(crop, crop), mode="bilinear")
    blocks = F.interpolate(torch.rand(batch, 3, 12, 12, generator=gen), size=(crop, crop), mode="nearest")
    probs, rgb = logits.softmax(1), 0.5 * (smooth + blocks)
    valid = torch.ones(batch, crop, crop, dtype=torch.bool)
    valid[:, :, crop - crop // 8 :] = False  # a crop box that does not fill the crop
    pseudo = probs.argmax(1)
    pseudo[probs.amax(1) < 0.6] = IGNORE_INDEX
    size = {"config": config, "batch": batch, "classes": classes, "crop": crop, "scale": reg.scale,
            "map": int(crop * reg.scale), "sigma_rgb": reg.sigma_rgb, "sigma_xy": reg.sigma_xy}
    return size, tuple(t.to(device) for t in (probs, rgb, valid, pseudo))


def measure_one(config: str, kernel: str, repeats: int, warmup: int, device: torch.device, grad_path: Path) -> dict:
    """Times ``repeats`` forward+backward calls of one kernel after ``warmup``; saves the last gradient."""
    from seco.method.losses.dense_energy import dense_energy_loss

    size, (probs, rgb, valid, pseudo) = inputs(config, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        _reset_peak_rss()
    before = torch.cuda.memory_allocated() if cuda else _proc_kb("VmRSS") * 1024
    seconds, loss, grad = [], torch.zeros(()), torch.zeros(())
    for call in range(warmup + repeats):
        leaf = probs.clone().requires_grad_(True)
        start = time.perf_counter()
        loss = dense_energy_loss(leaf, rgb, valid, pseudo, size["sigma_rgb"], size["sigma_xy"], size["scale"], kernel)
        loss.backward()
        if cuda:
            torch.cuda.synchronize()
        if call >= warmup:
            seconds.append(time.perf_counter() - start)
        grad = leaf.grad
    peak = torch.cuda.max_memory_allocated() if cuda else _proc_kb("VmHWM") * 1024
    torch.save(grad.cpu(), grad_path)
    return {**size, "kernel": kernel, "device": str(device), "threads": torch.get_num_threads(),
            "s_per_call": statistics.median(seconds), "s_all": seconds, "peak_mb": (peak - before) / 2**20,
            "loss": loss.item()}


def gradient_errors(grad: torch.Tensor, exact: torch.Tensor) -> tuple[float, float]:
    """``|g - g*| / |g*|``, and the same after scaling g by the least-squares factor ``<g, g*> / <g, g>`` (the
    error of the gradient's direction and shape, whatever its overall scale)."""
    scale = (grad * exact).sum() / (grad * grad).sum().clamp_min(1e-30)
    return ((grad - exact).norm() / exact.norm()).item(), ((scale * grad - exact).norm() / exact.norm()).item()


def _reset_peak_rss() -> None:
    """Sets VmHWM back to the resident memory now (Linux: ``5`` into /proc/self/clear_refs), so that the peak is
    the calls' and not the inputs' making."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("dense_energy: cannot reset the peak RSS; peak_mb includes the inputs' making", file=sys.stderr)


def _proc_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS: resident now, VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def lattice_profile(images: int = 64, size: int = 49, spacing: float = 1 / 8) -> dict[str, Any]:
    """The lattice's kernel where the energy meets it, in an image: ``images`` flat-colour images of ``size`` x
    ``size`` pixels ``spacing`` feature units apart (a 2-d surface in the 5-d feature space), each moved by a random
    5-d offset (the lattice is not shift-invariant), filtering a one at the centre pixel. Returns the weight at
    distance r along the rows and columns (mean and std over images and the four directions; the exact kernel's
    is ``exp(-r^2 / 2)``), the centre's self weight (exactly 1), a least-squares fit ``a exp(-r^2 / 2 s^2)``, and
    the weights' sum against the Gaussian's (``2 pi / spacing^2``)."""
    from seco.method.permutohedral import permutohedral_filter

    gen = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(size) * spacing, torch.arange(size) * spacing, indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).reshape(1, -1, 2).expand(images, -1, -1)
    offset = torch.rand(images, 1, 5, generator=gen) * 10
    features = torch.cat([grid, torch.zeros(images, size * size, 3)], dim=-1) + offset
    centre = size // 2
    values = torch.zeros(images, size * size, 1)
    values[:, centre * size + centre] = 1.0
    out = permutohedral_filter(values, features)[..., 0].view(images, size, size)
    rays = torch.stack([out[:, centre, centre:], out[:, centre, : centre + 1].flip(-1),
                        out[:, centre:, centre], out[:, : centre + 1, centre].flip(-1)], dim=1).flatten(0, 1)
    r = torch.arange(centre + 1, dtype=torch.float64) * spacing
    mean = rays.mean(0).double()
    rows = [{"r": r[k].item(), "mean": mean[k].item(), "std": rays[:, k].std().item(),
             "exact": math.exp(-r[k].item() ** 2 / 2)} for k in range(centre + 1)]
    own = out[:, centre, centre]
    fit = _fit_gaussian(r, mean)
    mass = (out.sum((1, 2)) * spacing**2 / (2 * math.pi)).mean().item()
    return {"profile": rows, "self_weight": {"mean": own.mean().item(), "min": own.min().item(),
                                             "max": own.max().item()},
            "fit_peak": fit[0], "fit_std": fit[1], "sum_over_gaussian": mass}


def _fit_gaussian(r: torch.Tensor, weight: torch.Tensor) -> tuple[float, float]:
    """(a, s) minimising ``sum (a exp(-r^2 / 2 s^2) - weight)^2`` over a grid of s (a in closed form)."""
    best = (math.inf, 0.0, 0.0)
    for s in torch.linspace(0.5, 2.0, 1501, dtype=torch.float64).tolist():
        shape = torch.exp(-(r**2) / (2 * s * s))
        a = (shape * weight).sum() / (shape * shape).sum()
        err = ((a * shape - weight) ** 2).sum().item()
        best = min(best, (err, a.item(), s))
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="synthetic,voc")
    parser.add_argument("--kernels", default=",".join(KERNELS), help="blocked first: the errors are against it")
    parser.add_argument("--repeats", default="synthetic=5,voc=2", help="timed calls per config (others: 3)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/dense_energy.json"))
    parser.add_argument("--one", nargs=3, metavar=("CONFIG", "KERNEL", "GRAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = {k: int(v) for k, v in (item.split("=") for item in args.repeats.split(",") if item)}
    if args.one:
        config, kernel, grad = args.one
        # one untimed call first where a call is short (allocator, threads); a VOC-sized exact call is not
        print(json.dumps(measure_one(config, kernel, repeats.get(config, 3), 1 if config != "voc" else 0,
                                     torch.device(args.device), Path(grad))))
        return
    kernels = [k for k in args.kernels.split(",") if k]
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in [c for c in args.configs.split(",") if c]:
            grads: dict[str, torch.Tensor] = {}
            losses: dict[str, float] = {}
            for kernel in kernels:
                grad_path = Path(tmp) / f"{config}_{kernel}.pt"
                done = subprocess.run([sys.executable, __file__, "--one", config, kernel, str(grad_path),
                                       "--repeats", args.repeats, "--device", args.device],
                                      capture_output=True, text=True)
                if done.returncode != 0:  # e.g. out of memory: a row that says so, and the next kernel
                    reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                    rows.append({"config": config, "kernel": kernel, "error": reason[-300:]})
                    print(f"{config} {kernel}: failed, {reason[-300:]}", flush=True)
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                grads[kernel], losses[kernel] = torch.load(grad_path), row["loss"]
                if "blocked" in grads:
                    row["energy_rel_error"] = abs(row["loss"] - losses["blocked"]) / abs(losses["blocked"])
                    row["grad_rel_error"], row["grad_shape_error"] = gradient_errors(grads[kernel], grads["blocked"])
                rows.append(row)
                print(f"{config} {kernel}: {row['s_per_call']:.3f} s/call", flush=True)
    profile = lattice_profile()
    print(f"\n{args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}, load average "
          f"{load_before[0]:.1f} before; forward + backward of dense_energy_loss, median of the timed calls\n")
    print("| config: batch x classes x map | kernel | s/call | peak MB | energy rel. error | gradient rel. error "
          "| gradient rel. error after the best scale |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| {row['config']} | {row['kernel']} | failed: {row['error']} | | | | |")
            continue
        errors = [f"{row[k]:.1e}" if k in row else "-" for k in ("energy_rel_error", "grad_rel_error",
                                                                  "grad_shape_error")]
        print(f"| {row['config']}: {row['batch']} x {row['classes']} x {row['map']}^2 | {row['kernel']} | "
              f"{row['s_per_call']:.3f} | {row['peak_mb']:.0f} | {' | '.join(errors)} |")
    print("\nthe lattice's kernel in a flat-colour image: weight at distance r (feature units), mean ± std over "
          "64 placements x 4 directions")
    shown = profile["profile"][::4]
    print("| r | " + " | ".join(f"{p['r']:.1f}" for p in shown) + " |")
    print("|---|" + "---:|" * len(shown))
    print("| lattice | " + " | ".join(f"{p['mean']:.3f} ± {p['std']:.3f}" for p in shown) + " |")
    print("| exact | " + " | ".join(f"{p['exact']:.3f}" for p in shown) + " |")
    own = profile["self_weight"]
    print(f"self weight {own['mean']:.3f} (min {own['min']:.3f}, max {own['max']:.3f}); fit a exp(-r^2/2s^2): "
          f"a {profile['fit_peak']:.3f}, s {profile['fit_std']:.3f}; the weights' sum / the Gaussian's: "
          f"{profile['sum_over_gaussian']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": args.device, "threads": torch.get_num_threads(),
                                    "torch": torch.__version__, "load_average_before": load_before,
                                    "rows": rows, "lattice_kernel": profile}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
