"""Pixel-adaptive refinement (PAR) of class probabilities (AFA, CVPR 2022; ToCo).

PAR propagates class probabilities between nearby pixels of similar colour,
so a pseudo label fills a uniformly coloured region and stops at a colour
edge. SeCo refines its segmentation pseudo labels with it (recipe step 2;
``PARConfig``: 10 iterations, dilations 1,2,4,8,12,24, w1 0.3, w2 0.01).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.config import PARConfig

__all__ = ["PAR", "build_par", "interior"]

_EPS = 1e-8
_BLOCK_FLOATS = 1 << 17


def _neighbour_offsets(dilations: Sequence[int]) -> list[tuple[int, int]]:
    """The 8-neighbourhood offsets (dy, dx) at every dilation, dilation-major."""
    ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    return [(d * dy, d * dx) for d in dilations for dy, dx in ring]


class PAR(nn.Module):
    """Pixel-adaptive refinement with a colour and a position affinity.

    For pixel ``i`` with neighbours ``j`` (the 8-neighbourhood at each dilation
    ``d``; M = 8 * len(dilations) neighbours; replicate padding at borders)::

        k_rgb(i, j) = -mean_c ( |I_c(i) - I_c(j)| / (w1 * std_j I_c(j)) )^2
        k_pos(j)    = -( |p_j| / (w1 * std_j |p_j|) )^2
        a(i, j)     = ( softmax_j k_rgb(i, j) + w2 * softmax_j k_pos(j) ) / (1 + w2)

    where ``std_j`` is the standard deviation over the M neighbours of ``i``
    (per colour channel for ``I``) and ``|p_j|`` the length of the offset
    (``d`` or ``d * sqrt(2)``). Each of ``num_iter`` iterations sets
    ``P(i) <- sum_j a(i, j) P(j)``.

    This is the AFA/ToCo affinity with one change: the public code leaves the
    weights summing to ``1 + w2``, which inflates probabilities by that factor
    per iteration; dividing by ``1 + w2`` makes every update a convex
    combination, so probabilities stay in [0, 1] and their sum over classes
    is preserved. The argmax is the same either way.

    Args:
        dilations: neighbourhood dilations (``PARConfig.dilations``).
        num_iter: propagation iterations (``PARConfig.num_iter``).
        w1: colour/position bandwidth factor (``PARConfig.w1``).
        w2: weight of the position term (``PARConfig.w2``).
    """

    position_weights: Tensor

    def __init__(self, dilations: Sequence[int], num_iter: int, w1: float = 0.3, w2: float = 0.01) -> None:
        super().__init__()
        self.offsets = _neighbour_offsets(dilations)
        self.padding = max(max(abs(dy), abs(dx)) for dy, dx in self.offsets)
        self.num_iter = num_iter
        self.w1 = w1
        self.w2 = w2
        distance = torch.tensor([math.hypot(dy, dx) for dy, dx in self.offsets])
        k_pos = -(distance / (w1 * distance.std() + _EPS)) ** 2
        self.register_buffer("position_weights", k_pos.softmax(dim=0), persistent=False)

    def neighbours(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Every pixel of ``x`` (B,C,H,W) and its M neighbours, as (B,C,L) slices of one padded copy.

        ``x`` is replicate-padded (one extra row above and below keeps every
        slice in bounds) and flattened, so the neighbour at offset (dy, dx)
        is the contiguous slice ``dy * padded_width + dx`` further on than the
        pixel's own: each slice holds whole padded rows, L = H * padded_width,
        whose padding columns are computed and then dropped by
        :func:`interior`. Every operation on them is one long vectorised loop
        instead of H short rows.
        """
        height, width = x.shape[-2:]
        pad = self.padding
        padded_width = width + 2 * pad
        length = height * padded_width
        start = (pad + 1) * padded_width
        flat = F.pad(x, [pad, pad, pad + 1, pad + 1], mode="replicate").flatten(2)
        firsts = [start + dy * padded_width + dx for dy, dx in self.offsets]
        around = [flat[..., first : first + length] for first in firsts]
        return flat[..., start : start + length], around

    def affinity(self, rgb: Tensor) -> Tensor:
        """Propagation weights a(i, j): (B,3,H,W) -> (B,M,H,W), summing to 1 over M."""
        centre, around = self.neighbours(rgb)
        mean = sum(around) / len(around)
        spread = (sum((x - mean) ** 2 for x in around) / (len(around) - 1)).sqrt()  # unbiased std over M
        bandwidth = self.w1 * spread + _EPS
        k_rgb = torch.stack([(((x - centre).abs() / bandwidth) ** 2).mean(dim=1).neg() for x in around], dim=1)
        colour_weights = interior(k_rgb, rgb.shape[-1], self.padding).softmax(dim=1)
        position_weights = self.position_weights.to(colour_weights)[None, :, None, None]
        return (colour_weights + self.w2 * position_weights) / (1.0 + self.w2)

    def forward(self, rgb: Tensor, probs: Tensor) -> Tensor:
        """Refine ``probs`` (B,C,H,W) guided by the image ``rgb`` (B,3,H,W) of the same size.

        The affinity is computed for the whole batch at once; then, on a CPU,
        the images go through in blocks whose maps fit in a core's cache
        (:func:`_images_per_block`), each block through every iteration.
        Every pixel's arithmetic is that of a loop over shifted
        views of the whole batch (the M terms accumulate in offset order from
        zero), so the result is bitwise the same. Memory stays
        O(B * C * H * W), not O(B * C * M * H * W).
        """
        if rgb.shape[-2:] != probs.shape[-2:]:
            raise ValueError(f"PAR needs rgb and probs of one size, got {tuple(rgb.shape)} and {tuple(probs.shape)}")
        pad = self.padding
        weights = F.pad(self.affinity(rgb.to(probs.dtype)), [pad, pad]).flatten(2)  # (B, M, L), on the padded rows
        step = _images_per_block(probs, pad)
        if step >= probs.shape[0]:
            return self._refine(weights, probs)
        return torch.cat([self._refine(w, p) for w, p in zip(weights.split(step), probs.split(step))])

    def _refine(self, weights: Tensor, probs: Tensor) -> Tensor:
        """``num_iter`` steps ``P(i) <- sum_j a(i, j) P(j)``, one multiply-add per offset over :meth:`neighbours`."""
        weights_per_offset = weights.split(1, dim=1)
        for _ in range(self.num_iter):
            centre, around = self.neighbours(probs)
            refined = centre.new_zeros(centre.shape)
            for weight, neighbour in zip(weights_per_offset, around):
                refined.addcmul_(weight, neighbour)
            probs = interior(refined, probs.shape[-1], self.padding)
        return probs.contiguous()


