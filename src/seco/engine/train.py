"""The training loop: schedule, AMP, DDP, logging, checkpoints and exact resume.

One process on the CPU or one GPU needs no distributed setup; under
``torchrun`` each process trains on its share of every epoch and gradients
are averaged by DistributedDataParallel. The seed is set once, before the
model is built; afterwards randomness comes from the seed-derived data stream
and from one ``torch.Generator`` owned by the loop, both saved in checkpoints.
Every ``train.eval_every`` iterations the loop scores ``eval.split`` into
TensorBoard (:mod:`seco.evaluation.eval_log`) without changing what it trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from seco import __version__
from seco.config import Config, ConfigError, config_diff, save_config, to_dict, validate
from seco.data import SegDataset, build_dataset
from seco.data.collate import train_collate
from seco.engine import dist
from seco.engine.bad_samples import BAD_SAMPLES, BadSampleLog
from seco.engine.checkpoint import LAST, Checkpoint, CheckpointError, load_weights
from seco.engine.finite import FiniteGuard, NonFiniteLossError
from seco.engine.loader import SetSmallerThanBatch, TrainStream, derive_seed, to_device
from seco.engine.logger import ScalarLogger
from seco.engine.optim import WarmupPoly, build_optimizer
from seco.engine.progress import progress_bar
from seco.engine.resume import ResumeRule
from seco.engine.run_lock import run_folder_lock
from seco.engine.stop import StopSignals, TrainingInterrupted
from seco.evaluation.eval_log import evaluate_during_training, summary_line
from seco.method.build import StepOutput, TrainingMethod, build_method, method_class
from seco.model import SeCoNet, build_model
from seco.model.weights import LoadedWeights
from seco.profiling import phase

__all__ = ["NonFiniteLossError", "TrainResult", "TrainingInterrupted", "build_training", "train"]

RESUME = ResumeRule("train", "set out_dir to a new folder", flag="--allow-config-change", may_change=(
    "out_dir", "data.root", "data.num_workers", "data.on_error", "model.pretrained", "model.weights", "train.device",
    "train.threads", "train.log_every", "train.ckpt_every", "train.eval_every", "eval."))
"""Every config key must match to resume but those that say where or how fast a run goes, not what it learns."""


@dataclass
class TrainResult:
    """Where a finished run lives and how fast it went.

    ``iterations`` counts the iterations trained by this call, from
    ``first_iteration`` (0, or where a resumed run stood) to ``total``;
    ``seconds`` leaves out the evaluations of ``train.eval_every``.
    """

    run_dir: Path
    checkpoint: Path
    iterations: int
    seconds: float
    images_per_second: float
    first_iteration: int = 0
    total: int = 0


@dataclass
class Training:
    """The objects of one training run (built by :func:`build_training`)."""

    cfg: Config
    device: torch.device
    net: SeCoNet
    method: TrainingMethod
    optimizer: torch.optim.Optimizer
    scheduler: WarmupPoly
    generator: torch.Generator
    class_names: list[str]
    start_iteration: int = 0
    guard: FiniteGuard = field(default_factory=FiniteGuard)

    def step(self, net: torch.nn.Module, batch: dict[str, Any], iteration: int) -> StepOutput:
        """One optimisation step: the method's losses (bf16 autocast on GPU when ``train.amp``), backward,
        AdamW, then what the method runs after the optimizer (SeCo: the EMA of the local teacher). ``net``
        is the model or its DDP wrapper. Nothing waits for the device: the loss goes to :attr:`guard`,
        which the loop checks when it logs or saves.
        """
        cfg, device = self.cfg, self.device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.train.amp and device.type == "cuda"):
            out = self.method.step(net, batch, iteration, self.generator)
        self.guard.observe(out.loss, out.terms, iteration, batch["name"])
        self.optimizer.zero_grad(set_to_none=True)
        with phase("backward"):
            out.loss.backward()
        with phase("optimizer"):
            if cfg.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.train.grad_clip)
            self.optimizer.step()
        with phase("ema"):
            self.method.after_optimizer_step(self.net)
        return out

    def checkpoint(self, iteration: int) -> Checkpoint:
        """Everything needed to resume at ``iteration`` exactly (weights_only-safe)."""
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return Checkpoint(kind="train", model=self.net.state_dict(), config=to_dict(self.cfg), iteration=iteration,
                          optimizer=self.optimizer.state_dict(), rng=rng, class_names=list(self.class_names),
                          state=self.method.state_dict(), version=__version__)

    def restore(self, ckpt: Checkpoint, origin: str = "checkpoint") -> None:
        """Load a checkpoint written by :meth:`checkpoint` (loaded on the CPU) into these objects.

        One process resumes bit-exactly. Under torchrun every rank takes rank
        0's weights, reservoir and prototypes, and a patch-sampling stream
        derived from (seed, rank, iteration). A checkpoint of another shape
        (other model or method sizes) is a :class:`CheckpointError` naming
        ``origin`` and the config keys that differ.
        """
        changed = ", ".join(k for k in config_diff(ckpt.config, self.cfg) if k.startswith(("model.", "method.")))
        advice = (f"It was written with other values of {changed}; resume with the checkpoint's values or start "
                  "over with --fresh." if changed else "Start over with --fresh.")
        load_weights(self.net, ckpt.model, origin, advice)
        load_weights(self.method, self.method.stored_state(ckpt.state), origin, advice)
        self.optimizer.load_state_dict(ckpt.optimizer)
        self.start_iteration = ckpt.iteration
        torch.set_rng_state(ckpt.rng["torch"])
        if "cuda" in ckpt.rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt.rng["cuda"])
        if dist.world_size() == 1:
            self.generator.set_state(ckpt.rng["generator"])
        else:  # only rank 0 saves: give every rank its own stream again, derived from the iteration
            self.generator.manual_seed(derive_seed(self.cfg.seed, dist.rank(), 0x7A6, self.start_iteration))


def _set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def build_training(cfg: Config, device: torch.device, num_classes: int, class_names: list[str]) -> Training:
    """Seed once, then build the model, the method (:func:`~seco.method.build.build_method`), the
    optimizer and the generator.

    With ``train.compile`` the student's and the local teacher's encoders are
    compiled with ``torch.compile`` in that mode (``reduce-overhead`` adds CUDA
    graphs); their parameters and state dicts stay as they are.

    The returned config records the backbone weights the model started from
    (``model.weights_sha256``, ``model.weights_tensors``).
    """
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.model, num_classes).to(device)
    cfg = _record_weights(cfg, net.encoder.weights)
    method = build_method(cfg, net, class_names)
    tr = cfg.train
    if tr.compile:
        net.encoder.compile(mode=tr.compile)
    optimizer = build_optimizer(net.param_groups(tr.lr, tr.head_lr_mult, tr.weight_decay, tr.decay_all), tr.betas)
    scheduler = WarmupPoly(optimizer, tr.iterations, tr.warmup_iters, tr.warmup_ratio, tr.poly_power,
                           tr.poly_plus_one)
    generator = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, dist.rank(), 0x7A6))
    return Training(cfg, device, net, method, optimizer, scheduler, generator, class_names)


def _check_classes(ckpt: Checkpoint, dataset: SegDataset, path: Path) -> None:
    if list(ckpt.class_names) != list(dataset.class_names):
        raise CheckpointError(
            f"{path} was trained on {len(ckpt.class_names)} classes ({', '.join(ckpt.class_names)}) but the "
            f"data has {dataset.num_classes} ({', '.join(dataset.class_names)}); start over with --fresh or set "
            "out_dir to a new folder"
        )


def _train_stream(cfg: Config, dataset: SegDataset) -> TrainStream:
    """The run's batches; a split smaller than one batch is a :class:`ConfigError` that names it and the ways out."""
    try:
        return TrainStream(dataset, cfg.train.batch_size, cfg.seed, cfg.data.num_workers, dist.rank(),
                           dist.world_size(), collate_fn=train_collate)
    except SetSmallerThanBatch as small:
        where = f"data.format={cfg.data.format}" + (f", data.root={cfg.data.root}" if cfg.data.root else "")
        share = f", {small.per_process} per process of {small.world}" if small.world > 1 else ""
        fit = _largest_batch(cfg, small.per_process)
        lower = (f"set train.batch_size={fit} (the largest this set and config allow)" if fit
                 else f"lower train.batch_size to at most {small.per_process}")
        raise ConfigError(f"split {cfg.data.train_split!r} ({where}) has {small.images} images{share}, fewer than "
                          f"one batch of train.batch_size={small.batch_size}: {lower}, or add images to the split"
                          ) from None


