"""The public code's regularisation loss: a gated dense bilateral energy on the segmentation softmax.

The public code (after Tang et al., "On Regularized Losses for Weakly-supervised
CNN Segmentation", ECCV 2018, as used by AFA and ToCo) computes at half
resolution, with ``S`` the softmax masked to the crop and ``W`` the dense
bilateral affinity ``W_ij = exp(-|p_i - p_j|^2 / (2 sigma_xy^2) - |I_i - I_j|^2
/ (2 sigma_rgb^2))`` (colours in 0..255, positions in pixels of the reduced
image, so ``sigma_xy`` shrinks with the scale)::

    loss = -1e-7 / B * sum_i g_i S_i . (W S)_i,   d loss / d S = -2e-7 / B * g * (W S)

with the gate ``g = 1 - max_c S_c`` inside the crop, 1 where the pseudo label
is ignored (255) and 0 elsewhere; no gradient flows through the gate. The
public code evaluates ``W S`` with a C++ permutohedral-lattice filter, an
approximation of this Gaussian sum; here it is computed exactly by default, by
one of two kernels (``method.losses.reg.kernel``): ``blocked`` exponentiates
blocks of rows of the pair matrix (the reference), ``sdpa`` runs the same sum as
``F.scaled_dot_product_attention``, which never holds the pair matrix (within
4e-5 relative of ``blocked``; a test compares them). ``lattice`` is the public
code's approximation, a permutohedral lattice in O(N) instead of O(N^2)
(:mod:`seco.method.permutohedral`): its energy is about half the exact one
(0.43-0.50 measured; the C++ filter's scaling too) and its gradient, rescaled,
within 11-14 % of the exact gradient (docs/performance.md). ``auto`` takes the one measured fastest on
the device among the exact kernels: ``blocked`` on a CPU (7x faster than
``sdpa`` on the demo's 24 x 24 maps); a GPU has not been measured yet, so
``blocked`` there too (docs/performance.md).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from seco.config import RegLossConfig, switch_choices
from seco.labels import IGNORE_INDEX
from seco.method.permutohedral import permutohedral_filter

__all__ = ["KERNELS", "PUBLIC_REG_SCALE", "dense_bilateral_filter", "dense_energy_loss"]

PUBLIC_REG_SCALE = 1e-7
KERNELS = switch_choices(RegLossConfig)["kernel"]
AUTO_KERNEL = {"cpu": "blocked", "cuda": "blocked"}
"""``kernel='auto'`` per device type (others: ``blocked``). CPU: measured, ``sdpa`` 5-7x slower on the demo's
maps. CUDA: ``sdpa``, which never writes the pair matrix, is the candidate, not yet measured on a GPU."""


def _block_elements(device: torch.device) -> int:
    """Images x rows x pixels exponentiated at once: 4 MiB of float32 on a CPU (cache-sized), 512 MiB on a GPU,
    where every block costs four kernel launches (4 MiB blocks made VOC's 224 x 224 energy ~40,000 launches)."""
    return 1 << 20 if device.type == "cpu" else 1 << 27


@torch.no_grad()
def dense_bilateral_filter(values: Tensor, rgb255: Tensor, sigma_rgb: float, sigma_xy: float,
                           kernel: str = "auto") -> Tensor:
    """``(W V)_i = sum_j W_ij V_j`` over every pixel pair of each image, the pixel itself included.

    With features ``f = (y / sigma_xy, x / sigma_xy, rgb / sigma_rgb)``, the
    exponent ``-|f_i - f_j|^2 / 2`` is one matrix product of ``(f_i, -|f_i|^2 / 2, 1)``
    with ``(f_j, 1, -|f_j|^2 / 2)``. ``kernel='blocked'`` exponentiates blocks
    of rows in place and multiplies them with V, so memory stays bounded and
    each block is touched twice; weights below ``exp(-80)`` are rounded up to
    it, which changes no sum visibly. ``kernel='sdpa'``: :func:`_filter_sdpa`.
    ``kernel='lattice'``: the permutohedral approximation (not exact: its
    kernel's self weight, tails and symmetry differ, :mod:`seco.method.permutohedral`),
    with the features in the public code's order ``(x, y, r, g, b)``.
    ``auto``: the device's entry of :data:`AUTO_KERNEL`.
    It always runs in float32, also under bf16 autocast: the exponent is a
    difference of squared norms in the hundreds, which bf16's 8 bits would ruin.

    Args:
        values: (B, C, h, w) the maps to filter.
        rgb255: (B, 3, h, w) colours in 0..255.
        sigma_rgb, sigma_xy: bandwidths in colour levels and in pixels.
        kernel: ``auto``, ``blocked``, ``sdpa`` or ``lattice`` (``method.losses.reg.kernel``).

    Returns:
        (B, C, h, w) filtered maps, float32.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown dense filter kernel {kernel!r}; one of {', '.join(KERNELS)}")
    if kernel == "auto":
        kernel = AUTO_KERNEL.get(values.device.type, "blocked")
    with torch.autocast(values.device.type, enabled=False):
        flat = values.float().flatten(2).transpose(1, 2)  # (B, P, C)
        features = _features(rgb255, sigma_rgb, sigma_xy)
        if kernel == "lattice":
            out = permutohedral_filter(flat, features[..., [1, 0, 2, 3, 4]])
        else:
            left, right = _exponent_factors(features, centred=kernel == "sdpa")
            out = _filter_sdpa(left, right, flat) if kernel == "sdpa" else _filter_blocked(left, right, flat)
    return out.transpose(1, 2).reshape(values.shape)


def _features(rgb255: Tensor, sigma_rgb: float, sigma_xy: float) -> Tensor:
    """(B, P, 5) ``f = (y / sigma_xy, x / sigma_xy, rgb / sigma_rgb)`` of every pixel."""
    batch, _, height, width = rgb255.shape
    rows, cols = torch.meshgrid(torch.arange(height, device=rgb255.device),
                                torch.arange(width, device=rgb255.device), indexing="ij")
    position = torch.stack([rows, cols]).float().expand(batch, 2, height, width) / sigma_xy
    return torch.cat([position, rgb255.float() / sigma_rgb], dim=1).flatten(2).transpose(1, 2)


def _exponent_factors(features: Tensor, centred: bool = False) -> tuple[Tensor, Tensor]:
    """(B, P, 7) factors whose row products are the exponents ``-|f_i - f_j|^2 / 2``.

    ``centred``: the features are centred on each image's mean first, which
    leaves every difference as it is and keeps the squared norms, whose
    difference the product takes, small (float32 keeps more of the exponent's
    digits); the blocked reference keeps them as they are.
    """
    if centred:
        features = features - features.mean(dim=1, keepdim=True)
    half_norm = -0.5 * features.pow(2).sum(dim=2, keepdim=True)
    ones = torch.ones_like(half_norm)
    return torch.cat([features, half_norm, ones], dim=2), torch.cat([features, ones, half_norm], dim=2)


def _filter_blocked(left: Tensor, right: Tensor, flat: Tensor) -> Tensor:
    """``exp(left right^T) flat``, a block of rows of the pair matrix at a time (the reference kernel)."""
    batch, pixels, _ = left.shape
    right = right.transpose(1, 2)
    step = max(1, _block_elements(flat.device) // (batch * pixels))
    out = torch.empty_like(flat)
    for start in range(0, pixels, step):
        # exponents below -80 (weights under 2e-35) are clamped there: no subnormal floats, which are slow on CPUs
        weights = torch.bmm(left[:, start : start + step], right).clamp_(min=-80.0, max=0.0).exp_()
        torch.bmm(weights, flat, out=out[:, start : start + step])
    return out


def _filter_sdpa(left: Tensor, right: Tensor, flat: Tensor) -> Tensor:
    """``exp(left right^T) flat`` as unnormalised attention through ``F.scaled_dot_product_attention``.

    Attention divides by ``sum_j exp(score_ij)``; one extra key whose score is
    0 for every query (an all-zero key) and whose value is 1 in an extra
    column (0 elsewhere), while the pixels' values are 0 there, makes that
    column ``1 / (1 + sum_j W_ij)`` and the others ``(W V)_i / (1 + sum_j W_ij)``,
    so their ratio is ``(W V)_i`` (the kernel's shift by each row's largest
    score, about 0, a pixel's own, cancels in the ratio). Head widths are padded with zeros to multiples of 8,
    which the fused kernels want; on a GPU only the fused kernels may run (the
    fallback would hold the whole pair matrix).
    """
    batch, pixels, channels = flat.shape
    query = F.pad(left, [0, _pad8(left.shape[2])])
    key = F.pad(right, [0, _pad8(right.shape[2]), 0, 1])  # the extra key: all zeros, score 0
    value = F.pad(flat, [0, 1 + _pad8(channels + 1), 0, 1])
    value[:, pixels, channels] = 1.0
    with _fused_attention_only(flat.device):
        out = F.scaled_dot_product_attention(query[:, None], key[:, None], value[:, None], scale=1.0)[:, 0]
    return out[..., :channels] / out[..., channels : channels + 1]


def _pad8(width: int) -> int:
    """Zero columns that pad ``width`` to a multiple of 8."""
    return -width % 8


def _fused_attention_only(device: torch.device) -> contextlib.AbstractContextManager:
    """On a GPU, allow only the memory-efficient and flash kernels (an error instead of the N x N fallback)."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    return sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION, SDPBackend.FLASH_ATTENTION])


def dense_energy_loss(probs: Tensor, rgb: Tensor, valid: Tensor, pseudo: Tensor, sigma_rgb: float = 15.0,
                      sigma_xy: float = 100.0, scale: float = 0.5, kernel: str = "auto") -> Tensor:
    """The public code's gated dense energy (``reg.formula: public``), value and gradient as it defines them.

    Args:
        probs: (B, C, H, W) softmax of the segmentation logits.
        rgb: (B, 3, H, W) image in [0, 1].
        valid: (B, H, W) bool, the crop box.
        pseudo: (B, H, W) segmentation pseudo labels (255 = ignored).
        sigma_rgb, sigma_xy: bandwidths (colour levels, full-resolution pixels).
        scale: resolution of the energy (0.5 in the public code): the image,
            box and labels are resized by nearest neighbour, the softmax bilinearly.
        kernel: the filter's kernel (:func:`dense_bilateral_filter`).

    Returns:
        A scalar: ``-1e-7 / B sum g S . (W S)``, whose gradient with respect
        to the reduced ``S`` is ``-2e-7 / B g (W S)`` inside the crop.
    """
    height, width = probs.shape[-2:]
    size = (int(height * scale), int(width * scale))
    seg = F.interpolate(probs.float(), size=size, mode="bilinear", align_corners=False)
    rgb255 = F.interpolate(rgb.float() * 255.0, size=size, mode="nearest")
    roi = F.interpolate(valid[:, None].float(), size=size, mode="nearest")
    unlabelled = F.interpolate(pseudo[:, None].float(), size=size, mode="nearest") == IGNORE_INDEX
    gate = torch.where(unlabelled, torch.ones_like(roi), roi - seg.detach().amax(dim=1, keepdim=True)).clamp(min=0)
    seg = seg * roi
    filtered = gate * dense_bilateral_filter(seg.detach(), rgb255, sigma_rgb, sigma_xy * scale, kernel)
    energy = (seg * filtered).sum() / probs.shape[0]
    return PUBLIC_REG_SCALE * (-2.0 * energy + energy.detach())
