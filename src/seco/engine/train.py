"""The training loop: schedule, AMP, DDP, logging, checkpoints and exact resume.

One process on the CPU or one GPU needs no distributed setup; under
``torchrun`` each process trains on its share of every epoch and gradients
are averaged by DistributedDataParallel. The seed is set once, before the
model is built; afterwards randomness comes from the seed-derived data stream
and from one ``torch.Generator`` owned by the loop, both saved in checkpoints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from seco import __version__
from seco.config import Config, save_config, to_dict
from seco.data import build_dataset
from seco.engine import dist
from seco.engine.checkpoint import LAST, latest_checkpoint, load_checkpoint, save_checkpoint
from seco.engine.loader import TrainStream, derive_seed, to_device
from seco.engine.logger import ScalarLogger
from seco.engine.optim import WarmupPoly, build_optimizer
from seco.engine.progress import progress_bar
from seco.method.step import SeCoState, StepOutput, seco_step
from seco.method.supervised import require_masks, supervised_step
from seco.model import SeCoNet, build_model

__all__ = ["NonFiniteLossError", "TrainResult", "build_training", "train"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the terms and images."""


@dataclass
class TrainResult:
    """Where a finished run lives and how fast it went."""

    run_dir: Path
    checkpoint: Path
    iterations: int
    seconds: float
    images_per_second: float