def _largest_batch(cfg: Config, images: int) -> int | None:
    """The largest ``train.batch_size`` up to ``images`` that ``cfg`` accepts (the reservoir holds whole steps)."""
    for size in range(images, 0, -1):
        try:
            validate(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=size)))
        except ConfigError:
            continue
        return size
    return None


def _record_weights(cfg: Config, loaded: LoadedWeights | None) -> Config:
    """``cfg`` with the sha256 and tensor count of the weights file loaded (empty when none was)."""
    model = dataclasses.replace(cfg.model, weights_sha256=loaded.sha256 if loaded else "",
                                weights_tensors=loaded.tensors if loaded else 0)
    return dataclasses.replace(cfg, model=model)


def train(cfg: Config, resume: bool = True, progress: bool = True, allow_config_change: bool = False) -> TrainResult:
    """Train SeCo (or an ablation) as configured; resume from ``out_dir/last.pt`` if present.

    Resuming checks that the run folder's checkpoint was made with the same
    config (up to the keys :data:`RESUME` lets change) unless ``allow_config_change``.
    SIGTERM and SIGINT write a checkpoint of the iteration reached and raise
    :class:`TrainingInterrupted`. A second process training into the same
    ``out_dir`` stops with :class:`~seco.engine.run_lock.RunFolderBusy`.
    """
    _set_threads(cfg.train.threads)
    device = dist.init_distributed(cfg.train.device)
    with run_folder_lock(Path(cfg.out_dir)) if dist.is_main() else contextlib.nullcontext():
        return _train(cfg, device, resume, progress, allow_config_change)


