"""Heads on the encoder tokens: classifier/CAM, projection, segmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassifierHead", "ProjectionHead", "SegmentationHead"]


class ClassifierHead(nn.Module):
    """A bias-free 1x1 conv over the token map, shared by logits and CAMs.

    Logits use global max pooling of the token map as in ToCo; the class map
    ``W^T Z`` at every token is the CAM of paper eq. 1 before its ReLU, which
    :func:`seco.method.cam.multiscale_cams` applies.
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, num_classes, kernel_size=1, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Image-level logits (B, K) from a token map (B, D, h, w)."""
        return self.region_logits(tokens, 1).flatten(1)

    def region_logits(self, tokens: torch.Tensor, grid: int) -> torch.Tensor:
        """Logits (B, K, grid, grid) of the ``grid x grid`` equal blocks of the token map, each max-pooled alone."""
        h, w = tokens.shape[-2:]
        if h % grid or w % grid:
            raise ValueError(f"a {h}x{w} token map does not split into {grid}x{grid} equal blocks")
        return self.conv(F.adaptive_max_pool2d(tokens, grid))

    def cam(self, tokens: torch.Tensor) -> torch.Tensor:
        """Raw class maps ``W^T Z`` (B, K, h, w): eq. 1 before the ReLU."""
        return self.conv(tokens)


class ProjectionHead(nn.Module):
    """DINO-style 3-layer MLP with GELU and an L2-normalised output (O_q, O_k of eq. 2)."""

    def __init__(self, dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, out_dim)
        )

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(cls), dim=-1)


class SegmentationHead(nn.Module):
    """Parallel dilated 3x3 convs, summed (the decoder of the official setting)."""

    def __init__(self, dim: int, num_classes: int, dilations: list[int]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(dim, num_classes, 3, padding=d, dilation=d) for d in dilations)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([branch(tokens) for branch in self.branches]).sum(0)
