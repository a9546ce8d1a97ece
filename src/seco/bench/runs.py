"""One benchmark run: train, evaluate on val, write the run's report; skipped when already done."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from seco.config import Config, config_diff
from seco.engine.evaluate import evaluate
from seco.engine.restore import load_trained
from seco.engine.run_report import write_run_report
from seco.engine.train import train

__all__ = ["run_once", "scoring_config"]

RESULT = "metrics.json"
RECORDED = ("model.weights_sha256", "model.weights_tensors")


def scoring_config(trained: Config, cfg: Config) -> Config:
    """A checkpoint's config with the ``eval`` settings of ``cfg``: how a benchmark scores a run it trained
    earlier (the checkpoint records what the run learnt; ``cfg`` says how it is evaluated now)."""
    return replace(trained, eval=cfg.eval)


def _finished(cfg: Config) -> bool:
    """Whether ``cfg.out_dir`` holds the metrics of a run made with this config (up to what a run records:
    the sha256 and tensor count of its backbone weights)."""
    out = Path(cfg.out_dir)
    saved = out / "config.yaml"
    if not ((out / RESULT).is_file() and saved.is_file()):
        return False
    changed = config_diff(yaml.safe_load(saved.read_text()), cfg)
    return all(key in RECORDED for key in changed)


def run_once(cfg: Config, progress: bool = True) -> dict[str, Any]:
    """Train ``cfg`` and evaluate CAM, mask and seg on ``cfg.eval.split``; return the metrics document.

    A run folder that already holds the metrics of this very config is read
    back instead (so a long benchmark resumes where it stopped); a partial run
    resumes from its checkpoint, and a finished one whose ``eval`` settings
    changed is evaluated again with the new ones. The document's ``meta`` holds
    the seconds of training and evaluation.
    """
    out = Path(cfg.out_dir)
    if _finished(cfg):
        return json.loads((out / RESULT).read_text())
    result = train(cfg, resume=True, progress=progress)
    seconds = round(result.seconds, 1)
    if not result.iterations and (out / RESULT).is_file():  # trained before, evaluated again: keep its time
        seconds = json.loads((out / RESULT).read_text())["meta"]["train_seconds"]
    trained = load_trained(result.checkpoint)
    start = time.perf_counter()
    evaluation = evaluate(trained.net, scoring_config(trained.cfg, cfg), cfg.eval.split,
                          num_samples=cfg.eval.num_overlays, max_images=cfg.eval.max_images, progress=progress)
    evaluation.document["meta"] = {"run": cfg.name, "seed": cfg.seed, "train_seconds": seconds,
                                   "eval_seconds": round(time.perf_counter() - start, 1)}
    write_run_report(trained, evaluation, out)
    return evaluation.document
