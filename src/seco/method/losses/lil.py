"""LiL: tag-guided contrast of patch queries with reservoir keys (paper eq. 8), by the paper and the public code."""

from __future__ import annotations

import torch
from torch import Tensor

from seco.labels import UNCERTAIN
from seco.method.masked_mean import masked_mean
from seco.method.rectification import positive_logits_public, same_tag_pairs

__all__ = ["lil_loss", "lil_loss_public"]


def lil_loss(q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, tau_l: float) -> Tensor:
    """Eq. 8, a supervised-contrastive InfoNCE over the reservoir ``R(x, t)`` (``lil.formula: paper``).

    ``log p_ij = q_i^T k_j / tau_l - logsumexp_{k' in R}(q_i^T k' / tau_l)``;
    the loss is ``-sum_{i, j positive} M_f log p_ij / N_l^+``.

    Args:
        q: (N, D) normalised student queries.
        tags: (N,) query tags after rectification; rows tagged -1 are the
            ``M_f = 0`` rows and take no part.
        keys: (M, D) normalised keys (the current keys joined with the
            reservoir, eq. 5), used as given: pass detached teacher keys.
        key_tags: (M,) tags of the keys; keys tagged -1 are uncertain patches,
            which the paper excludes from the contrast, so they are in no
            denominator either.
        tau_l: temperature.

    Positives of ``q_i`` are the keys with its tag. The log-probability is
    masked to the positives and ``N_l^+`` counts all positive pairs, so a
    query with no positive key adds nothing. With no positive pair the loss is
    a zero that still carries grad.
    """
    logits = (q @ keys.to(q).T / tau_l).masked_fill((key_tags == UNCERTAIN).unsqueeze(0), float("-inf"))
    log_prob = logits - logits.logsumexp(dim=1, keepdim=True)
    return -masked_mean(log_prob, same_tag_pairs(tags, key_tags))


def lil_loss_public(q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, tau_l: float, fired: Tensor) -> Tensor:
    """The public code's LiL, term for term (``lil.formula: public``).

    With ``P`` the masked shifted logits of
    :func:`~seco.method.rectification.positive_logits_public` (rows of
    rectified queries, ``fired``, set to 0) and ``L`` the shifted logits with
    rows tagged -1 and columns of keys tagged -1 set to 0:

    * ``S_i = sum_j exp(L_ij) [exp(L_ij) != 1]``: every key whose logit is not
      exactly 0 (so the row's most similar key, whose shifted logit is 0, is
      left out of the denominator, as are -1 keys);
    * ``r_i = sum_{j=1..M} (P_ij - log(S_i + 1e-12))``: the log-probability is
      not masked to the positives, so every key adds ``-log S_i``;
    * ``loss = -(1/N) sum_i r_i / n`` over the rows with ``S_i > 0`` and
      ``r_i < 0``, where ``n`` is the number of nonzero entries of ``P`` in the
      whole batch (its positive pairs, bar exact zeros).

    Args:
        q: (N, D) queries; tags: (N,) tags before rectification.
        keys, key_tags: the public key set: this step's keys followed by the
            reservoir after they were pushed into it (they appear twice).
        fired: (N,) bool, the queries the public rectification fired on.
    """
    positive_logits = positive_logits_public(q, tags, keys, key_tags, tau_l)
    positive_logits = torch.where(fired.unsqueeze(1), torch.zeros_like(positive_logits), positive_logits)
    logits = q @ keys.to(q).T / tau_l
    logits = logits - logits.amax(dim=1, keepdim=True).detach()
    dropped = (tags == UNCERTAIN).unsqueeze(1) | (key_tags == UNCERTAIN).unsqueeze(0)
    logits = torch.where(dropped, torch.zeros_like(logits), logits)
    exp = logits.exp()
    denominator = torch.where(exp != 1.0, exp, torch.zeros_like(exp)).sum(dim=1)
    rows = (positive_logits - torch.log(denominator + 1e-12).unsqueeze(1)).sum(dim=1)
    pairs = (positive_logits != 0).sum()
    used = (pairs > 0) & (denominator > 0) & (rows < 0)
    total = torch.where(used, rows / pairs.clamp(min=1), torch.zeros_like(rows)).sum()
    return -total / q.shape[0]
