"""The runs of ``seco bench scale`` as processes sharing one device, watched while they train.

Each (variant, seed) is one job of :func:`seco.bench.ablation.run_variant` in
a pool of spawned processes (CUDA needs spawn), seed-major, so that with fewer
processes than runs every variant's first seed finishes first. A job writes
its progress bar and notes to ``RUN/bench.log``; the parent reads the bars'
``n/total [elapsed<remaining, rate]`` every ``poll`` seconds, prints one
status line, keeps ``progress.json`` and, with a deadline, stops every job
(SIGTERM: each writes a checkpoint first) as soon as the measured rates put
the end past it, so a short GPU call returns the rates instead of nothing.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch

from seco.atomic import atomic_write
from seco.bench.ablation import VariantRun, run_variant
from seco.config import ConfigError

__all__ = ["Job", "JobPool", "JobStatus", "ScaleDeadline", "read_status"]

LOG = "bench.log"
PROGRESS = "progress.json"
STOP = "stop"
"""A file in the benchmark folder that tells every job not yet started to return at once."""
BAR = re.compile(r"train:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)\s*\[([\d:]+)<([\d:?]+),\s*([\d.]+|\?)\s*(it/s|s/it)")
GRACE = 60.0
"""Seconds the workers get to checkpoint and stop after the benchmark is stopped, before they are killed."""
MIN_RATED_SECONDS = 30.0
"""A job's bar must have run this long before its rate decides a deadline."""


class ScaleDeadline(ConfigError):
    """The runs were stopped because the measured rates put their end past ``--deadline``."""


@dataclass(frozen=True)
class Job:
    """One (variant, seed) run and where it logs."""

    variant: str
    seed: int
    out_dir: Path

    @property
    def folder(self) -> Path:
        return self.out_dir / self.variant / f"seed{self.seed}"

    @property
    def name(self) -> str:
        return f"{self.variant}/seed{self.seed}"


@dataclass
class JobStatus:
    """What a job's log says: iterations done of total, seconds trained, seconds left, iterations per second."""

    done: int = 0
    total: int = 0
    elapsed: float = 0.0
    remaining: float | None = None
    rate: float | None = None
    pid: int | None = None
    state: str = "queued"


def _seconds(clock: str) -> float | None:
    if "?" in clock:
        return None
    value = 0.0
    for part in clock.split(":"):
        value = 60 * value + float(part)
    return value


def read_status(log: Path) -> JobStatus:
    """The last training bar of a job's log (``state`` queued when there is no log yet)."""
    if not log.is_file():
        return JobStatus()
    text = log.read_text(errors="replace")
    status = JobStatus(state="started")
    pid = re.match(r"pid (\d+)", text)
    status.pid = int(pid.group(1)) if pid else None
    bars = BAR.findall(text[-20000:])
    if bars:
        done, total, elapsed, remaining, rate, unit = bars[-1]
        value = None if rate == "?" else float(rate)
        status.done, status.total, status.state = int(done), int(total), "training"
        status.elapsed, status.remaining = _seconds(elapsed) or 0.0, _seconds(remaining)
        status.rate = value if unit == "it/s" or not value else 1.0 / value
        if status.done >= status.total:
            status.state = "evaluating"
    return status


def _init_worker() -> None:
    """One thread per process (the cores are shared out as processes). No TF32: the runs train under bf16
    autocast already, and what stays in float32 on purpose (the dense energy's pairwise distances, eq. of reg)
    must keep float32's precision, as in any other ``seco train``."""
    torch.set_num_threads(1)


def _run_job(job: Job, overrides: Sequence[str], grid: Sequence[float], select_images: int) -> VariantRun:
    """:func:`run_variant` with its output (progress bar included) in ``RUN/bench.log``; nothing once the
    benchmark was stopped (a call the pool had queued before the stop). An error reaches the parent as raised:
    the package's errors unpickle there (see :class:`~seco.errors.SecoError`)."""
    if (job.out_dir / STOP).exists():
        raise ScaleDeadline(f"{job.name}: not started, the benchmark was stopped")
    job.folder.mkdir(parents=True, exist_ok=True)
    with open(job.folder / LOG, "w", buffering=1) as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        print(f"pid {os.getpid()}", flush=True)
        return run_variant(job.variant, job.seed, job.out_dir, overrides, grid, True, select_images)


