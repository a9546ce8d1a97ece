"""Means over boolean masks that stay finite when the mask is empty."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["masked_mean"]


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` is true; an empty mask gives 0.

    The zero of an empty mask is ``0 / 1`` of a masked sum, so it still carries
    the autograd graph (``.backward()`` works) instead of the NaN of ``0 / 0``,
    and no host synchronisation is needed to detect the empty case. Entries
    outside the mask are never read, so non-finite values there are harmless.
    """
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    return total / mask.sum().clamp(min=1)
