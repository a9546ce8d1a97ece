"""One benchmark run: train, evaluate on val, write the run's report; skipped when already done."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from seco.config import Config, config_diff
from seco.engine.train import train
from seco.evaluation.eval_log import log_final_evaluation
from seco.evaluation.evaluate import evaluate
from seco.evaluation.inference import OUTPUTS
from seco.evaluation.run_report import write_run_report
from seco.evaluation.trained import load_trained

__all__ = ["finished", "run_once", "scoring_config"]

RESULT = "metrics.json"
RECORDED = ("model.weights_sha256", "model.weights_tensors")


def scoring_config(trained: Config, cfg: Config) -> Config:
    """A checkpoint's config with the ``eval`` settings of ``cfg``: how a benchmark scores a run it trained
    earlier (the checkpoint records what the run learnt; ``cfg`` says how it is evaluated now)."""
    return replace(trained, eval=cfg.eval)


def finished(cfg: Config) -> bool:
    """Whether ``cfg.out_dir`` holds the metrics of a run made with this config (up to what a run records:
    the sha256 and tensor count of its backbone weights)."""
    out = Path(cfg.out_dir)
    saved = out / "config.yaml"
    if not ((out / RESULT).is_file() and saved.is_file()):
        return False
    changed = config_diff(yaml.safe_load(saved.read_text()), cfg)
    return all(key in RECORDED for key in changed)


def run_once(cfg: Config, progress: bool = True, outputs: tuple[str, ...] = OUTPUTS, fresh: bool = False,
             allow_config_change: bool = False, num_embeddings: int = 0) -> dict[str, Any]:
    """Train ``cfg`` and evaluate ``outputs`` on ``cfg.eval.split``; return the metrics document.

    A run folder that already holds the metrics of this very config is read
    back instead (so a long benchmark resumes where it stopped), unless
    ``fresh``, which trains it again from the start; a partial run resumes
    from its checkpoint (refused when its config differs, unless
    ``allow_config_change``), and a finished one whose ``eval`` settings
    changed is evaluated again with the new ones. The document's ``meta`` holds
    the seconds of training and evaluation; the scores and overlays also go to
    the run's TensorBoard at its last iteration. ``num_embeddings`` class
    tokens of single-label images make the report's t-SNE (none: no t-SNE).
    """
    out = Path(cfg.out_dir)
    if finished(cfg) and not fresh:
        return json.loads((out / RESULT).read_text())
    result = train(cfg, resume=not fresh, progress=progress, allow_config_change=allow_config_change)
    seconds: float | None = round(result.seconds, 1)
    if not result.iterations and (out / RESULT).is_file():  # trained before, evaluated again: keep its time
        seconds = json.loads((out / RESULT).read_text()).get("meta", {}).get("train_seconds")
    trained = load_trained(result.checkpoint)
    start = time.perf_counter()
    evaluation = evaluate(trained.net, scoring_config(trained.cfg, cfg), cfg.eval.split, outputs,
                          num_samples=cfg.eval.num_overlays, max_images=cfg.eval.max_images,
                          num_embeddings=num_embeddings, progress=progress)
    evaluation.document["meta"] = {"run": cfg.name, "seed": cfg.seed, "train_seconds": seconds,
                                   "eval_seconds": round(time.perf_counter() - start, 1)}
    write_run_report(trained, evaluation, out)
    log_final_evaluation(out, evaluation, trained.class_names, trained.iteration)
    return evaluation.document