def _train(cfg: Config, device: torch.device, resume: bool, progress: bool, allow_config_change: bool) -> TrainResult:
    """:func:`train` once the run folder is this process's."""
    run_dir = Path(cfg.out_dir)
    last = run_dir / LAST
    ckpt = RESUME.load(run_dir, cfg, allow_change=allow_config_change) if resume else None
    kind = method_class(cfg)
    dataset = build_dataset(cfg.data, cfg.data.train_split, train=True, global_view=kind.wants_global_view(cfg.method))
    if ckpt is not None:
        _check_classes(ckpt, dataset, last)
    kind.check_data(dataset, cfg.data.train_split)
    stream = _train_stream(cfg, dataset)  # before the model: a set too small for one batch costs no weights
    run = build_training(cfg, device, dataset.num_classes, list(dataset.class_names))
    if ckpt is not None:
        run.restore(ckpt, f"checkpoint {last}")
    total = cfg.train.iterations
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(run.cfg, run_dir / "config.yaml")
        if ckpt is not None and run.start_iteration < total:
            print(f"resuming from iteration {run.start_iteration} of {total}")
    if run.start_iteration >= total:
        if dist.is_main():
            print(f"{run_dir} is finished: iteration {run.start_iteration} of {total}; nothing left to train "
                  "(--fresh starts over; a higher train.iterations with --allow-config-change trains on)")
        return TrainResult(run_dir, run_dir / LAST, 0, 0.0, 0.0, run.start_iteration, total)
    bad = BadSampleLog(run_dir / BAD_SAMPLES, keep=ckpt is not None) if dist.is_main() else None
    if bad is not None and bad.add(dataset.catalog.skipped):
        print(f"skipped {len(dataset.catalog.skipped)} bad samples of split {cfg.data.train_split!r}; "
              f"listed in {bad.path}")
    net: torch.nn.Module = run.net
    if dist.world_size() > 1:
        net = DistributedDataParallel(run.net, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=True)
    logger = ScalarLogger(run_dir / "tb" if dist.is_main() else None)
    first = run.start_iteration
    try:
        with StopSignals() as stop:
            seconds, done = _loop(run, net, stream, logger, progress and dist.is_main(), stop, bad)
    finally:
        logger.close()
    if dist.is_main():
        for warning in run.method.end_of_run_warnings(cfg.train.iterations):
            print(f"warning: {warning}", file=sys.stderr)
    images = done * cfg.train.batch_size * dist.world_size()
    return TrainResult(run_dir, run_dir / LAST, done, seconds, images / max(seconds, 1e-9), first, total)


