"""The background score chosen on the train split: the benchmark's method-neutral evaluation protocol.

CAMs and pseudo masks call a pixel background unless some present class
scores above ``method.cam.bkg_thr`` (:func:`seco.method.cam.with_background`).
The score is an inference setting, not part of training, and the best value
moves with how tight a variant's CAMs are: a fixed score judges a variant with
tighter maps at a point that cuts its recall. So each benchmark run also picks
its own score: pseudo-mask mIoU on the *train* split (whose masks a weakly
supervised user would not have, but which the benchmark never scores) over a
grid, the best value kept (ties: the one nearest the config's score), and val
is then scored once at that value. Both protocols are reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from seco.atomic import atomic_write
from seco.bench.runs import scoring_config
from seco.config import Config, ConfigError, apply_overrides
from seco.engine.checkpoint import LAST
from seco.engine.progress import progress_bar
from seco.evaluation.eval_data import eval_dataset, eval_loader, image_batches, select
from seco.evaluation.evaluate import evaluate
from seco.evaluation.inference import inference_cams, mask_scores
from seco.evaluation.metrics import ConfusionMatrix, segmentation_metrics
from seco.evaluation.trained import load_trained
from seco.method.cam import with_background
from seco.method.par import build_par
from seco.model import SeCoNet

__all__ = ["DEFAULT_GRID", "SELECTION", "check_grid", "choose_bkg_thr", "mask_miou_sweep", "select_bkg_thr"]

DEFAULT_GRID = tuple(round(0.10 + 0.05 * i, 2) for i in range(11))  # 0.10, 0.15, ..., 0.60
SELECTION = "bkg_selection.json"


def check_grid(grid: Sequence[float]) -> tuple[float, ...]:
    """The grid as a sorted tuple; a ConfigError for an empty grid or a score outside (0, 1)."""
    values = tuple(sorted({float(v) for v in grid}))
    if not values:
        raise ConfigError("the background-score grid is empty")
    outside = [v for v in values if not 0.0 < v < 1.0]
    if outside:
        raise ConfigError(f"background scores must lie in (0, 1), got {', '.join(map(str, outside))}")
    return values


def choose_bkg_thr(scores: dict[float, float], default: float) -> float:
    """The score with the highest mask mIoU; among equal ones, the nearest to ``default``."""
    return max(scores, key=lambda thr: (scores[thr], -abs(thr - default)))


@torch.no_grad()
def mask_miou_sweep(net: SeCoNet, cfg: Config, split: str, scores: Sequence[float],
                    progress: bool = True, max_images: int = 0) -> dict[float, float]:
    """Pseudo-mask mIoU of ``split`` at each background score, the same numbers as one
    :func:`~seco.evaluation.evaluate.evaluate` per score: the score enters only the background channel, so the CAMs
    (the multi-scale, flipped forward passes) are computed once per batch and only PAR and the argmax repeat.
    Scores the first ``max_images`` images of ``split`` (all for 0)."""
    dataset = eval_dataset(cfg, split)
    selection = select(dataset, max_images)
    device = next(net.parameters()).device
    par = build_par(cfg.method.par, device)
    matrices = {thr: ConfusionMatrix(dataset.num_classes, device="cpu") for thr in scores}
    net.eval()
    bar = progress_bar(f"background scores {selection.label(split)}", progress, total=len(selection.indices))
    for batch in image_batches(eval_loader(dataset, selection, cfg.eval.batch_size, cfg.data.num_workers), bar):
        images, labels = batch["image"].to(device), batch["labels"].to(device)
        cam = inference_cams(net, images, labels, cfg)
        for thr, matrix in matrices.items():
            pred = mask_scores(with_background(cam, thr), images, labels, par, cfg).argmax(1).cpu()
            for i, (h, w) in enumerate(batch["size"].tolist()):
                matrix.update(pred[i, :h, :w], batch["mask"][i, :h, :w].numpy())
    names = list(dataset.class_names)
    return {thr: segmentation_metrics(matrix.matrix, names)["miou"] for thr, matrix in matrices.items()}


def _cam_views(document: dict[str, Any]) -> tuple[Any, Any]:
    """The CAM inference scales and flip a metrics document was measured with (None before they were recorded)."""
    inference = document.get("cam_inference", {})
    return inference.get("scales"), inference.get("flip")


def _at_score(trained: Config, cfg: Config, thr: float) -> Config:
    """:func:`~seco.bench.runs.scoring_config` with the background score ``thr``."""
    return apply_overrides(scoring_config(trained, cfg), [f"method.cam.bkg_thr={thr}"])


def select_bkg_thr(cfg: Config, fixed: dict[str, Any], grid: Sequence[float], progress: bool = True,
                   max_images: int = 0) -> dict[str, Any]:
    """Choose the run's background score on ``cfg.data.train_split``; score ``cfg.eval.split`` once at it.

    ``cfg`` is a finished benchmark run (its checkpoint in ``cfg.out_dir``)
    and ``fixed`` the metrics document it wrote at the config's score, whose
    ``meta`` (seed, seconds) the returned document keeps. The result,
    ``{"split", "images", "grid", "train_mask_miou", "bkg_thr", "at_edge", "document"}``,
    is written to ``bkg_selection.json`` in the run folder. A later call reuses
    the train scores already measured for this run, so a wider grid costs only
    its new points, and val is scored again only when the choice changes; a
    change of the CAM inference (``eval.cam_scales``, ``eval.cam_flip``, which
    ``fixed`` records) measures everything again, and so does another
    ``max_images`` (the train images scored: the first ``max_images``, all
    for 0; recorded as ``images``).
    ``at_edge`` says that the best score is the grid's lowest or highest value:
    widen the grid.
    """
    grid = check_grid(grid)
    path = Path(cfg.out_dir) / SELECTION
    known: dict[float, float] = {}
    saved: dict[str, Any] = {}
    if path.is_file():
        saved = json.loads(path.read_text())
        if (saved["document"].get("meta") == fixed.get("meta") and _cam_views(saved["document"]) == _cam_views(fixed)
                and saved.get("images", 0) == max_images):
            known = dict(zip(saved["grid"], saved["train_mask_miou"]))
        else:
            saved = {}
    missing = [thr for thr in grid if thr not in known]
    checkpoint = Path(cfg.out_dir) / LAST
    trained = load_trained(checkpoint) if missing else None
    split = cfg.data.train_split
    if trained is not None:
        known.update(mask_miou_sweep(trained.net, scoring_config(trained.cfg, cfg), split, missing, progress,
                                     max_images))
    chosen = choose_bkg_thr({thr: known[thr] for thr in grid}, cfg.method.cam.bkg_thr)
    document = saved.get("document") if saved.get("bkg_thr") == chosen else None
    if document is None:
        trained = trained or load_trained(checkpoint)
        document = evaluate(trained.net, _at_score(trained.cfg, cfg, chosen), cfg.eval.split,
                            max_images=cfg.eval.max_images, progress=progress).document
        document["meta"] = fixed.get("meta")
    measured = sorted(known)
    selection = {"split": split, "images": max_images, "grid": measured,
                 "train_mask_miou": [known[t] for t in measured], "bkg_thr": chosen,
                 "at_edge": chosen in (grid[0], grid[-1]), "document": document}
    if missing or selection != saved:
        atomic_write(path, json.dumps(selection, indent=2))
    return selection
