"""Similarity-based rectification of noisy patch tags (paper eqs. 6-7), by the paper's and the public rule."""

from __future__ import annotations

import torch
from torch import Tensor

from seco.labels import UNCERTAIN

__all__ = ["RULES", "positive_logits_public", "rectify_tags", "same_tag_pairs"]

RULES = ("paper", "public")


def same_tag_pairs(tags: Tensor, key_tags: Tensor) -> Tensor:
    """(N, M) bool: key ``j`` carries query ``i``'s tag (its positives ``R_+``); rows tagged -1 have none."""
    return (tags.unsqueeze(1) == key_tags.unsqueeze(0)) & (tags != UNCERTAIN).unsqueeze(1)


def positive_logits_public(q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, tau: float) -> Tensor:
    """The public code's masked logits (N, M): ``(q_i . k_j - max_j q_i . k_j) / tau`` on same-tag pairs, 0 elsewhere.

    Rows tagged -1 are all zero. Shared by the public rectification and the
    public LiL (:func:`seco.method.losses.lil.lil_loss_public`).
    """
    logits = q @ keys.to(q).T / tau
    logits = logits - logits.amax(dim=1, keepdim=True).detach()
    return torch.where(same_tag_pairs(tags, key_tags), logits, torch.zeros_like(logits))


@torch.no_grad()
def rectify_tags(q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, sigma: float, rule: str = "paper",
                 tau: float = 1.0) -> tuple[Tensor, Tensor]:
    """Rectify the tags of queries whose same-tag keys look unlike them.

    ``rule='paper'`` (eqs. 6-7): for a query ``q_i`` with tag ``t_i >= 0`` and
    its positives ``R_+`` (keys with tag ``t_i``), ``mu = mean_{k in R_+}
    q_i^T k`` and ``N_v = #{k in R_+ : q_i^T k < mu}``; if ``N_v / |R_+| >
    sigma`` the tag becomes -1 (uncertain).

    ``rule='public'`` (the public code, exactly): on the row of
    :func:`positive_logits_public` (shifted logits, 0 off the positives) the
    mean ``m`` is taken over all M keys; the tag becomes 0 (background) when
    ``#{entries < m} / (#{entries >= m} + 1e-6) > sigma``. As the entries
    are <= 0 and the M - |R_+| zeros are all >= m, this needs ``N_v > sigma
    / (1 + sigma) M``: with sigma 10, more than ~91 % of all keys, so it
    almost never fires.

    Queries with tag -1 (and, under the paper rule, without any positive key)
    are left untouched.

    Returns:
        ``(new_tags (N,), fired (N,) bool)``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if rule == "public":
        logits = positive_logits_public(q, tags, keys, key_tags, tau)
        mean = logits.mean(dim=1, keepdim=True)
        below, above = (logits < mean).sum(dim=1), (logits >= mean).sum(dim=1)
        fired = below / (above + 1e-6) > sigma
        return torch.where(fired, torch.zeros_like(tags), tags), fired
    sims = q @ keys.T
    positive = (tags.unsqueeze(1) == key_tags.unsqueeze(0)) & (tags >= 0).unsqueeze(1)
    num_pos = positive.sum(dim=1)
    mu = torch.where(positive, sims, torch.zeros_like(sims)).sum(dim=1) / num_pos.clamp(min=1)
    num_below = (positive & (sims < mu.unsqueeze(1))).sum(dim=1)
    fired = (num_pos > 0) & (num_below > sigma * num_pos)
    return torch.where(fired, torch.full_like(tags, UNCERTAIN), tags), fired
