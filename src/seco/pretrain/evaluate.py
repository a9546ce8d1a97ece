"""How good a pretrained encoder is: its labels, and where its CAMs land.

A backbone serves weakly supervised segmentation when its class maps sit on
the objects and stay off the surroundings, not only when its labels are
right. So besides label accuracy this measures, on the pretraining set's
validation split, the CAM mIoU (the same CAM-to-mask rule as the benchmark's
evaluation: eq. 1 CAMs, min-max normalised, background score ``bkg_thr``) and
how often the CAM mask claims context pixels (water, rails, sky) compared
with plain background pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from seco.evaluation.metrics import ConfusionMatrix, segmentation_metrics
from seco.method.cam import cams_to_mask, multiscale_cams
from seco.model import SeCoNet

__all__ = ["evaluate_pretraining", "set_accuracy"]


@torch.no_grad()
def evaluate_pretraining(net: SeCoNet, batches: Iterable[dict[str, torch.Tensor]], class_names: list[str],
                         context_names: list[str], bkg_thr: float,
                         cls_head: nn.Module | None = None) -> dict[str, Any]:
    """Label and CAM metrics of ``net`` over ``batches`` of :class:`~seco.synthetic.pretrain_set.PretrainSet` items.

    Returns a JSON-ready dict:

    - ``accuracy``: share of images whose label set is exactly their ``n`` top-scoring classes,
      ``n`` being the number of objects in the image;
    - ``single_accuracy``: top-1 accuracy over the images with exactly one object;
    - ``map``: mean average precision over classes;
    - ``cam_miou`` / ``aux_cam_miou``: mIoU (background included) of the final / auxiliary CAM masks;
    - ``cam_fp_tp``: mean per-class FP/TP of the final CAM mask;
    - ``cam_on_context``: for each context and ``plain`` background, the share of its pixels the
      final CAM mask calls foreground;
    - ``cls_single_accuracy`` (only with ``cls_head``, the class token's classifier): its top-1
      accuracy over the images with exactly one object.
    """
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    matrices = {key: ConfusionMatrix(len(class_names)) for key in ("cam", "aux")}
    claimed = np.zeros(len(context_names), dtype=np.int64)
    area = np.zeros(len(context_names), dtype=np.int64)
    all_labels, all_logits, cls_logits = [], [], []
    for batch in batches:
        images, labels = batch["image"].to(device), batch["labels"].to(device)
        out = net(images, with_seg=False)
        all_logits.append(out.logits.float().cpu())
        if cls_head is not None:
            cls_logits.append(cls_head(out.cls).float().cpu())
        all_labels.append(labels.cpu())
        cam, aux = multiscale_cams(net.cams, images, labels, scales=[1.0], flip=False)
        mask, context = batch["mask"].long(), batch["context"].long()
        background = mask == 0
        for key, maps in (("cam", cam), ("aux", aux)):
            pred = cams_to_mask(maps, labels, bkg_thr).cpu()
            matrices[key].update(pred, mask)
            if key == "cam":
                claimed += np.bincount(context[background & (pred > 0)].numpy(), minlength=len(context_names))
                area += np.bincount(context[background].numpy(), minlength=len(context_names))
    if was_training:
        net.train()
    labels, logits = torch.cat(all_labels), torch.cat(all_logits)
    single = labels.sum(1) == 1
    extra = {"cls_single_accuracy": _single_accuracy(torch.cat(cls_logits), labels, single)} if cls_logits else {}
    cam = segmentation_metrics(matrices["cam"].matrix, class_names)
    aux = segmentation_metrics(matrices["aux"].matrix, class_names)
    shares = {("plain" if i == 0 else name): (float(claimed[i] / area[i]) if area[i] else None)
              for i, name in enumerate(context_names)}
    present = labels.sum(0) > 0
    return {
        "images": int(labels.shape[0]),
        "accuracy": set_accuracy(logits, labels),
        "single_accuracy": _single_accuracy(logits, labels, single),
        "map": float(average_precision_score(labels[:, present].numpy(), logits[:, present].numpy(),
                                             average="macro")),
        "cam_miou": cam["miou"],
        "aux_cam_miou": aux["miou"],
        "cam_fp_tp": cam["confusion_ratio_mean"],
        "cam_on_context": shares,
        **extra,
    }


def _single_accuracy(logits: torch.Tensor, labels: torch.Tensor, single: torch.Tensor) -> float | None:
    """Top-1 accuracy over the rows marked ``single`` (None when there are none)."""
    if not bool(single.any()):
        return None
    return float((logits[single].argmax(1) == labels[single].argmax(1)).float().mean())


def set_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose ``labels.sum()`` highest logits are exactly the labelled classes."""
    rank = logits.argsort(dim=1, descending=True).argsort(dim=1)
    return float(((rank < labels.sum(1, keepdim=True)) == labels.bool()).all(1).float().mean())
