"""Image-level classification loss (paper Sec. 3.6, L_cls and L_cls^aux)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["classification_loss"]


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Multi-label soft margin loss of ``logits`` (B, K) against multi-hot ``labels`` (B, K)."""
    return F.multilabel_soft_margin_loss(logits, labels.to(logits.dtype))
