"""``seco bench scale``: the miniature of the paper's setting on one GPU, in one call.

The CPU miniature (:mod:`seco.bench.ablation`: 96 px, 1,200 images, a
4-block ViT, 220 iterations) cannot say whether SeCo's gain appears where the
paper's premise holds. This command scales every size at once and runs the
four rows that answer it (CAM baseline, + PTC, SeCo ``public``, SeCo
``paper``) over seeds, in four phases:

1. checks the device, GPU memory, disk and cores (:mod:`seco.bench.scale_check`);
2. pretrains a larger ViT on larger images with ``seco pretrain`` (unless
   ``--start`` gives one), while worker processes generate a larger synthetic
   benchmark beside it (same scene, context and pair rules);
3. trains variants x seeds as processes sharing the device
   (:mod:`seco.bench.scale_jobs`), each evaluated as ``seco bench ablation``
   evaluates (CAM, mask, seg, FP/TP, pairs, contrast diagnostics, tag agreement,
   the background score chosen on train);
4. writes ``scale.json``, ``scale.md`` and ``diagnostics.png`` (the ablation's
   tables, after each finished run) with the card, the sizes and each phase's
   wall time.

Every run config is the synthetic config with the sizes of
:class:`~seco.bench.scale_settings.ScaleSettings`: the schedule's start
iterations and the teacher's EMA are stretched to the longer schedule (the
same fractions of it as in the miniature), the local patches keep their side
in pixels (a part of an object, not a whole one, at 160 px) and the global
views are half the crop, as in both the miniature and the paper.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import threading
import time
from collections.abc import Sequence
from functools import reduce
from pathlib import Path
from typing import Any

import torch

from seco.bench.ablation import VariantRun, check_variants, target_lines, write_benchmark
from seco.bench.scale_check import check_resources
from seco.bench.scale_jobs import PROGRESS, Job, JobPool
from seco.bench.scale_settings import ScaleSettings
from seco.bench.threshold import DEFAULT_GRID, check_grid
from seco.config import Config, ConfigError, DataConfig, SyntheticConfig, load_config
from seco.pretrain.settings import SCHEDULE, PretrainSettings
from seco.synthetic.cache import ensure_synthetic, synthetic_dir

__all__ = ["STRETCHED", "data_root", "model_overrides", "pretrain_settings", "run_overrides", "run_scale", "start_path",
           "summary_lines"]

STRETCHED = ("train.warmup_iters", "train.log_every", "train.ckpt_every", "method.prototypes.start_iter",
             "method.losses.ptc.start_iter", "method.losses.lig.start_iter", "method.losses.lil.start_iter",
             "method.losses.seg.start_iter", "method.losses.reg.start_iter", "method.decomposition.tag_switch_iter")
"""Iteration counts of the synthetic config that keep their fraction of the schedule."""
START = "start"
WEIGHTS = "encoder.pth"


def _stretched(base: Config, key: str, stretch: float) -> int:
    """``key`` of ``base`` times ``stretch``, rounded; an interval (``*_every``) stays at least 1."""
    value = round(reduce(getattr, key.split("."), base) * stretch)
    return max(1, value) if key.endswith("_every") else value


def model_overrides(s: ScaleSettings) -> list[str]:
    """The ViT of these sizes, its projection head at the miniature's ratios (hidden 2x, output 1x the width)."""
    return [f"model.kwargs={{embed_dim: {s.width}, depth: {s.depth}, num_heads: {s.heads}, "
            f"patch_size: {s.patch}, img_size: {s.image_size}}}",
            f"model.proj_hidden={2 * s.width}", f"model.proj_dim={s.width}"]


def run_overrides(s: ScaleSettings, data_root: Path, start: Path) -> list[str]:
    """Overrides that turn the synthetic config into one run of the scale benchmark."""
    base = load_config("synthetic")
    stretch = s.iterations / base.train.iterations
    dec, reservoir = base.method.decomposition, base.method.reservoir
    steps_held = reservoir.capacity // (base.train.batch_size * (dec.num_patches + dec.num_global))
    momentum = base.method.teacher.momentum ** (1.0 / stretch)  # the same decay per fraction of the schedule
    return [
        *model_overrides(s), f"model.weights={start}", "model.weights_sha256=",
        f"data.root={data_root}", f"data.synthetic.n_train={s.n_train}", f"data.synthetic.n_val={s.n_val}",
        f"data.synthetic.image_size={s.image_size}", f"data.crop_size={s.image_size}",
        f"data.num_workers={s.loader_workers}",
        f"method.decomposition.patch_size={s.local_patch}", f"method.decomposition.num_patches={s.num_patches}",
        f"method.decomposition.global_size={s.image_size // 2}",
        f"method.decomposition.border_margin={s.local_patch // 2}",
        f"method.reservoir.capacity={steps_held * s.batch_size * (s.num_patches + dec.num_global)}",
        f"method.teacher.momentum={momentum:.6f}",
        *(f"{key}={_stretched(base, key, stretch)}" for key in STRETCHED),
        f"train.iterations={s.iterations}", f"train.batch_size={s.batch_size}", f"train.device={s.device}",
        "train.threads=1", f"train.amp={str(s.device == 'cuda').lower()}",
    ]


