"""Image decomposition x = crp(I) into local patches (paper Sec. 3.3; recipe step 4).

Patch centres are drawn among the uncertain pixels of the tag mask, at least
``border_margin`` pixels from the border, without replacement; the same
centres cut the image patches (for the weak and strong views) and the
tag-mask patches.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["crop_patches", "sample_patch_centres"]


def _central_region(height: int, width: int, margin: int, device: torch.device) -> Tensor:
    """(H,W) bool map of ``[margin, H - margin) x [margin, W - margin)``."""
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    inside_rows = (rows >= margin) & (rows < height - margin)
    inside_cols = (cols >= margin) & (cols < width - margin)
    return inside_rows[:, None] & inside_cols[None, :]


def sample_patch_centres(
    uncertain: Tensor, num: int, margin: int, generator: torch.Generator | None = None, valid: Tensor | None = None
) -> Tensor:
    """Draw ``num`` distinct patch centres per image (recipe step 4).

    The candidates of an image are the first of these sets that holds at
    least ``num`` pixels, all inside ``[margin, H - margin) x [margin, W -
    margin)``:

    1. its uncertain pixels (inside the image content when ``valid`` is given);
    2. with ``valid``: every pixel of its content;
    3. every pixel of the central region (the crop's padding included).

    Without ``valid`` this is the public code's sampler (centres.public);
    with it, centres stay out of the padding whenever the content allows
    (centres.content). ``num`` centres are drawn uniformly without
    replacement among the candidates (the top ``num`` of uniform scores), so
    no patch repeats and nothing waits on the host.

    Args:
        uncertain: (B,H,W) bool, True where the tag mask is uncertain (-1).
        num: centres per image (``DecompositionConfig.num_patches``).
        margin: border margin in pixels (``DecompositionConfig.border_margin``).
        generator: random source on ``uncertain.device``; None uses the
            global generator of that device.
        valid: optional (B,H,W) bool map of real image pixels (crop box).

    Returns:
        (B,num,2) int64 centres ``(y, x)``, in random order.
    """
    batch, height, width = uncertain.shape
    if max(height - 2 * margin, 0) * max(width - 2 * margin, 0) < num:  # checked on the host: no device sync
        raise ValueError(f"margin {margin} leaves fewer than {num} pixels of a {height}x{width} image "
                         "for patch centres")
    region = _central_region(height, width, margin, uncertain.device).expand_as(uncertain)
    levels = [uncertain.bool() & region]
    if valid is not None:
        levels = [levels[0] & valid.bool(), region & valid.bool()]
    candidates = region.flatten(1)
    for level in reversed(levels):
        level = level.flatten(1)
        candidates = torch.where((level.sum(dim=1) >= num)[:, None], level, candidates)
    scores = torch.rand(batch, height * width, generator=generator, device=uncertain.device)
    index = scores.masked_fill(~candidates, -1.0).topk(num, dim=1).indices
    return torch.stack([index // width, index % width], dim=-1)


def crop_patches(images: Tensor, centres: Tensor, size: int, fill: float = 0) -> Tensor:
    """Cut ``size x size`` patches centred at ``centres`` by index gathering (exact pixels).

    A patch covers rows ``[y - size // 2, y - size // 2 + size)`` (columns
    likewise), shifted to stay inside the image. When ``size`` exceeds the
    image, the patch starts at row/column 0 and the part beyond the image is
    ``fill``. No interpolation, so integer masks are cut as exactly as images.

    Args:
        images: (B,C,H,W) images or (B,H,W) label maps, any dtype.
        centres: (B,n,2) int ``(y, x)`` centres.
        size: patch side (``DecompositionConfig.patch_size``).
        fill: value beyond the image (e.g. 255 or -1 for label maps).

    Returns:
        (B*n,C,size,size) or (B*n,size,size): all patches of image 0 first,
        in the order of its centres, then image 1, ...
    """
    maps = images.unsqueeze(1) if images.dim() == 3 else images
    batch, _, height, width = maps.shape
    offsets = torch.arange(size, device=maps.device)
    corner = centres.to(maps.device).long() - size // 2
    top = corner[..., 0].clamp(min=0, max=max(height - size, 0))
    left = corner[..., 1].clamp(min=0, max=max(width - size, 0))
    rows = top[..., None] + offsets  # (B,n,size)
    cols = left[..., None] + offsets
    image_index = torch.arange(batch, device=maps.device)[:, None, None, None]
    channels_last = maps.permute(0, 2, 3, 1)
    row_index = rows.clamp(max=height - 1)[..., :, None]
    col_index = cols.clamp(max=width - 1)[..., None, :]
    patches = channels_last[image_index, row_index, col_index]  # (B,n,size,size,C)
    beyond = (rows >= height)[..., :, None] | (cols >= width)[..., None, :]
    patches = patches.masked_fill(beyond[..., None], fill)
    patches = patches.flatten(0, 1).permute(0, 3, 1, 2).contiguous()
    return patches.squeeze(1) if images.dim() == 3 else patches
