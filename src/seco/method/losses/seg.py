"""Balanced segmentation cross-entropy against the online pseudo labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.labels import IGNORE_INDEX
from seco.method.masked_mean import masked_mean

__all__ = ["balanced_seg_loss"]


def balanced_seg_loss(logits: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX,
                      empty_kind: str = "halve") -> Tensor:
    """Mean of a background and a foreground cross-entropy term (L_seg, paper Sec. 3.6).

    Args:
        logits: (B, C, h, w) segmentation logits, upsampled bilinearly to the
            target size when smaller.
        target: (B, H, W) pseudo labels: 0 background, 1..K classes,
            ``ignore_index`` ignored.

        empty_kind: what a batch with only one kind of pixel gets.
            ``halve`` (public code): ``0.5 (bg + fg)`` with the missing term 0,
            so that batch's loss counts half; ``drop``: the mean of the terms
            present, the one term alone.

    The background term averages the per-pixel cross-entropy over pixels
    labelled 0, the foreground term over pixels labelled 1..K, over the whole
    batch. A batch made entirely of ignored pixels gives a zero that still
    carries grad (never NaN).
    """
    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    ce = F.cross_entropy(logits, target.long(), ignore_index=ignore_index, reduction="none")
    background = target == 0
    foreground = (target != 0) & (target != ignore_index)
    terms = torch.stack([masked_mean(ce, background), masked_mean(ce, foreground)])
    if empty_kind == "halve":
        return 0.5 * terms.sum()
    present = torch.stack([background.any(), foreground.any()])
    return terms.sum() / present.sum().clamp(min=1)
