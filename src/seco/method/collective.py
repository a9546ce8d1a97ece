"""Make the reservoir and the prototypes global under torchrun, as in the public code.

Every process all-gathers the keys, tags and class tokens of the step before
it updates its reservoir (eq. 5) and its prototypes (eq. 3), in rank order, so
all processes hold the same state and any rank's checkpoint is exact. In one
process these are no-ops.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_from_all"]


@torch.no_grad()
def gather_from_all(tensor: Tensor) -> Tensor:
    """``tensor`` of every process concatenated along dim 0 in rank order (no gradient).

    Every process must pass a tensor of the same shape.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)
