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
approximation of this Gaussian sum; here it is computed exactly, in chunks of
rows, so memory stays bounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.labels import IGNORE_INDEX

__all__ = ["PUBLIC_REG_SCALE", "dense_bilateral_filter", "dense_energy_loss"]

PUBLIC_REG_SCALE = 1e-7


def _block_elements(device: torch.device) -> int:
    """Images x rows x pixels exponentiated at once: 4 MiB of float32 on a CPU (cache-sized), 512 MiB on a GPU,
    where every block costs four kernel launches (4 MiB blocks made VOC's 224 x 224 energy ~40,000 launches)."""
    return 1 << 20 if device.type == "cpu" else 1 << 27


@torch.no_grad()
def dense_bilateral_filter(values: Tensor, rgb255: Tensor, sigma_rgb: float, sigma_xy: float) -> Tensor:
    """``(W V)_i = sum_j W_ij V_j`` over every pixel pair of each image, the pixel itself included.

    With features ``f = (y / sigma_xy, x / sigma_xy, rgb / sigma_rgb)``, the
    exponent ``-|f_i - f_j|^2 / 2`` is one matrix product of ``(f_i, -|f_i|^2 / 2, 1)``
    with ``(f_j, 1, -|f_j|^2 / 2)``; blocks of rows are exponentiated in place
    and multiplied with V, so memory stays bounded and each block is touched twice.
    Weights below ``exp(-80)`` are rounded up to it, which changes no sum visibly.
    It always runs in float32, also under bf16 autocast: the exponent is a
    difference of squared norms in the hundreds, which bf16's 8 bits would ruin.

    Args:
        values: (B, C, h, w) the maps to filter.
        rgb255: (B, 3, h, w) colours in 0..255.
        sigma_rgb, sigma_xy: bandwidths in colour levels and in pixels.

    Returns:
        (B, C, h, w) filtered maps, float32.
    """
    with torch.autocast(values.device.type, enabled=False):
        return _filter_float32(values, rgb255, sigma_rgb, sigma_xy)


def _filter_float32(values: Tensor, rgb255: Tensor, sigma_rgb: float, sigma_xy: float) -> Tensor:
    """:func:`dense_bilateral_filter`'s computation, outside autocast."""
    batch, channels, height, width = values.shape
    rows, cols = torch.meshgrid(torch.arange(height, device=values.device), torch.arange(width, device=values.device),
                                indexing="ij")
    position = torch.stack([rows, cols]).float().expand(batch, 2, height, width) / sigma_xy
    features = torch.cat([position, rgb255.float() / sigma_rgb], dim=1).flatten(2).transpose(1, 2)  # (B, P, 5)
    half_norm = -0.5 * features.pow(2).sum(dim=2, keepdim=True)
    ones = torch.ones_like(half_norm)
    left = torch.cat([features, half_norm, ones], dim=2)  # (B, P, 7)
    right = torch.cat([features, ones, half_norm], dim=2).transpose(1, 2)  # (B, 7, P)
    flat = values.float().flatten(2).transpose(1, 2)  # (B, P, C)
    pixels = features.shape[1]
    step = max(1, _block_elements(values.device) // (batch * pixels))
    out = torch.empty_like(flat)
    for start in range(0, pixels, step):
        # exponents below -80 (weights under 2e-35) are clamped there: no subnormal floats, which are slow on CPUs
        weights = torch.bmm(left[:, start : start + step], right).clamp_(min=-80.0, max=0.0).exp_()
        torch.bmm(weights, flat, out=out[:, start : start + step])
    return out.transpose(1, 2).reshape(batch, channels, height, width)


def dense_energy_loss(probs: Tensor, rgb: Tensor, valid: Tensor, pseudo: Tensor, sigma_rgb: float = 15.0,
                      sigma_xy: float = 100.0, scale: float = 0.5) -> Tensor:
    """The public code's gated dense energy (``reg.formula: public``), value and gradient as it defines them.

    Args:
        probs: (B, C, H, W) softmax of the segmentation logits.
        rgb: (B, 3, H, W) image in [0, 1].
        valid: (B, H, W) bool, the crop box.
        pseudo: (B, H, W) segmentation pseudo labels (255 = ignored).
        sigma_rgb, sigma_xy: bandwidths (colour levels, full-resolution pixels).
        scale: resolution of the energy (0.5 in the public code): the image,
            box and labels are resized by nearest neighbour, the softmax bilinearly.

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
    filtered = gate * dense_bilateral_filter(seg.detach(), rgb255, sigma_rgb, sigma_xy * scale)
    energy = (seg * filtered).sum() / probs.shape[0]
    return PUBLIC_REG_SCALE * (-2.0 * energy + energy.detach())
