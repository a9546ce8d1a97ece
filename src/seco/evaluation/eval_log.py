"""What an evaluation shows in a run's TensorBoard, during training and at its end.

Every ``train.eval_every`` iterations the loop scores ``eval.split`` (the
first ``eval.max_images`` images, no CRF) and logs, at that iteration:

* ``<split>/<output>_miou``: the mIoU of each output evaluated (CAM, pseudo
  mask, segmentation; the CAM baseline trains no seg head);
* ``<split>/overlays``: one grid of the first ``eval.num_overlays`` images of
  the split (always the same images): image, ground truth, the CAM of each of
  its classes, the pseudo mask and the segmentation.

The evaluation that follows training logs the same at the last iteration
(:func:`log_final_evaluation`), so a run also shows them at its end. The
contrast diagnostics stay where the step logs them (``stats/*``,
``reservoir/*``, every ``train.log_every``).

An evaluation during training changes nothing that training computes
(:func:`untouched_training`): it runs in eval mode under ``no_grad``, reads
its own loader, and every random generator it could touch is put back.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from seco.config import Config
from seco.data import voc_palette
from seco.data.files import read_image
from seco.engine.logger import ScalarLogger
from seco.evaluation.evaluate import Evaluation, default_outputs, evaluate
from seco.evaluation.run_report import OVERLAYS
from seco.report.plots import cam_grid_figure, figure_rgb
from seco.report.tables import BLOCK_TITLES, split_label

__all__ = ["evaluate_during_training", "log_evaluation", "log_final_evaluation", "summary_line", "untouched_training"]


@contextlib.contextmanager
def untouched_training(net: torch.nn.Module) -> Iterator[None]:
    """Run the body, then put back what it may have changed: the global torch RNG (and the CUDA one of the
    model's device), Python's and NumPy's RNGs, and the module's train/eval mode (dropout, batch-norm)."""
    device = next(net.parameters()).device
    python_state, numpy_state = random.getstate(), np.random.get_state()
    was_training = net.training
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        net.train(was_training)


def log_evaluation(logger: ScalarLogger, evaluation: Evaluation, class_names: Sequence[str], step: int,
                   overlays: np.ndarray | None = None) -> None:
    """The mIoU of every block of ``evaluation`` and the grid of its overlay samples, at ``step``.

    ``overlays``, when given, is that grid already drawn (HxWx3 uint8), logged as it is.
    """
    doc = evaluation.document
    split = doc["split"]
    logger.log({f"{split}/{block}_miou": metrics["miou"] for block, metrics in doc["results"].items()
                if metrics["miou"] is not None}, step)
    if evaluation.samples and overlays is None:
        title = f"iteration {step}: {split_label(doc)}, first {len(evaluation.samples)} images"
        overlays = figure_rgb(cam_grid_figure(evaluation.samples, class_names, voc_palette(256), title=title))
    if overlays is not None:
        logger.image(f"{split}/overlays", overlays, step)


def summary_line(evaluation: Evaluation) -> str:
    """``CAM 31.4, Pseudo-label mask 38.1, Segmentation 21.4 % mIoU (val)``: one evaluation for the log."""
    doc = evaluation.document
    scores = ", ".join(f"{BLOCK_TITLES.get(b, b)} {100 * m['miou']:.1f}" for b, m in doc["results"].items()
                       if m["miou"] is not None)
    return f"{scores} % mIoU ({split_label(doc)})"


def evaluate_during_training(net: torch.nn.Module, cfg: Config, class_names: Sequence[str],
                             logger: ScalarLogger, iteration: int) -> Evaluation:
    """Score ``net`` as it stands at ``iteration`` and log it (:func:`log_evaluation`); training is left as it was.

    Every process of a torchrun job calls it (the split is shared among them);
    ``logger`` writes on the main process only.
    """
    with untouched_training(net):
        evaluation = evaluate(net, cfg, cfg.eval.split, default_outputs(cfg), max_images=cfg.eval.max_images,
                              num_samples=cfg.eval.num_overlays, progress=False, class_names=class_names)
    log_evaluation(logger, evaluation, class_names, iteration)
    return evaluation


def log_final_evaluation(run_dir: Path, evaluation: Evaluation, class_names: Sequence[str], iteration: int) -> None:
    """The evaluation that follows training, into the run's TensorBoard at its last ``iteration``.

    Called after :func:`~seco.evaluation.run_report.write_run_report` wrote the report into ``run_dir``: its
    overlay grid (:data:`~seco.evaluation.run_report.OVERLAYS`) is logged as drawn there, not drawn again
    (a grid of a few images and every class takes seconds of matplotlib layout on the CPU).
    """
    grid = Path(run_dir) / OVERLAYS
    overlays = read_image(grid) if evaluation.samples and grid.is_file() else None
    logger = ScalarLogger(Path(run_dir) / "tb")
    try:
        log_evaluation(logger, evaluation, class_names, iteration, overlays)
    finally:
        logger.close()
