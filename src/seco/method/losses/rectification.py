"""Similarity-based rectification of noisy patch tags (paper eqs. 6-7)."""

from __future__ import annotations

import torch
from torch import Tensor

from seco.labels import UNCERTAIN

__all__ = ["rectify_tags", "MEAN_OVER"]

MEAN_OVER = ("positives", "all_keys")


@torch.no_grad()
def rectify_tags(
    q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, sigma: float, mean_over: str = "positives"
) -> tuple[Tensor, Tensor]:
    """Set a query's tag to uncertain (-1) when too many same-tag keys look unlike it.

    For a query ``q_i`` with tag ``t_i >= 0`` (background is a valid tag) and
    its positives ``R_+`` (keys with tag ``t_i``):

    * eq. 6: ``mu = mean_{k in R_+} q_i^T k``;
    * eq. 7: ``t_i <- -1`` if ``N_v / |R_+| > sigma`` with
      ``N_v = #{k in R_+ : q_i^T k < mu}``.

    ``mean_over='all_keys'`` reproduces the public code instead: ``mu`` is the
    sum over positives divided by all M keys (non-positives count as zero
    similarity), which lowers ``mu`` and so rarely fires.

    Queries with tag -1 or without any positive key are left untouched.

    Returns:
        ``(new_tags (N,), fired (N,) bool)``.
    """
    if mean_over not in MEAN_OVER:
        raise ValueError(f"mean_over must be one of {MEAN_OVER}, got {mean_over!r}")
    sims = q @ keys.T
    positive = (tags.unsqueeze(1) == key_tags.unsqueeze(0)) & (tags >= 0).unsqueeze(1)
    num_pos = positive.sum(dim=1)
    denom = num_pos.clamp(min=1) if mean_over == "positives" else torch.full_like(num_pos, max(keys.shape[0], 1))
    mu = torch.where(positive, sims, torch.zeros_like(sims)).sum(dim=1) / denom
    num_below = (positive & (sims < mu.unsqueeze(1))).sum(dim=1)
    fired = (num_pos > 0) & (num_below > sigma * num_pos)
    return torch.where(fired, torch.full_like(tags, UNCERTAIN), tags), fired
