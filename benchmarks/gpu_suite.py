"""Every GPU measurement of issue 27 in one call, or `seco bench scale` in another (run by gpu_suite.sh).

Step mode (the default) runs benchmarks/train_step.py, each in its own process
with its own time limit, most important first, within ``--budget`` seconds:

1. VOC, ViT-B/16 at 448 px, batch 4, bf16, ``fidelity: public``, every loss
   on (the CAM baseline beside it): s/step, peak memory and host syncs
   counted on CUDA; once per dense-energy kernel when the config has the
   switch ``method.losses.reg.kernel`` (the choices its field declares,
   ``seco.config.switch_choices``; ``--kernels`` names them instead), the
   config's default first;
2. the tiny synthetic config, baseline against SeCo;
3. VOC again with ``train.compile=default`` (a lever; GPU only).

It writes each run's JSON, ``gpu_suite.json`` (the card, every item's exit
status and numbers, and issue 27's GPU targets judged) and
``gpu_suite_log.txt`` under ``docs/bench/<card>/``. ``--dry-run`` runs the
same items on the CPU at tiny sizes (one step each) into
``benchmarks/results/gpu_suite_dryrun/``: a test runs it.

``--scale`` runs ``seco bench scale`` instead (its own call: about 9
minutes), optionally under CUDA MPS (``--mps``: kernels of the processes
sharing the GPU may then overlap; probed first, dropped if it does not
answer), stops it at ``--budget`` and keeps its tables, figure, progress,
start weights and the runs' small files in ``docs/bench/<card>/scale/``.
Arguments after ``--`` go to ``seco bench scale``.

``--copy-to DIR`` copies what a remote caller needs into DIR: at most 8
files (the summary, the log and one archive of the folder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STEP = [sys.executable, str(ROOT / "benchmarks" / "train_step.py")]
VOC_GPU = ["--config", "voc", "--random-data", "--device", "cuda", "method.fidelity=public", "train.amp=true"]
VOC_TINY = ["--config", "voc", "--random-data", "--device", "cpu", "--steps", "1", "--warmup", "1",
            "method.fidelity=public", "train.amp=true", "data.crop_size=64", "train.batch_size=2",
            "model.kwargs={embed_dim: 32, depth: 3, num_heads: 2}", "model.proj_hidden=64", "model.proj_dim=32",
            "method.decomposition.patch_size=16", "method.decomposition.global_size=32",
            "method.decomposition.border_margin=8", "method.decomposition.num_patches=2",
            "method.reservoir.capacity=16", "method.cam.scales=[1.0,0.5]", "method.par.dilations=[1,2]",
            "method.par.num_iter=2"]
TINY_GPU = ["--device", "cuda"]
TINY_CPU = ["--device", "cpu", "--steps", "1", "--warmup", "1", "data.synthetic.n_train=24", "data.synthetic.n_val=8",
            "train.batch_size=4", "method.reservoir.capacity=48", "model.proj_hidden=64", "model.proj_dim=32",
            "model.kwargs={embed_dim: 32, depth: 3, num_heads: 2, patch_size: 8, img_size: 96}"]
KERNEL_KEY = "method.losses.reg.kernel"
TARGETS = {"voc_seco_s_per_step": 0.12, "voc_peak_gb": 16.0, "voc_host_syncs": 0, "tiny_seco_over_baseline": 2.0}
"""Issue 27's GPU targets: VOC public bf16 SeCo step (s), its peak memory (GB of 10^9 bytes), host syncs per
step, and the tiny config's SeCo step over its baseline's."""
SCALE_COPIES = ("scale.md", "scale.json", "diagnostics.png", "progress.json")
RUN_FILES = ("metrics.json", "bkg_selection.json", "config.yaml", "report.md", "bench.log")


@dataclass
class Item:
    """One measurement: a command, its time limit, and what became of it."""

    name: str
    argv: list[str]
    limit: float
    out: Path | None = None
    gpu_only: bool = False
    status: str = "pending"
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)


def card_slug(name: str) -> str:
    """A folder name for a device: 'NVIDIA H100 80GB HBM3' -> 'h100', 'NVIDIA GeForce RTX 4090' -> 'rtx-4090'."""
    words = [w for w in re.sub(r"[^\w\s-]", " ", name).split() if w.lower() not in ("nvidia", "geforce", "tesla")]
    if not words:
        return "gpu"
    first = words[0].split("-")[0].lower()
    if first in ("rtx", "gtx", "quadro") and len(words) > 1:
        first += "-" + words[1].split("-")[0].lower()
    return first


def _device() -> tuple[str, dict[str, Any]]:
    """The card's name and versions; an error line when no CUDA device is visible."""
    import torch

    if not torch.cuda.is_available():
        sys.exit(f"gpu_suite: no CUDA device visible to torch {torch.__version__} (CUDA {torch.version.cuda}); "
                 "run it on a GPU machine, or pass --dry-run to check it on the CPU")
    name = torch.cuda.get_device_name()
    return name, {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda}


