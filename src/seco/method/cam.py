"""Class activation maps: normalisation, multi-scale flipped inference, masks.

The CAMs of SeCo are ReLU class maps of a ViT (paper eq. 1 for the auxiliary
head, the same form for the final head). Training turns them into pseudo
labels and tag masks (step 1 of the one-step recipe in method-facts):
multi-scale, flipped inference without gradient, ReLU, a sum over scales and
flips, per-image per-class min-max normalisation, masking by image labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["CamFn", "cams_to_mask", "multiscale_cams", "normalize_cams", "with_background"]

CamFn = Callable[[Tensor], tuple[Tensor, Tensor]]
"""Maps images (B,3,H,W) to raw ReLU CAMs ``(cam_final, cam_aux)``, each (B,K,h,w)."""

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


def _resize_and_fold_flip(cams: Tensor, flip: bool, out_size: tuple[int, int]) -> Tensor:
    """Resize CAMs to ``out_size``; with ``flip`` the second half of the batch holds the
    flipped views, whose CAMs are flipped back and added to the first half."""
    cams = F.interpolate(cams, size=out_size, mode="bilinear", align_corners=False)
    if not flip:
        return cams
    originals, flipped = cams.chunk(2, dim=0)
    return originals + flipped.flip(-1)


@torch.no_grad()
def multiscale_cams(
    cam_fn: CamFn,
    images: Tensor,
    labels: Tensor,
    scales: Sequence[float],
    flip: bool = True,
    out_size: tuple[int, int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Multi-scale (and flipped) final and auxiliary CAMs, normalised (recipe step 1).

    For each scale ``s`` the images are resized to ``(int(s*H), int(s*W))``
    (bilinear, align_corners=False); with ``flip`` the batch and its horizontal
    flip go through ``cam_fn`` in one call and the flipped CAM is flipped back.
    Every CAM is upsampled bilinearly to ``out_size``, all are summed over
    scales and flips, and the sum is passed through :func:`normalize_cams`.
    (The public code takes the max over a flip pair; the sum is used here.)

    Args:
        cam_fn: model call returning ``(cam_final, cam_aux)`` at token resolution.
        images: (B,3,H,W) normalised images.
        labels: (B,K) multi-hot labels.
        scales: image scale factors, e.g. ``CAMConfig.scales``.
        flip: add horizontally flipped views (``CAMConfig.flip``).
        out_size: (H_out, W_out); defaults to the image size.

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
        cam, cam_aux = cam_fn(views)
        cam = _resize_and_fold_flip(cam, flip, size)
        cam_aux = _resize_and_fold_flip(cam_aux, flip, size)
        cam_sum = cam if cam_sum is None else cam_sum + cam
        aux_sum = cam_aux if aux_sum is None else aux_sum + cam_aux
    if cam_sum is None or aux_sum is None:
        raise ValueError("multiscale_cams needs at least one scale")
    return normalize_cams(cam_sum, labels), normalize_cams(aux_sum, labels)


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
    return with_background(cam * labels[:, :, None, None].to(cam), bkg_thr).argmax(dim=1)


def with_background(cam: Tensor, score: float) -> Tensor:
    """Prepend a constant background score: (B,K,H,W) -> (B,K+1,H,W), channel 0 background."""
    background = cam.new_full((cam.shape[0], 1, *cam.shape[2:]), score)
    return torch.cat([background, cam], dim=1)