def _save(run: Training, iteration: int) -> Path:
    """Checkpoint ``iteration`` once every loss since the last check is known to be finite."""
    run.guard.check()
    path = Path(run.cfg.out_dir) / LAST
    if dist.is_main():
        run.checkpoint(iteration).save(path)
    return path


def _next_batch(batches: Any, run: Training, stop: StopSignals, iteration: int) -> dict[str, Any]:
    """The next batch; a signal that broke the loader's workers stops the run at ``iteration``."""
    try:
        return next(batches)
    except Exception:
        if stop.signum is None:
            raise
        raise TrainingInterrupted(stop.signum, iteration, run.cfg.train.iterations, _save(run, iteration)) from None


def _loop(run: Training, net: torch.nn.Module, stream: TrainStream, logger: ScalarLogger,
          progress: bool, stop: StopSignals, bad: BadSampleLog | None) -> tuple[float, int]:
    cfg, device = run.cfg, run.device
    tr = cfg.train
    run.net.train()
    run.method.train()
    bar = progress_bar("train", progress, total=tr.iterations, initial=run.start_iteration)
    announce = run.method.loss_starts(tr.iterations) if dist.is_main() else {}
    start = time.perf_counter()
    batches = stream.iterate(run.start_iteration)
    done, evaluating = 0, 0.0  # iterations trained; seconds spent evaluating, left out of the training time
    postfix: dict[str, str] = {}
    for iteration in range(run.start_iteration, tr.iterations):
        if dist.any_rank(stop.signum is not None):
            bar.close()
            signum = stop.signum or signal.SIGTERM  # another process received it
            raise TrainingInterrupted(signum, iteration, tr.iterations, _save(run, iteration))
        if iteration in announce:
            tqdm.write(f"iteration {iteration}: {', '.join(announce[iteration])} on")
        raw = _next_batch(batches, run, stop, iteration)
        batch = to_device(raw, device)
        lr_factor = run.scheduler.step_to(iteration)
        out = run.step(net, batch, iteration)
        done += 1
        rate = done * tr.batch_size / (time.perf_counter() - start - evaluating)
        log_now = iteration % tr.log_every == 0 or iteration + 1 == tr.iterations
        save_now = (iteration + 1) % tr.ckpt_every == 0 or iteration + 1 == tr.iterations
        if log_now or save_now:  # the one host synchronisation, outside the other steps
            postfix["loss"] = f"{run.guard.check():.3f}"
        postfix["img_s"] = f"{rate:.1f}"
        if bad is not None:
            bad.add(raw["skipped"])
            if len(bad):
                postfix["skipped"] = str(len(bad))
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        if dist.is_main() and log_now:
            _log(logger, run, out, iteration, lr_factor * tr.lr, rate)
        if save_now:
            _save(run, iteration + 1)
        if tr.eval_every and (iteration + 1) % tr.eval_every == 0 and iteration + 1 < tr.iterations:
            evaluating += _evaluate(run, logger, iteration + 1)  # the end: the evaluation that follows training
    bar.close()
    dist.barrier()
    return time.perf_counter() - start - evaluating, done


def _evaluate(run: Training, logger: ScalarLogger, iteration: int) -> float:
    """Score the model at ``iteration`` into TensorBoard (:mod:`seco.evaluation.eval_log`); returns its seconds."""
    start = time.perf_counter()
    evaluation = evaluate_during_training(run.net, run.cfg, run.class_names, logger, iteration)
    if dist.is_main():
        tqdm.write(f"iteration {iteration}: {summary_line(evaluation)}")
    return time.perf_counter() - start


def _log(logger: ScalarLogger, run: Training, out: StepOutput, iteration: int, lr: float, rate: float) -> None:
    scalars = {"loss/total": out.loss.item(), "train/lr": lr, "train/images_per_s": rate}
    scalars.update({f"loss/{k}": v.item() for k, v in out.terms.items()})
    scalars.update({f"stats/{k}": float(v) for k, v in out.stats.items() if bool(torch.isfinite(v))})
    scalars.update(run.method.log_scalars())
    logger.log(scalars, iteration)