def pretrain_settings(s: ScaleSettings, workers: int) -> PretrainSettings:
    """The shipped start's recipe (``seco pretrain``'s defaults) at these sizes, evaluated once at the end on
    8 batches of val images (256 at the defaults)."""
    return PretrainSettings(iterations=s.pretrain_iters, batch_size=s.pretrain_batch, image_size=s.image_size,
                            n_val=8 * s.pretrain_batch, eval_every=0,
                            ckpt_every=max(1, s.pretrain_iters // 4), workers=workers)


def start_path(s: ScaleSettings, out: Path) -> Path:
    """The start's weights: ``--start``, else ``OUT/start/encoder.pth``."""
    return Path(s.start) if s.start else out / START / WEIGHTS


def _ensure_start(s: ScaleSettings, out: Path, workers: int, progress: bool) -> dict[str, Any]:
    """The metrics of the start: ``--start`` as given, or pretrained into ``OUT/start`` (read back when it was
    pretrained there with these sizes)."""
    from seco.pretrain.train import pretrain, summarize

    weights = start_path(s, out)
    if s.start:
        return {"weights": s.start, "pretrained_here": False}
    run_dir = weights.parent
    settings = pretrain_settings(s, workers)
    cfg = load_config("synthetic", [*model_overrides(s), f"train.device={s.device}"])
    metrics_file = run_dir / "metrics.json"
    if weights.is_file() and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        ours = dataclasses.asdict(settings)
        if all(metrics["settings"].get(k) == ours[k] for k in SCHEDULE) and metrics["model"] == dataclasses.asdict(
                dataclasses.replace(cfg.model, pretrained=False, weights="")):
            print(f"start: {weights}, pretrained earlier with these sizes")
            return {**metrics, "pretrained_here": False}
        raise ConfigError(f"{run_dir} holds a start pretrained with other sizes; pass another --out, or --start "
                          f"{weights} to use it")
    if s.device == "cuda":  # the pretraining's matmuls in TF32 (the runs use bf16 autocast)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    result = pretrain(cfg, settings, weights, run_dir, resume=True, progress=progress, overwrite=True)
    print(f"start: pretrained {result.iterations} steps in {result.seconds:.0f} s ({result.images_per_second:.0f} "
          f"img/s); {summarize(result.metrics['val'])}")
    return {**result.metrics, "pretrained_here": True}


def _synthetic(s: ScaleSettings) -> SyntheticConfig:
    return SyntheticConfig(n_train=s.n_train, n_val=s.n_val, image_size=s.image_size)


def data_root(s: ScaleSettings, out: Path) -> Path:
    """The benchmark's folder: ``OUT/data/synthetic-<hash of its settings>``."""
    return out / "data" / synthetic_dir(_synthetic(s)).name


def _ensure_data(s: ScaleSettings, out: Path) -> Path:
    """The benchmark of these sizes in :func:`data_root` (generated once, by ``--gen-workers`` processes)."""
    root = data_root(s, out)
    root.mkdir(parents=True, exist_ok=True)
    return ensure_synthetic(DataConfig(format="synthetic", root=str(root), synthetic=_synthetic(s)), s.gen_workers)


class _Background(threading.Thread):
    """:func:`_ensure_data` in a thread beside the pretraining; ``result()`` re-raises its error."""

    def __init__(self, s: ScaleSettings, out: Path) -> None:
        super().__init__(daemon=True)
        self.s, self.out, self.root, self.error, self.seconds = s, out, None, None, 0.0

    def run(self) -> None:
        began = time.perf_counter()
        try:
            self.root = _ensure_data(self.s, self.out)
        except BaseException as err:  # handed to the main thread
            self.error = err
        self.seconds = time.perf_counter() - began

    def result(self) -> Path:
        self.join()
        if self.error is not None:
            raise self.error
        return self.root


class _ScaleRun:
    """One ``seco bench scale`` call: its plan (checked on creation), its results and its files."""

    def __init__(self, s: ScaleSettings, variants: Sequence[str], out: Path, overrides: Sequence[str],
                 grid: Sequence[float]) -> None:
        self.began, self.deadline_at = time.perf_counter(), time.monotonic() + s.deadline if s.deadline else None
        check_variants(variants)
        self.s, self.out, self.overrides = s, Path(out), list(overrides)
        self.grid = check_grid(grid) if grid else ()
        self.seeds = list(range(s.seeds))
        self.jobs = [Job(name, seed, self.out) for seed in self.seeds for name in variants]
        self.per_run = [*run_overrides(s, data_root(s, self.out), start_path(s, self.out)), *overrides]
        load_config("ablations/seco", self.per_run)  # a bad size or override stops here, before any work
        self.res = check_resources(s, self.out, len(self.jobs))
        self.runs: dict[str, list[VariantRun]] = {name: [] for name in variants}
        self.meta: dict[str, Any] = {
            "device": self.res.device, "torch": torch.__version__, "python": platform.python_version(),
            "settings": dataclasses.asdict(s), "resources": dataclasses.asdict(self.res),
            "run_overrides": self.per_run, "seconds": {}, "start": {}, "failed": []}

    def plan_line(self) -> str:
        res = self.res
        gpu = f", {res.gpu_free_gib:.0f} GiB GPU memory free" if res.gpu_free_gib is not None else ""
        return (f"bench scale: {res.device}, {res.cores} cores (load {res.load:.1f}), {res.procs} training "
                f"processes for {len(self.jobs)} runs, disk {res.disk_need_gib:.1f} of {res.disk_free_gib:.0f} GiB "
                f"free{gpu}")

    def prepare(self, progress: bool) -> None:
        """The start (pretrained unless given) and, beside it, the benchmark."""
        data = _Background(self.s, self.out)
        data.start()
        start = _ensure_start(self.s, self.out, self.res.pretrain_workers, progress)
        self.meta["start"] = {k: v for k, v in start.items() if k != "settings"}
        if self.s.device == "cuda":
            torch.cuda.empty_cache()  # the pretraining's cache back to the card, for the runs
        self.meta["seconds"]["start"] = time.perf_counter() - self.began
        data.result()
        self.meta["seconds"]["data (beside the start)"] = data.seconds

    def train(self, pool: JobPool, poll: float) -> dict[str, Any]:
        """Every job on ``pool``; the tables after each finished one; a ConfigError when some failed."""
        trained = time.perf_counter()

        def finished(job: Job, run: VariantRun) -> None:
            self.runs[job.variant].append(run)
            self.write(time.perf_counter() - trained, figure=False)
            print(f"[{time.perf_counter() - trained:.0f} s] {job.name} done", flush=True)

        failed = pool.run(self.jobs, self.per_run, self.grid, self.s.select_images, finished, self.out / PROGRESS,
                          self.deadline_at, poll)
        self.meta["failed"] = sorted(f"{job.name}: {error}" for job, error in failed.items())
        doc = self.write(time.perf_counter() - trained) if any(self.runs.values()) else {"meta": self.meta}
        if failed:
            raise ConfigError(f"{len(failed)} of {len(self.jobs)} runs failed ({'; '.join(self.meta['failed'])}); "
                              f"the others' tables are in {self.out / 'scale.md'}")
        return doc

    def write(self, run_seconds: float, figure: bool = True) -> dict[str, Any]:
        """``scale.json``, ``scale.md`` and (with ``figure``) ``diagnostics.png`` of the runs finished so far."""
        self.meta["seconds"]["runs"] = run_seconds
        self.meta["seconds"]["total"] = time.perf_counter() - self.began
        for done in self.runs.values():
            done.sort(key=lambda run: run.document.get("meta", {}).get("seed", 0))
        return write_benchmark(self.runs, self.seeds, self.out, self.overrides, self.grid, stem="scale",
                               meta=self.meta, preface=self.preface(), figure=figure)

    def preface(self) -> str:
        """The opening of ``scale.md``: device, sizes, processes, the start and each phase's wall time."""
        start, res = self.meta["start"], self.res
        made = (f"pretrained here ({start['iterations']} steps, {start['train_seconds']:.0f} s)"
                if start.get("pretrained_here") else start.get("weights", ""))
        sizes = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(self.s).items() if k != "start")
        phases = ", ".join(f"{name} {sec:.0f} s" for name, sec in self.meta["seconds"].items())
        failed = f"- failed runs: {', '.join(self.meta['failed'])}\n" if self.meta["failed"] else ""
        return (f"# SeCo at scale: {res.device}\n\n- sizes: {sizes}\n- processes: {res.procs} sharing the device, "
                f"{res.cores} cores\n- start: {made}\n- wall time: {phases}\n{failed}\n")


def run_scale(s: ScaleSettings, variants: Sequence[str], out: Path, overrides: Sequence[str] = (),
              grid: Sequence[float] = DEFAULT_GRID, progress: bool = True, poll: float = 30.0) -> dict[str, Any]:
    """Check, pretrain and generate, train ``variants`` x ``s.seeds`` seeds, write ``OUT/scale.{json,md}``.

    ``overrides`` apply to every run after the sizes'. Returns the document
    of :func:`~seco.bench.ablation.write_benchmark` with a ``meta`` block
    (device, sizes, process counts, each phase's seconds, the start's metrics,
    the failed runs). Raises :class:`~seco.config.ConfigError` when a resource
    is missing, when ``--deadline`` stops the runs, or when a run failed.
    """
    run = _ScaleRun(s, variants, out, overrides, grid)
    print(run.plan_line(), flush=True)
    run.out.mkdir(parents=True, exist_ok=True)
    with JobPool(run.res.procs) as pool:  # the workers start while the start and the data are made
        run.prepare(progress)
        return run.train(pool, poll)


def summary_lines(doc: dict[str, Any], out: Path) -> list[str]:
    """What the command prints after the tables: the target verdicts and where the files are."""
    return [*target_lines(doc), f"wall time {doc['meta']['seconds']['total']:.0f} s; wrote {out / 'scale.json'}, "
            f"{out / 'scale.md'} and {out / 'diagnostics.png'}"]