def kernel_choices(given: str | None) -> tuple[list[str], str | None]:
    """The dense-energy kernels to measure and the VOC config's default: ``--kernels`` or the config's switch
    (an empty list when the config has none), without the one ``auto`` stands for on CUDA (it would be timed twice,
    and every VOC item costs up to two minutes of the suite's budget)."""
    from seco.config import Config, load_config, switch_choices

    switches, default = switch_choices(Config), None
    if KERNEL_KEY in switches:
        default = str(load_config("voc").method.losses.reg.kernel)
    if given:
        return [k.strip() for k in given.split(",") if k.strip()], default
    choices = [str(k) for k in switches.get(KERNEL_KEY, ())]
    if default == "auto":  # the kernel auto runs on CUDA is measured as the default item, not twice
        from seco.method.losses.dense_energy import AUTO_KERNEL

        choices.remove(AUTO_KERNEL["cuda"])
    return sorted(choices, key=lambda k: k != default), default


def step_items(out: Path, dry: bool, kernels: Sequence[str], default_kernel: str | None) -> list[Item]:
    """The step measurements, most important first."""
    voc, tiny = (VOC_TINY, TINY_CPU) if dry else (VOC_GPU, TINY_GPU)

    def step(name: str, args: Sequence[str], limit: float, gpu_only: bool = False) -> Item:
        path = out / f"train_step_{name}.json"
        return Item(name, [*STEP, *args, "--out", str(path)], limit, path, gpu_only)

    if not kernels:
        voc_items = [step("voc_public_bf16", voc, 120)]
    else:
        voc_items = [step(f"voc_public_bf16_{k}" + ("_default" if k == default_kernel else ""),
                          [*voc, f"{KERNEL_KEY}={k}"], 120) for k in kernels]
    compile_item = step("voc_public_bf16_compile", [*voc, "train.compile=default"], 180, gpu_only=True)
    return [voc_items[0], step("tiny", tiny, 100), *voc_items[1:], compile_item]


def _extract(path: Path) -> dict[str, Any]:
    """The headline numbers of a train_step.py JSON."""
    doc = json.loads(path.read_text())
    rows = {("baseline" if r["variant"].startswith("baseline") else "seco"): r for r in doc["rows"]}
    return {"seco_over_baseline": doc["seco_over_baseline"], "meta": doc["meta"],
            **{f"{k}_{key}": rows[k][key] for k in rows
               for key in ("s_per_step", "peak_memory_mib", "host_syncs_per_step")}}


def run_item(item: Item, log: Path, budget_end: float, dry: bool, env: dict[str, str]) -> None:
    """Run one item within its limit and what is left of the budget; its output goes to ``log``."""
    left = budget_end - time.monotonic()
    if dry and item.gpu_only:
        item.status = "skipped: GPU only"
        return
    if left < 20:
        item.status = f"skipped: {left:.0f} s of the budget left"
        return
    limit = min(item.limit, left)
    with open(log, "a") as handle:
        handle.write(f"=== {item.name} (limit {limit:.0f} s)\n$ {' '.join(item.argv)}\n")
        handle.flush()
        began = time.monotonic()
        try:
            done = subprocess.run(item.argv, stdout=handle, stderr=subprocess.STDOUT, timeout=limit, env=env,
                                  cwd=ROOT)
            item.status = "ok" if done.returncode == 0 else f"failed: exit {done.returncode}"
        except subprocess.TimeoutExpired:
            item.status = f"timed out after {limit:.0f} s"
        item.seconds = round(time.monotonic() - began, 1)
        handle.write(f"=== {item.name}: {item.status} in {item.seconds} s\n")
    if item.status == "ok" and item.out is not None and item.out.is_file():
        item.result = _extract(item.out)


