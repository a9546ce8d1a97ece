"""The local-window variant of the reg loss (``method.losses.reg.formula: window``): a bilateral
(dense-CRF-like) energy on the segmentation softmax over a small window. Neither fidelity preset uses it:
both train with the public code's dense energy (:mod:`seco.method.losses.dense_energy`).

The energy is the Potts relaxation of Tang et al., "On Regularized Losses for
Weakly-supervised CNN Segmentation" (ECCV 2018):
``E(S) = sum_ij W_ij (1 - sum_c S_ic S_jc)`` with the bilateral affinity
``W_ij = exp(-|p_i - p_j|^2 / (2 sigma_xy^2) - |I_i - I_j|^2 / (2 sigma_rgb^2))``.
Instead of a dense filter (a C++ permutohedral lattice in the public code),
pairs are restricted to a small window, handled one offset at a time with
shifted slices, so memory stays O(B C H W).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["bilateral_energy_loss"]


def bilateral_energy_loss(
    probs: Tensor,
    rgb: Tensor,
    valid: Tensor,
    sigma_rgb: float = 15.0,
    sigma_xy: float = 100.0,
    scale: float = 0.5,
    window: int = 5,
) -> Tensor:
    """Mean Potts energy ``W_ij (1 - S_i . S_j)`` over valid neighbour pairs.

    Args:
        probs: (B, C, H, W) softmax of the segmentation logits.
        rgb: (B, 3, H, W) the de-normalised image in [0, 1]; colour
            differences are measured in 8-bit levels (x 255), the units of
            ``sigma_rgb``.
        valid: (B, H, W) bool, the pixels inside the crop box (padding is
            excluded; pseudo-label ignore pixels are not, as the loss needs
            no label).
        sigma_rgb: colour bandwidth, in 8-bit intensity levels (0..255).
        sigma_xy: spatial bandwidth, in pixels of the original resolution.
        scale: probs, image and mask are first resized by this factor.
        window: side of the square neighbourhood (odd, >= 3) on the resized grid.

    Each unordered pair ``(i, j)`` with both ends valid and ``j - i`` inside
    the window is counted once; the sum is divided by the number of such
    pairs, so the loss lies in [0, 1] whatever the image size and its weight
    (0.05 by default) has the same meaning at every resolution. It is computed
    in float32 (a half-precision sum over many pairs would overflow). With no
    valid pair the loss is a zero that still carries grad.
    """
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 3, got {window}")
    probs, rgb = probs.float(), rgb.float() * 255.0
    height, width = probs.shape[-2:]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if size != (height, width):
        probs = F.interpolate(probs, size=size, mode="bilinear", align_corners=False)
        rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False)
        valid = F.interpolate(valid.unsqueeze(1).float(), size=size, mode="nearest").squeeze(1) > 0.5
    valid = valid.unsqueeze(1)
    pixel_y, pixel_x = height / size[0], width / size[1]
    energy = probs.sum() * 0
    pairs = torch.zeros((), device=probs.device)
    for dy, dx in _half_window(window // 2):
        first, second = _pair_slices(dy, dx)
        spatial = ((dy * pixel_y) ** 2 + (dx * pixel_x) ** 2) / (2 * sigma_xy**2)
        colour = (rgb[first] - rgb[second]).pow(2).sum(dim=1) / (2 * sigma_rgb**2)
        affinity = torch.exp(-colour) * math.exp(-spatial)
        disagreement = 1.0 - (probs[first] * probs[second]).sum(dim=1)
        both = (valid[first] & valid[second]).squeeze(1)
        energy = energy + torch.where(both, affinity * disagreement, torch.zeros_like(affinity)).sum()
        pairs = pairs + both.sum()
    return energy / pairs.clamp(min=1)


def _half_window(radius: int) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` of a (2r+1)^2 window, one of each ``+-`` pair, centre excluded."""
    return [
        (dy, dx)
        for dy in range(radius + 1)
        for dx in range(-radius, radius + 1)
        if dy > 0 or dx > 0
    ]


def _pair_slices(dy: int, dx: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Index tuples for (B, C, H, W) tensors selecting pixels i and their neighbours i + (dy, dx)."""
    def span(offset: int) -> tuple[slice, slice]:
        if offset >= 0:
            return slice(0, -offset or None), slice(offset, None)
        return slice(-offset, None), slice(0, offset)

    (y_first, y_second), (x_first, x_second) = span(dy), span(dx)
    return (slice(None), slice(None), y_first, x_first), (slice(None), slice(None), y_second, x_second)
