"""LiG: contrast of patch queries with the global category prototypes (paper eq. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

from seco.method.masked_mean import masked_mean

__all__ = ["lig_classes", "lig_loss"]


def lig_loss(q: Tensor, tags: Tensor, prototypes: Tensor, present: Tensor, tau_g: float) -> Tensor:
    """Eq. 4: ``-1/N_g^+ sum_i log softmax_{P_l in P_s}(q_i^T P_l / tau_g)[P^+]``.

    Args:
        q: (N, D) normalised queries of the student.
        tags: (N,) patch tags; only foreground tags 1..K take part (background
            0 has no prototype, uncertain -1 is excluded).
        prototypes: (K, D) normalised prototypes, used detached.
        present: (K,) bool, the classes appearing in the batch (``P_s``). The
            caller should leave out classes whose prototype is not
            initialised yet.
        tau_g: temperature.

    Each kept query contrasts its own class's prototype (the one positive,
    always in its softmax) with the prototypes of ``present``. ``N_g^+`` is
    the number of kept queries; with none the loss is a zero with grad.
    """
    keep = tags > 0
    own = tags.unsqueeze(1) == torch.arange(1, prototypes.shape[0] + 1, device=tags.device)
    logits = q @ prototypes.detach().to(q).T / tau_g
    logits = logits.masked_fill(~(present.unsqueeze(0) | own), float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    positive = torch.where(own, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    return -masked_mean(positive, keep)


def lig_classes(tags: Tensor, labels: Tensor, ready: Tensor, source: str) -> Tensor:
    """The set P_s of eq. 4 (``lig.classes``): the classes among the queries' ``tags`` (public code) or among
    the batch's image ``labels`` (B, K); only classes whose prototype is ``ready`` (K,) count."""
    if source == "tags":
        classes = torch.arange(1, ready.shape[0] + 1, device=tags.device)
        present = (tags.unsqueeze(1) == classes).any(dim=0)
    else:
        present = labels.sum(dim=0) > 0
    return present & ready