def judge(items: Sequence[Item]) -> dict[str, dict[str, Any]]:
    """Issue 27's GPU targets against the default-kernel VOC item and the tiny item (``met`` None: not measured)."""
    voc = next((i.result for i in items if i.result and (i.name == "voc_public_bf16" or (
        i.name.startswith("voc_public_bf16_") and i.name.endswith("_default")))), {})
    tiny = next((i.result for i in items if i.name == "tiny" and i.result), {})
    measured = {"voc_seco_s_per_step": voc.get("seco_s_per_step"),
                "voc_peak_gb": voc["seco_peak_memory_mib"] * 2**20 / 1e9 if voc else None,
                "voc_host_syncs": voc.get("seco_host_syncs_per_step"),
                "tiny_seco_over_baseline": tiny.get("seco_over_baseline")}
    return {key: {"value": value, "target": TARGETS[key], "met": None if value is None else value <= TARGETS[key]}
            for key, value in measured.items()}


def summary_table(items: Sequence[Item]) -> str:
    lines = ["| item | status | seconds | baseline s/step | SeCo s/step | SeCo / baseline | SeCo peak MiB | syncs |",
             "|---|---|---|---|---|---|---|---|"]
    for i in items:
        def num(key: str, fmt: str, result: dict[str, Any] = i.result) -> str:
            return format(result[key], fmt) if key in result else "-"

        lines.append(f"| {i.name} | {i.status} | {i.seconds} | {num('baseline_s_per_step', '.3f')} | "
                     f"{num('seco_s_per_step', '.3f')} | {num('seco_over_baseline', '.2f')} | "
                     f"{num('seco_peak_memory_mib', '.0f')} | {num('seco_host_syncs_per_step', 'd')} |")
    return "\n".join(lines)


def _archive(folder: Path, target: Path, names: Sequence[str] | None = None) -> Path:
    """``folder`` (or only files named in ``names`` under it) as one tar.gz at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path != target and (names is None or path.name in names):
                tar.add(path, arcname=str(path.relative_to(folder.parent)))
    return target


def copy_out(files: Sequence[Path], copy_to: Path) -> None:
    """Copy ``files`` (none over 16 MiB: what a device call brings back) into ``copy_to``; say which were not."""
    copy_to.mkdir(parents=True, exist_ok=True)
    for path in files:
        if path.is_file() and path.stat().st_size <= 16 * 2**20:
            shutil.copy2(path, copy_to / path.name)
        elif path.is_file():
            print(f"gpu_suite: {path} is over 16 MiB; not copied")


def run_steps(args: argparse.Namespace, out: Path, env: dict[str, str], info: dict[str, Any]) -> int:
    """Step mode: every item, then ``gpu_suite.json`` and the table."""
    log = out / "gpu_suite_log.txt"
    kernels, default = kernel_choices(args.kernels)
    items = step_items(out, args.dry_run, kernels, default)
    budget_end = time.monotonic() + args.budget
    for item in items:
        run_item(item, log, budget_end, args.dry_run, env)
        print(f"{item.name}: {item.status} ({item.seconds} s)", flush=True)
    note = "" if kernels else f"the config has no switch {KERNEL_KEY}: one VOC run with its dense energy"
    doc = {**info, "dry_run": args.dry_run, "kernels": kernels, "default_kernel": default, "kernel_note": note,
           "items": [{"name": i.name, "argv": i.argv, "status": i.status, "seconds": i.seconds, "result": i.result}
                     for i in items], "targets": judge(items)}
    (out / "gpu_suite.json").write_text(json.dumps(doc, indent=2))
    table = summary_table(items)
    with open(log, "a") as handle:
        handle.write(table + "\n" + json.dumps(doc["targets"]) + "\n")
    print(table)
    label = "targets (dry run: CPU numbers, not the GPU's)" if args.dry_run else "targets"
    print(f"{label}: " + ", ".join(f"{k} {v['value']} (<= {v['target']}): {v['met']}"
                                   for k, v in doc["targets"].items()))
    print(f"wrote {out / 'gpu_suite.json'} and {log}")
    if args.copy_to:
        copy_out([out / "gpu_suite.json", log], args.copy_to)
        _archive(out, args.copy_to / f"{out.name}.tar.gz")
    return 0 if all(i.status == "ok" or i.status.startswith("skipped") for i in items) else 1


def _mps(env: dict[str, str], work: Path, log: Path) -> dict[str, str] | None:
    """Start the CUDA MPS daemon and check that a CUDA process answers under it; None (and stopped) if not."""
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None:
        _note(log, "MPS: nvidia-cuda-mps-control not found; the processes share the GPU by time slices")
        return None
    mps = {**env, "CUDA_MPS_PIPE_DIRECTORY": str(work / "mps-pipe"), "CUDA_MPS_LOG_DIRECTORY": str(work / "mps-log")}
    for key in ("CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY"):
        Path(mps[key]).mkdir(parents=True, exist_ok=True)
    probe = [sys.executable, "-c", "import torch; print(float(torch.ones(8, device='cuda').sum()))"]
    try:
        subprocess.run([control, "-d"], env=mps, timeout=20, check=True)
        subprocess.run(probe, env=mps, timeout=60, check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError) as err:
        _note(log, f"MPS: did not answer ({type(err).__name__}); stopped, running without it")
        _stop_mps(mps)
        return None
    _note(log, "MPS: on")
    return mps


def _stop_mps(mps: dict[str, str]) -> None:
    control = shutil.which("nvidia-cuda-mps-control")
    if control is not None:
        subprocess.run([control], input="quit\n", text=True, env=mps, timeout=20, check=False)


def _stop_group(process: subprocess.Popen) -> int:
    """SIGTERM to the process and its workers (each run checkpoints and stops), SIGKILL after 60 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def _note(log: Path, text: str) -> None:
    print(text, flush=True)
    with open(log, "a") as handle:
        handle.write(text + "\n")


