"""Assignment of category tags (paper Sec. 3.3; recipe step 4).

Each local patch x_i gets a tag t_i from its tag-mask patch m_i = crp(M_aux):
background (0), a single category (its class id) or uncertain (-1, excluded
from contrast). Each global view gets its class when exactly one class is
confidently present, else -1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seco.method.pseudo_labels import UNCERTAIN

__all__ = ["global_tags", "patch_tags"]


def patch_tags(mask_patches: Tensor, phi: float) -> Tensor:
    """Category tags of local patches from their tag-mask patches (Sec. 3.3).

    Pixels are counted, never summed as ids. With ``n = h * w`` and the
    fractions ``fg = #{m > 0} / n`` and ``certain = #{m >= 0} / n``:

    1. ``fg > phi`` and exactly one foreground id present -> that id;
    2. ``fg > phi`` and two or more foreground ids -> -1;
    3. ``fg <= phi`` and ``certain <= phi`` -> -1: uncertain pixels are not
       foreground, but when they fill at least ``1 - phi`` of the patch there
       is too little evidence to call it background;
    4. otherwise (``fg <= phi``) -> 0, background.

    Args:
        mask_patches: (N,h,w) int tag-mask patches with ids in {-1, 0, 1..K}.
        phi: proportion threshold (``DecompositionConfig.phi``).

    Returns:
        (N,) int64 tags in {-1, 0, 1..K}.
    """
    flat = mask_patches.flatten(1).long()
    pixels = flat.shape[1]
    foreground = flat > 0
    fg_fraction = foreground.sum(dim=1) / pixels
    certain_fraction = (flat >= 0).sum(dim=1) / pixels
    lowest_id = flat.masked_fill(~foreground, torch.iinfo(flat.dtype).max).amin(dim=1)
    highest_id = flat.masked_fill(~foreground, 0).amax(dim=1)
    foreground_tag = torch.where(lowest_id == highest_id, highest_id, UNCERTAIN)
    background_tag = torch.where(certain_fraction <= phi, UNCERTAIN, 0)
    return torch.where(fg_fraction > phi, foreground_tag, background_tag)


def global_tags(labels: Tensor, cam: Tensor, high_thr: float) -> Tensor:
    """Category tags of global views (recipe step 4).

    A class is confidently present when it is in the image labels and its CAM
    exceeds ``high_thr`` somewhere. The tag is that class id when exactly one
    class is confident, else -1 (also when none is: never a default class id).

    Args:
        labels: (B,K) multi-hot labels.
        cam: (B,K,H,W) normalised CAMs of the views.
        high_thr: ``CAMConfig.high_thr``.

    Returns:
        (B,) int64 tags in {-1, 1..K}.
    """
    confident = (labels.to(cam.device) > 0) & (cam.flatten(2).amax(dim=2) > high_thr)
    single = confident.sum(dim=1) == 1
    return torch.where(single, confident.long().argmax(dim=1) + 1, UNCERTAIN)
