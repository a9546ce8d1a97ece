"""Evaluation: CAMs, pseudo masks and segmentation, each with and without CRF.

Predictions are batched on the device, in batches of images of one size
(:mod:`seco.evaluation.eval_data`), so no padding reaches the network; metrics
come from one confusion matrix per output whose size is the data set's
class count. With
``crf=True`` every output is also refined by a dense CRF in worker
processes: the items stream through a bounded window, so at most a few
probability maps exist at once and nothing float is written to disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from seco.config import Config
from seco.data import SegDataset
from seco.data.skip import BadSample
from seco.engine import dist
from seco.engine.progress import progress_bar
from seco.evaluation.crf import CRFPool
from seco.evaluation.eval_data import eval_dataset, eval_loader, image_batches, select
from seco.evaluation.inference import cam_inference_record, predict_scores
from seco.evaluation.metrics import ConfusionMatrix, ContextFalsePositives, cooccurrence_table, segmentation_metrics
from seco.method.par import PAR, build_par
from seco.method.schedule import active_weights
from seco.model import SeCoNet
from seco.report.plots import CamSample
from seco.report.tables import BLOCK_TITLES

__all__ = ["Evaluation", "default_outputs", "evaluate"]

CRFItem = tuple[tuple[str, np.ndarray, Any], np.ndarray, np.ndarray]  # ((block, gt, context), rgb, probs)


@dataclass
class Evaluation:
    """Metrics of one split: ``document`` is the metrics.json content.

    ``samples`` are overlay examples; ``embeddings`` are ``(class id, Z)``
    pairs of single-label images, the projected class tokens of eq. 3;
    ``skipped`` the bad samples left out (``data.on_error: skip``).
    """

    document: dict[str, Any]
    samples: list[CamSample] = field(default_factory=list)
    embeddings: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    skipped: list[BadSample] = field(default_factory=list)

    @property
    def scored_pixels(self) -> int:
        """Ground-truth pixels the metrics counted (0: the images had no masks)."""
        return max((block["num_pixels"] for block in self.document.get("results", {}).values()), default=0)


@dataclass
class _Accumulators:
    matrices: dict[str, ConfusionMatrix]
    contexts: dict[str, ContextFalsePositives]
    images: int = 0


def default_outputs(cfg: Config) -> tuple[str, ...]:
    """What an evaluation measures unless told: a full-supervision run has no trained CAMs, only its seg head;
    a weak run whose segmentation loss never switches on (the CAM baseline) has no trained seg head."""
    if cfg.train.supervision == "full":
        return ("seg",)
    trains_seg = "seg" in active_weights(cfg.method.losses, cfg.train.iterations - 1)
    return ("cam", "mask", "seg") if trains_seg else ("cam", "mask")


def _context_names(dataset: SegDataset) -> list[str] | None:
    return ["none", *dataset.contexts] if dataset.with_context else None


def evaluate(net: SeCoNet, cfg: Config, split: str, outputs: tuple[str, ...] = ("cam", "mask", "seg"),
             crf: bool = False, max_images: int = 0, num_samples: int = 0, num_embeddings: int = 0,
             progress: bool = True, class_names: Sequence[str] | None = None) -> Evaluation:
    """Evaluate ``outputs`` on the first ``max_images`` images (0: all) of ``split``; CRF variants are
    named ``<output>_crf``. With the model's ``class_names`` a data set of other classes is an error.

    A limited evaluation records ``subset: {first, of}`` in the document, so
    every heading can say "val, first 20 of 445 images".
    """
    dataset = eval_dataset(cfg, split, class_names)
    device = next(net.parameters()).device
    names = list(dataset.class_names)
    contexts = _context_names(dataset)
    blocks = [*outputs, *(f"{o}_crf" for o in outputs if crf)]
    acc = _Accumulators(
        matrices={b: ConfusionMatrix(dataset.num_classes, device="cpu") for b in blocks},
        contexts={b: ContextFalsePositives(dataset.num_classes, len(contexts)) for b in blocks} if contexts else {},
    )
    selection = select(dataset, max_images)
    loader = eval_loader(dataset, selection, cfg.eval.batch_size, cfg.data.num_workers)
    par = build_par(cfg.method.par, device)
    result = Evaluation(document={}, skipped=list(dataset.catalog.skipped))
    net.eval()
    bar = progress_bar(f"evaluate {selection.label(split)}", progress, total=len(selection.indices))
    stream = _predictions(net, loader, par, cfg, outputs, acc, result, num_samples, num_embeddings, bar)
    if crf:
        with CRFPool(workers=cfg.eval.crf_workers) as pool:
            for (block, gt, context), labels in pool.imap(stream):
                _count(acc, block, labels, gt, context)
    else:
        for _ in stream:
            pass
    for block in blocks:
        acc.matrices[block].all_reduce_()
        if block in acc.contexts:
            acc.contexts[block].all_reduce_()
    results = {b: segmentation_metrics(acc.matrices[b].matrix, names) for b in blocks}
    pairs = [tuple(p) for p in dataset.cooccurrence]
    images = int(dist.all_reduce_sum(torch.tensor(acc.images)))
    document: dict[str, Any] = {"split": split, "results": results, "meta": {"images": images}}
    if {"cam", "mask"} & set(outputs):
        document["cam_inference"] = cam_inference_record(cfg)
    if selection.limited:
        document["subset"] = {"first": selection.count, "of": selection.total}
    if result.skipped:
        document["meta"]["skipped"] = len(result.skipped)
    if pairs:
        document["cooccurrence"] = {
            b: cooccurrence_table(results[b], pairs, _context_fp(acc, b, names, contexts)) for b in blocks
        }
    result.document = document
    return result


def _context_fp(acc: _Accumulators, block: str, names: list[str], contexts: list[str] | None) -> Any:
    if block not in acc.contexts or contexts is None:
        return None
    return acc.contexts[block].to_dict(names, contexts)


def _count(acc: _Accumulators, block: str, pred: np.ndarray | torch.Tensor, gt: np.ndarray,
           context: np.ndarray | None) -> None:
    acc.matrices[block].update(pred, gt)
    if context is not None and block in acc.contexts:
        acc.contexts[block].update(pred, gt, context)


def _predictions(net: SeCoNet, loader: DataLoader, par: PAR | None, cfg: Config, outputs: tuple[str, ...],
                 acc: _Accumulators, result: Evaluation, num_samples: int,
                 num_embeddings: int, bar: tqdm) -> Iterator[CRFItem]:
    """Count plain predictions; yield ``((block, gt, context), rgb, probs)`` CRF items."""
    device = next(net.parameters()).device
    has_contexts = bool(acc.contexts)
    for batch in image_batches(loader, bar, result.skipped):
        acc.images += len(batch["name"])
        images = batch["image"].to(device)
        labels = batch["labels"].to(device)
        scores = predict_scores(net, images, labels, par, cfg, outputs)
        if len(result.embeddings) < num_embeddings:
            single = (labels.sum(1) == 1).nonzero().flatten()
            if len(single):
                with torch.no_grad():
                    z = net.embed(images[single]).cpu()
                result.embeddings += list(zip((labels[single].argmax(1) + 1).tolist(), z))
        rgb8 = (images * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        for i in range(len(batch["name"])):
            h, w = batch["size"][i].tolist()
            gt = batch["mask"][i, :h, :w].numpy()
            context = batch["context"][i, :h, :w].numpy() if has_contexts else None
            per_output = {o: s[i, :, :h, :w].float() for o, s in scores.items()}
            preds = {o: p.max(0).indices.cpu() for o, p in per_output.items()}
            for output, pred in preds.items():
                _count(acc, output, pred, gt, context)
            if len(result.samples) < num_samples:
                present = (labels[i].nonzero().flatten() + 1).tolist()
                result.samples.append(_sample(rgb8[i, :h, :w], gt, preds, per_output, present))
            for output, probs in per_output.items():
                if f"{output}_crf" in acc.matrices:
                    normalised = probs / probs.sum(0, keepdim=True).clamp(min=1e-8)
                    yield (f"{output}_crf", gt, context), rgb8[i, :h, :w], normalised.cpu().numpy()


def _sample(rgb: np.ndarray, gt: np.ndarray, preds: dict[str, torch.Tensor], scores: dict[str, torch.Tensor],
            classes: list[int]) -> CamSample:
    """An overlay sample: the image, its GT, the CAM of every class of the image's labels (also one that
    stayed all zero), then the pseudo mask and the segmentation where evaluated (else the CAM's argmax)."""
    shown = [o for o in ("mask", "seg") if o in preds] or ["cam"]
    cams = {c: scores["cam"][c].cpu().numpy() for c in classes} if "cam" in scores else {}
    more = {BLOCK_TITLES[o]: preds[o].numpy() for o in shown[1:]}
    return CamSample(image=rgb, gt=gt, pred=preds[shown[0]].numpy(), cams=cams, pred_title=BLOCK_TITLES[shown[0]],
                     more_preds=more)
