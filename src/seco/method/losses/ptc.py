"""ToCo's patch token contrast (PTC) on the final token map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.labels import IGNORE_INDEX
from seco.method.masked_mean import masked_mean

__all__ = ["ptc_loss"]


def ptc_loss(tokens: Tensor, label_map: Tensor, ignore_index: int = IGNORE_INDEX, counts: str = "exact") -> Tensor:
    """``0.5 (1 - mean_pos |cos|) + 0.5 mean_neg |cos|`` over token pairs of each image.

    Args:
        tokens: (B, D, h, w) token features.
        label_map: (B, h, w) token labels 0..K, ``ignore_index`` for uncertain
            tokens (:func:`seco.method.pseudo_labels.token_label_map` or
            :func:`~seco.method.pseudo_labels.labels_to_token_grid`).
        counts: ``exact``: each mean divides by its pair count, 0 (with grad)
            when it has no pair, so a map with no positive pair does not add
            the constant 0.5 of ``1 - 0``; ``plus_one``: divides by the count
            + 1 (the public code; a map with no positive pair adds 0.5).

    A pair of distinct tokens of the same image is positive when both have
    the same label and negative when their labels differ; pairs with an
    ignored token and a token with itself are left out. Sums run over the
    whole batch.
    """
    b, _, h, w = tokens.shape
    flat = F.normalize(tokens.flatten(2), dim=1)
    cos = (flat.transpose(1, 2) @ flat).abs()
    labels = label_map.reshape(b, h * w)
    known = labels != ignore_index
    pair = known.unsqueeze(2) & known.unsqueeze(1)
    pair &= ~torch.eye(h * w, dtype=torch.bool, device=tokens.device)
    same = labels.unsqueeze(2) == labels.unsqueeze(1)
    positive, negative = pair & same, pair & ~same
    if counts == "plus_one":
        zero = torch.zeros_like(cos)
        mean_pos = torch.where(positive, cos, zero).sum() / (positive.sum() + 1)
        return 0.5 * (1.0 - mean_pos) + 0.5 * torch.where(negative, cos, zero).sum() / (negative.sum() + 1)
    return 0.5 * masked_mean(1.0 - cos, positive) + 0.5 * masked_mean(cos, negative)