@dataclass
class Training:
    """The objects of one training run (built by :func:`build_training`)."""

    cfg: Config
    device: torch.device
    net: SeCoNet
    state: SeCoState
    optimizer: torch.optim.Optimizer
    scheduler: WarmupPoly
    generator: torch.Generator
    class_names: list[str]
    start_iteration: int = 0

    def step(self, net: torch.nn.Module, batch: dict[str, Any], iteration: int) -> tuple[StepOutput, float]:
        """One optimisation step: SeCo loss, or the ground-truth segmentation loss under
        ``train.supervision=full`` (bf16 autocast on GPU when ``train.amp``), NaN check,
        backward, AdamW, EMA of the local teacher. ``net`` is the model or its DDP wrapper.
        Returns the step output and the loss as a float.
        """
        cfg, device = self.cfg, self.device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.train.amp and device.type == "cuda"):
            if cfg.train.supervision == "full":
                out = supervised_step(net, batch)
            else:
                out = seco_step(net, self.state, batch, iteration, self.generator)
        loss_value = out.loss.item()
        _check_finite(loss_value, out, iteration, batch["name"])
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.train.grad_clip)
        self.optimizer.step()
        self.state.after_step(self.net)
        return out, loss_value

    def checkpoint(self, iteration: int) -> dict[str, Any]:
        """Everything needed to resume at ``iteration`` exactly (weights_only-safe)."""
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model": self.net.state_dict(),
            "state": self.state.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": iteration,
            "rng": rng,
            "config": to_dict(self.cfg),
            "class_names": list(self.class_names),
            "version": __version__,
        }

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Load a checkpoint written by :meth:`checkpoint` (loaded on the CPU) into these objects.

        One process resumes bit-exactly. Under torchrun every rank takes rank
        0's weights, reservoir and prototypes, and a patch-sampling stream
        derived from (seed, rank, iteration).
        """
        self.net.load_state_dict(ckpt["model"])
        self.state.load_state_dict(ckpt["state"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.start_iteration = int(ckpt["iteration"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if "cuda" in ckpt["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        if dist.world_size() == 1:
            self.generator.set_state(ckpt["rng"]["generator"])
        else:  # only rank 0 saves: give every rank its own stream again, derived from the iteration
            self.generator.manual_seed(derive_seed(self.cfg.seed, dist.rank(), 0x7A6, self.start_iteration))


def _set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def build_training(cfg: Config, device: torch.device, num_classes: int, class_names: list[str]) -> Training:
    """Seed once, then build the model, the SeCo state, the optimizer and the generator."""
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.model, num_classes).to(device)
    state = SeCoState(net, cfg.method).to(device)
    tr = cfg.train
    optimizer = build_optimizer(net.param_groups(tr.lr, tr.head_lr_mult, tr.weight_decay), tr.betas)
    scheduler = WarmupPoly(optimizer, tr.iterations, tr.warmup_iters, tr.warmup_ratio, tr.poly_power)
    generator = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, dist.rank(), 0x7A6))
    return Training(cfg, device, net, state, optimizer, scheduler, generator, class_names)


def train(cfg: Config, resume: bool = True, progress: bool = True) -> TrainResult:
    """Train SeCo (or an ablation) as configured; resume from ``out_dir/last.pt`` if present."""
    _set_threads(cfg.train.threads)
    device = dist.init_distributed(cfg.train.device)
    run_dir = Path(cfg.out_dir)
    dataset = build_dataset(cfg.data, cfg.data.train_split, train=True)
    if cfg.train.supervision == "full":
        require_masks(dataset, cfg.data.train_split)
    run = build_training(cfg, device, dataset.num_classes, list(dataset.class_names))
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    last = latest_checkpoint(run_dir) if resume else None
    if last is not None:
        run.restore(load_checkpoint(last, map_location="cpu"))
    stream = TrainStream(dataset, cfg.train.batch_size, cfg.seed, cfg.data.num_workers, dist.rank(),
                         dist.world_size())
    net: torch.nn.Module = run.net
    if dist.world_size() > 1:
        net = DistributedDataParallel(run.net, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=True)
    logger = ScalarLogger(run_dir / "tb" if dist.is_main() else None)
    try:
        seconds, done = _loop(run, net, stream, logger, progress and dist.is_main())
    finally:
        logger.close()
    images = done * cfg.train.batch_size * dist.world_size()
    return TrainResult(run_dir, run_dir / LAST, cfg.train.iterations, seconds, images / max(seconds, 1e-9))


def _loop(run: Training, net: torch.nn.Module, stream: TrainStream, logger: ScalarLogger,
          progress: bool) -> tuple[float, int]:
    cfg, device = run.cfg, run.device
    tr = cfg.train
    run.net.train()
    run.state.train()
    bar = progress_bar("train", progress, total=tr.iterations, initial=run.start_iteration)
    start = time.perf_counter()
    batches = stream.iterate(run.start_iteration)
    done = 0
    for iteration in range(run.start_iteration, tr.iterations):
        batch = to_device(next(batches), device)
        lr_factor = run.scheduler.step_to(iteration)
        out, loss_value = run.step(net, batch, iteration)
        done += 1
        rate = done * tr.batch_size / (time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss_value:.3f}", img_s=f"{rate:.1f}", refresh=False)
        bar.update(1)
        if dist.is_main() and (iteration % tr.log_every == 0 or iteration + 1 == tr.iterations):
            _log(logger, run, out, iteration, lr_factor * tr.lr, rate)
        if dist.is_main() and ((iteration + 1) % tr.ckpt_every == 0 or iteration + 1 == tr.iterations):
            save_checkpoint(run.checkpoint(iteration + 1), Path(cfg.out_dir) / LAST)
    bar.close()
    dist.barrier()
    return time.perf_counter() - start, done


def _check_finite(loss_value: float, out: StepOutput, iteration: int, names: list[str]) -> None:
    if math.isfinite(loss_value):
        return
    terms = ", ".join(f"{k}={v.item():.4g}" for k, v in out.terms.items())
    raise NonFiniteLossError(
        f"non-finite loss at iteration {iteration} ({terms}) on images {', '.join(names)}; "
        "the last checkpoint is intact, resume from it after fixing the cause (lower train.lr, or "
        "check these images and their labels)"
    )


def _log(logger: ScalarLogger, run: Training, out: StepOutput, iteration: int, lr: float, rate: float) -> None:
    scalars = {"loss/total": out.loss.item(), "train/lr": lr, "train/images_per_s": rate}
    scalars.update({f"loss/{k}": v.item() for k, v in out.terms.items()})
    scalars.update({f"stats/{k}": float(v) for k, v in out.stats.items() if bool(torch.isfinite(v))})
    counts = run.state.reservoir.class_counts(run.net.num_classes - 1).float()
    total = counts.sum().clamp(min=1)
    names = ["background", *run.class_names[1:]]
    scalars.update({f"reservoir/{names[i]}": float(c / total) for i, c in enumerate(counts[: len(names)])})
    logger.log(scalars, iteration)
