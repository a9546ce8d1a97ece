"""LiL: tag-guided contrast of patch queries with reservoir keys (paper eq. 8)."""

from __future__ import annotations

from torch import Tensor

from seco.labels import UNCERTAIN

from .masked import masked_mean

__all__ = ["lil_loss"]


def lil_loss(q: Tensor, tags: Tensor, keys: Tensor, key_tags: Tensor, tau_l: float) -> Tensor:
    """Eq. 8, a supervised-contrastive InfoNCE over the reservoir ``R(x, t)``.

    ``log p_ij = q_i^T k_j / tau_l - logsumexp_{k' in R}(q_i^T k' / tau_l)``;
    the loss is ``-sum_{i, j positive} M_f log p_ij / N_l^+``.

    Args:
        q: (N, D) normalised student queries.
        tags: (N,) query tags after rectification; rows tagged -1 are the
            ``M_f = 0`` rows and take no part.
        keys: (M, D) normalised keys (the reservoir joined with the current
            batch, eq. 5), used as given: pass detached teacher keys.
        key_tags: (M,) tags of the keys.
        tau_l: temperature.

    Positives of ``q_i`` are the keys with its tag; every key, positive or
    not, is in the denominator. The log-probability is masked to the
    positives and ``N_l^+`` counts all positive pairs, so a query with no
    positive key adds nothing. With no positive pair the loss is a zero that
    still carries grad.
    """
    logits = q @ keys.to(q).T / tau_l
    log_prob = logits - logits.logsumexp(dim=1, keepdim=True)
    positive = (tags.unsqueeze(1) == key_tags.unsqueeze(0)) & (tags != UNCERTAIN).unsqueeze(1)
    return -masked_mean(log_prob, positive)