def interior(flat: Tensor, width: int, pad: int) -> Tensor:
    """The image columns (B,C,H,W) of padded rows flattened to (B,C,H * (width + 2 * pad)), as a view."""
    return flat.unflatten(-1, (-1, width + 2 * pad))[..., pad : pad + width]


def _images_per_block(probs: Tensor, pad: int) -> int:
    """Images PAR refines at once: on a CPU as many as keep one padded block of maps near 512 KiB per
    thread (each core's L2 cache holds its share with its weights: 4 of the demo's 48 px maps on one
    thread, 1.3-1.5x faster than the whole batch while other jobs share the machine's L3 cache, as
    fast on an idle machine; more threads share bigger blocks, so that no thread waits on many small
    operations), elsewhere the whole batch (one kernel per term)."""
    if probs.device.type != "cpu":
        return probs.shape[0]
    channels, height, width = probs.shape[1:]
    per_image = channels * (height + 2 * pad + 2) * (width + 2 * pad)
    return max(1, _BLOCK_FLOATS * torch.get_num_threads() // per_image)


def build_par(cfg: PARConfig, device: torch.device | str = "cpu") -> PAR | None:
    """The configured refiner on ``device``, or None when ``par.enabled`` is false."""
    return PAR(list(cfg.dilations), cfg.num_iter, cfg.w1, cfg.w2).to(device) if cfg.enabled else None