def _projected_end(statuses: dict[Job, JobStatus], procs: int) -> float | None:
    """Seconds from now until the last job finishes training, at the measured rates (None: not yet known).

    Known once every training job has run :data:`MIN_RATED_SECONDS`. A queued
    job is taken to train as long as the slowest rated job of its variant
    (of any variant, when none of its own has a rate yet), in waves of
    ``procs`` after the running ones: rough, on purpose.
    """
    running = [st for st in statuses.values() if st.state == "training"]
    if not running or any(not st.rate or st.elapsed < MIN_RATED_SECONDS for st in running):
        return None
    whole: dict[str, float] = {}
    for job, st in statuses.items():
        if st.rate and st.total:
            whole[job.variant] = max(whole.get(job.variant, 0.0), st.total / st.rate)
    queued = [job.variant for job, st in statuses.items() if st.state == "queued"]
    later = -(-len(queued) // procs) * max((whole.get(v, max(whole.values())) for v in queued), default=0.0)
    return max((st.total - st.done) / st.rate for st in running) + later  # type: ignore[operator]


def _stop(statuses: dict[Job, JobStatus]) -> None:
    """SIGTERM to every job still running (its training loop checkpoints and stops)."""
    for status in statuses.values():
        if status.pid is not None and status.state in ("started", "training", "evaluating"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGTERM)


def _status_line(statuses: dict[Job, JobStatus], seconds: float, end: float | None) -> str:
    def one(job: Job, st: JobStatus) -> str:
        rate = f" {st.rate:.1f} it/s" if st.rate else ""
        return f"{job.name} {st.done}/{st.total or '?'}{rate}" if st.state == "training" else f"{job.name} {st.state}"

    projection = f"; training ends in ~{end:.0f} s at these rates" if end is not None else ""
    return f"[{seconds:.0f} s] " + ", ".join(one(job, st) for job, st in statuses.items()) + projection


def _ready() -> None:
    """A no-op job: its only effect is that the worker running it has started and imported this module."""


class JobPool:
    """Spawned worker processes, started (and importing torch) on entry, while the caller still prepares."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.executor = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_worker)

    def __enter__(self) -> JobPool:
        for _ in range(self.procs):
            self.executor.submit(_ready)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        """Wait for the workers; after an error (a deadline), at most :data:`GRACE` seconds, then kill them."""
        if exc_type is None:
            self.executor.shutdown(wait=True)
            return
        processes = list(getattr(self.executor, "_processes", {}).values())  # no public handle before 3.14
        self.executor.shutdown(wait=False, cancel_futures=True)
        end = time.monotonic() + GRACE
        for process in processes:
            process.join(max(0.0, end - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()

    def run(self, jobs: Sequence[Job], overrides: Sequence[str], grid: Sequence[float], select_images: int,
            on_result: Callable[[Job, VariantRun], None], progress_file: Path, deadline_at: float | None = None,
            poll: float = 30.0) -> dict[Job, str]:
        """Run ``jobs``; call ``on_result`` as each finishes; return the failed ones' errors.

        ``deadline_at`` (a ``time.monotonic()`` value) stops every job once
        the projected end of training passes it, raising :class:`ScaleDeadline`
        with the measured rates.
        """
        began = time.monotonic()
        failed: dict[Job, str] = {}
        for job in jobs:  # a log left by an earlier call must not pass for this one's progress
            (job.folder / LOG).unlink(missing_ok=True)
            (job.out_dir / STOP).unlink(missing_ok=True)
        futures = {self.executor.submit(_run_job, job, overrides, grid, select_images): job for job in jobs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=poll, return_when=FIRST_COMPLETED)
            for future in finished:
                job = futures[future]
                try:
                    on_result(job, future.result())
                except Exception as err:  # one broken run must not lose the others' results
                    failed[job] = f"{type(err).__name__}: {err}".splitlines()[0]
                    print(f"{job.name} failed: {failed[job]} (log: {job.folder / LOG})", flush=True)
            statuses = {job: read_status(job.folder / LOG) for job in jobs}
            for future, job in futures.items():
                if future.done():
                    statuses[job].state = "failed" if job in failed else "done"
            now = time.monotonic()
            end = _projected_end(statuses, self.procs)
            atomic_write(progress_file, json.dumps(
                {"seconds": round(now - began, 1), "projected_training_end_s": end,
                 "jobs": {job.name: vars(st) for job, st in statuses.items()}}, indent=1))
            if pending:
                print(_status_line(statuses, now - began, end), flush=True)
            if deadline_at is not None and end is not None and pending and now + end > deadline_at:
                (jobs[0].out_dir / STOP).touch()
                for future in pending:
                    future.cancel()
                _stop(statuses)
                rates = ", ".join(f"{job.name} {st.rate:.2f} it/s" for job, st in statuses.items() if st.rate)
                raise ScaleDeadline(
                    f"stopped after {now - began:.0f} s of training: at the measured rates ({rates}) training "
                    f"would end in ~{end:.0f} s more, past --deadline; rates and iterations are in {progress_file}")
        return failed
