"""Weak and strong views Aug_q / Aug_k of patches and global views (paper eq. 2).

Both act on batches of RGB images in [0, 1] (N,3,h,w), per sample, with every
random draw taken from one ``torch.Generator`` on the input's device. Nothing
moves content within a view except a whole-view horizontal flip, so the q and
k views of a patch cover the same pixels (recipe step 4); there is no random
crop. Colour operations clamp to [0, 1] after each step, as torchvision does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "colour_jitter",
    "gaussian_blur",
    "horizontal_flip",
    "random_grayscale",
    "shift_hue",
    "strong_augment",
    "weak_augment",
]

_LUMA = (0.299, 0.587, 0.114)


def _coin(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """(N,1,1,1) bool, True with probability ``p`` for each sample of ``x``."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device) < p


def _uniform(x: Tensor, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    """(N,1,1,1) values uniform in [low, high), one per sample of ``x``."""
    u = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)
    return low + (high - low) * u


def _luma(rgb: Tensor) -> Tensor:
    """ITU-R 601 luma (N,1,h,w) of an rgb batch (N,3,h,w)."""
    r, g, b = rgb.unbind(dim=1)  # Python-float weights: a tensor of them would be a host-to-device copy
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def horizontal_flip(x: Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> Tensor:
    """Flip each sample left-right with probability ``p``."""
    return torch.where(_coin(x, p, generator), x.flip(-1), x)


def shift_hue(rgb: Tensor, turns: Tensor) -> Tensor:
    """Rotate the HSV hue of each sample by ``turns`` (N,1,1,1) of a full turn; value and saturation stay.

    The hue in sixths of a turn comes from the max channel; the shifted image
    is rebuilt with the closed form ``V - C clamp(min(k, 4 - k), 0, 1)``,
    ``k = (n + H) mod 6`` for n = 5, 3, 1 (R, G, B), ``V`` the max and ``C``
    the max minus the min: torchvision's ``adjust_hue`` with one factor per sample.
    """
    r, g, b = rgb.unbind(dim=1)
    value, _ = rgb.max(dim=1)
    chroma = value - rgb.min(dim=1).values
    safe = chroma.clamp(min=1e-12)
    hue = torch.where(value == r, ((g - b) / safe) % 6, torch.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = (torch.where(chroma > 0, hue, torch.zeros_like(hue)) + 6 * turns[:, 0]) % 6
    k = torch.stack([(n + hue) % 6 for n in (5.0, 3.0, 1.0)], dim=1)
    return value.unsqueeze(1) - chroma.unsqueeze(1) * torch.minimum(k, 4 - k).clamp(0, 1)


def colour_jitter(
    rgb: Tensor,
    generator: torch.Generator | None = None,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.1,
    p: float = 0.8,
) -> Tensor:
    """With probability ``p`` per sample, jitter brightness, contrast, saturation and hue (in that order).

    Factors are uniform in ``[1 - s, 1 + s]``: brightness scales the image,
    contrast blends it with its mean luma, saturation with its per-pixel luma;
    the hue turns by a fraction uniform in ``[-hue, hue]`` of a full turn
    (:func:`shift_hue`). A sample not jittered keeps factors 1 and a zero
    turn, which leave it unchanged. (torchvision applies the four in a random
    order; here the order is fixed.)
    """
    apply = _coin(rgb, p, generator)

    def factor(strength: float) -> Tensor:
        return torch.where(apply, _uniform(rgb, 1.0 - strength, 1.0 + strength, generator), 1.0)

    rgb = (rgb * factor(brightness)).clamp(0, 1)
    mean = _luma(rgb).mean(dim=(-2, -1), keepdim=True)
    rgb = ((rgb - mean) * factor(contrast) + mean).clamp(0, 1)
    gray = _luma(rgb)
    rgb = ((rgb - gray) * factor(saturation) + gray).clamp(0, 1)
    turns = torch.where(apply, _uniform(rgb, -hue, hue, generator), 0.0)
    return shift_hue(rgb, turns).clamp(0, 1)


def random_grayscale(rgb: Tensor, generator: torch.Generator | None = None, p: float = 0.2) -> Tensor:
    """Replace each sample by its luma on all three channels with probability ``p``."""
    return torch.where(_coin(rgb, p, generator), _luma(rgb).expand_as(rgb), rgb)


def gaussian_blur(
    rgb: Tensor,
    generator: torch.Generator | None = None,
    p: float = 0.5,
    sigma: tuple[float, float] = (0.1, 2.0),
) -> Tensor:
    """Blur each sample with probability ``p`` by a Gaussian of sigma uniform in ``sigma``.

    Separable kernels of radius ``ceil(3 * sigma_max)``, one per sample, applied
    in one grouped convolution with replicate padding.
    """
    samples, channels, height, width = rgb.shape
    apply = _coin(rgb, p, generator)
    sigmas = _uniform(rgb, sigma[0], sigma[1], generator).view(samples, 1)
    radius = math.ceil(3.0 * sigma[1])
    taps = torch.arange(-radius, radius + 1, device=rgb.device, dtype=rgb.dtype)
    kernel = torch.exp(-0.5 * (taps / sigmas) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(channels, dim=0)  # (N*C, k)
    grouped = F.pad(rgb.reshape(1, samples * channels, height, width), [radius] * 4, mode="replicate")
    grouped = F.conv2d(grouped, kernel[:, None, :, None], groups=samples * channels)
    grouped = F.conv2d(grouped, kernel[:, None, None, :], groups=samples * channels)
    return torch.where(apply, grouped.view_as(rgb), rgb)


def weak_augment(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Aug_q (student view, eq. 2): a random horizontal flip of each sample."""
    return horizontal_flip(x, generator)


def strong_augment(rgb: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Aug_k (local-teacher view, eq. 2) of RGB samples (N,3,h,w) in [0, 1].

    Random horizontal flip (p 0.5), colour jitter (p 0.8; brightness 0.4,
    contrast 0.4, saturation 0.2, hue 0.1), grayscale (p 0.2), Gaussian blur
    (p 0.5, sigma 0.1-2.0): the public code's local view, MoCo v2's recipe.
    """
    rgb = horizontal_flip(rgb, generator)
    rgb = colour_jitter(rgb, generator)
    rgb = random_grayscale(rgb, generator)
    return gaussian_blur(rgb, generator)
