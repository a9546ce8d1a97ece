"""Class activation maps: normalisation, multi-scale flipped inference, masks.

The CAMs of SeCo are ReLU class maps of a ViT (paper eq. 1 for the auxiliary
head, the same form for the final head). Training turns them into pseudo
labels and tag masks (step 1 of the one-step recipe in method-facts):
multi-scale, flipped inference without gradient, ReLU, a sum over scales,
per-image per-class min-max normalisation, masking by image labels. How a view
and its mirror combine (max or sum) and whether the ReLU comes before or after
upsampling are switches (``CAMConfig.flip_merge``, ``relu_after_resize``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.config import CAMConfig

__all__ = ["CamFn", "cams_to_mask", "configured_cams", "multiscale_cams", "normalize_cams", "with_background"]

CamFn = Callable[[Tensor], tuple[Tensor, Tensor]]
"""Maps images (B,3,H,W) to raw class maps ``(cam_final, cam_aux)`` = ``W^T Z`` before the ReLU, each (B,K,h,w)."""

_EPS = 1e-5


def normalize_cams(cams: Tensor, labels: Tensor) -> Tensor:
    """Per-image, per-class min-max normalisation of CAMs, masked by labels.

    Recipe step 1: ``cam <- relu(cam); cam <- cam - min; cam <- cam / (max + 1e-5)``
    with min and max taken over the pixels of each (image, class) map, so every
    map lies in [0, 1); classes absent from ``labels`` become all zero.

    Args:
        cams: (B,K,h,w) class maps.
        labels: (B,K) multi-hot image labels.
    """
    cams = F.relu(cams)
    cams = cams - cams.amin(dim=(-2, -1), keepdim=True)
    cams = cams / (cams.amax(dim=(-2, -1), keepdim=True) + _EPS)
    return cams * labels[:, :, None, None].to(cams)


def _resize_and_fold_flip(maps: Tensor, flip: bool, out_size: tuple[int, int], flip_merge: str,
                          relu_after_resize: bool) -> Tensor:
    """Eq. 1's ReLU and the upsampling of one scale's raw class maps, mirrors folded in.

    With ``flip`` the second half of the batch holds the mirrored views; their
    maps are flipped back and combined with the first half by ``flip_merge``
    (``max`` or ``sum``). The ReLU acts on the raw token maps, or, with
    ``relu_after_resize``, on the upsampled and combined ones.
    """
    if not relu_after_resize:
        maps = F.relu(maps)
    maps = F.interpolate(maps, size=out_size, mode="bilinear", align_corners=False)
    if flip:
        originals, mirrored = maps.chunk(2, dim=0)
        mirrored = mirrored.flip(-1)
        maps = torch.maximum(originals, mirrored) if flip_merge == "max" else originals + mirrored
    return F.relu(maps) if relu_after_resize else maps


@torch.no_grad()
def multiscale_cams(
    cam_fn: CamFn,
    images: Tensor,
    labels: Tensor,
    scales: Sequence[float],
    flip: bool = True,
    out_size: tuple[int, int] | None = None,
    flip_merge: str = "max",
    relu_after_resize: bool = True,
) -> tuple[Tensor, Tensor]:
    """Multi-scale (and flipped) final and auxiliary CAMs, normalised (recipe step 1).

    For each scale ``s`` the images are resized to ``(int(s*H), int(s*W))``
    (bilinear, align_corners=False); with ``flip`` the batch and its horizontal
    flip go through ``cam_fn`` in one call. Each scale's maps are upsampled
    bilinearly to ``out_size`` with the ReLU and the mirror combination of
    :func:`_resize_and_fold_flip`, summed over scales and passed through
    :func:`normalize_cams`. The public code's order is ``flip_merge='max'``
    with ``relu_after_resize=True``.

    Args:
        cam_fn: model call returning raw ``(cam_final, cam_aux)`` at token resolution.
        images: (B,3,H,W) RGB images in [0, 1].
        labels: (B,K) multi-hot labels.
        scales: image scale factors, e.g. ``CAMConfig.scales``.
        flip: add horizontally flipped views (``CAMConfig.flip``).
        out_size: (H_out, W_out); defaults to the image size.
        flip_merge: ``max`` or ``sum`` (``CAMConfig.flip_merge``).
        relu_after_resize: ``CAMConfig.relu_after_resize``.

    Returns:
        ``(cam, cam_aux)``, each (B,K,H_out,W_out) in [0, 1].
    """
    height, width = images.shape[-2:]
    size = out_size if out_size is not None else (height, width)
    cam_sum: Tensor | None = None
    aux_sum: Tensor | None = None
    for scale in scales:
        scaled_size = (int(scale * height), int(scale * width))
        views = images
        if scaled_size != (height, width):
            views = F.interpolate(images, size=scaled_size, mode="bilinear", align_corners=False)
        if flip:
            views = torch.cat([views, views.flip(-1)], dim=0)
        cam, cam_aux = (_resize_and_fold_flip(m, flip, size, flip_merge, relu_after_resize) for m in cam_fn(views))
        cam_sum = cam if cam_sum is None else cam_sum + cam
        aux_sum = cam_aux if aux_sum is None else aux_sum + cam_aux
    if cam_sum is None or aux_sum is None:
        raise ValueError("multiscale_cams needs at least one scale")
    return normalize_cams(cam_sum, labels), normalize_cams(aux_sum, labels)


def configured_cams(cam_fn: CamFn, images: Tensor, labels: Tensor, cfg: CAMConfig) -> tuple[Tensor, Tensor]:
    """:func:`multiscale_cams` at the images' size with the scales, flips and switches of ``cfg``."""
    return multiscale_cams(cam_fn, images, labels, list(cfg.scales), cfg.flip, tuple(images.shape[-2:]),
                           cfg.flip_merge, cfg.relu_after_resize)


def cams_to_mask(cam: Tensor, labels: Tensor, bkg_thr: float) -> Tensor:
    """Label map from CAMs with a constant background score (CAM evaluation).

    ``mask = argmax([bkg_thr, cam_1 * y_1, ..., cam_K * y_K])`` per pixel, so a
    pixel is background (0) unless some present class scores above ``bkg_thr``.

    Args:
        cam: (B,K,H,W) normalised CAMs.
        labels: (B,K) multi-hot labels; absent classes never win.
        bkg_thr: background score (``CAMConfig.bkg_thr``).

    Returns:
        (B,H,W) int64 ids in 0..K.
    """
    return with_background(cam * labels[:, :, None, None].to(cam), bkg_thr).max(dim=1).indices


def with_background(cam: Tensor, score: float) -> Tensor:
    """Prepend a constant background score: (B,K,H,W) -> (B,K+1,H,W), channel 0 background."""
    background = cam.new_full((cam.shape[0], 1, *cam.shape[2:]), score)
    return torch.cat([background, cam], dim=1)