def run_scale(args: argparse.Namespace, out: Path, env: dict[str, str], info: dict[str, Any]) -> int:
    """Scale mode: ``seco bench scale`` within the budget, its small files kept in ``out/scale``."""
    folder = out / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "scale_log.txt"
    runs = ROOT / "runs" / "bench" / f"scale-{out.name}"
    mps = _mps(env, runs, log) if args.mps and not args.dry_run else None
    extra = ["--tiny"] if args.dry_run else ["--deadline", str(max(60, args.budget - 90))]
    argv = [sys.executable, "-m", "seco.cli", "bench", "scale", "--out", str(runs), *extra, *args.scale_args]
    _note(log, f"$ {' '.join(argv)}")
    began = time.monotonic()
    with open(log, "a") as handle:
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=mps or env, cwd=ROOT,
                                   start_new_session=True)
        try:
            code = process.wait(timeout=args.budget)
        except subprocess.TimeoutExpired:
            code = _stop_group(process)
            handle.write(f"stopped at the budget, {args.budget:.0f} s\n")
    if mps is not None:
        _stop_mps(mps)
    _note(log, f"seco bench scale: exit {code} after {time.monotonic() - began:.0f} s")
    for name in SCALE_COPIES:
        if (runs / name).is_file():
            shutil.copy2(runs / name, folder / name)
    weights = runs / "start" / "encoder.pth"
    if weights.is_file():
        shutil.copy2(weights, folder / "encoder.pth")
    (folder / "device.json").write_text(json.dumps(info, indent=2))
    if args.copy_to:
        copy_out([folder / n for n in (*SCALE_COPIES, "encoder.pth")] + [log], args.copy_to)
        _archive(runs, args.copy_to / "scale_runs.tar.gz", RUN_FILES)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the same items on the CPU at tiny sizes")
    parser.add_argument("--scale", action="store_true", help="run `seco bench scale` instead of the step items")
    parser.add_argument("--mps", action="store_true", help="with --scale: share the GPU through CUDA MPS")
    parser.add_argument("--kernels", default=None, help=f"comma list of {KERNEL_KEY} values (default: the "
                                                          "config's choices, or none without the switch)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for everything (default 450 for the steps, 540 for --scale)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder (default docs/bench/<card>, or benchmarks/results/gpu_suite_dryrun)")
    parser.add_argument("--copy-to", type=Path, default=None, help="also copy the results here (e.g. $OUT)")
    parser.add_argument("scale_args", nargs="*", help="after --: arguments of `seco bench scale`")
    args = parser.parse_args(argv)
    if args.scale_args and not args.scale:
        parser.error(f"arguments {' '.join(args.scale_args)} belong to --scale (after --)")
    args.budget = args.budget or (540.0 if args.scale else 450.0)
    if args.dry_run:
        import platform

        import torch

        info = {"device": f"CPU ({platform.machine()})", "torch": torch.__version__, "cuda": None}
        out = args.out or ROOT / "benchmarks" / "results" / "gpu_suite_dryrun"
    else:
        name, info = _device()
        out = args.out or ROOT / "docs" / "bench" / card_slug(name)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("SECO_CACHE", str(ROOT / "runs" / "cache"))
    return (run_scale if args.scale else run_steps)(args, out, env, info)


if __name__ == "__main__":
    sys.exit(main())
