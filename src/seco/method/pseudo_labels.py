"""Label maps from normalised CAMs: segmentation pseudo labels and tag masks.

* :func:`segmentation_pseudo_labels` (recipe step 2): two background scores,
  PAR refinement, agreement test; supervises the segmentation head.
* :func:`aux_label_map` and :func:`token_label_map` (recipe step 10, PTC):
  three-way thresholding of the auxiliary CAM at pixel or token resolution,
  uncertain and outside-crop pixels ignored (255); :func:`labels_to_token_grid`
  brings a pixel label map to the token grid by majority vote.
* :func:`tag_mask` (recipe step 3; paper Sec. 3.3, M_aux from eq. 1): the same
  three-way thresholding with uncertain pixels marked -1, from which patch
  category tags are counted.

Label conventions: 0 background, c in 1..K foreground class c (CAM channel
c-1), 255 ignore, -1 uncertain.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.labels import IGNORE_INDEX, UNCERTAIN
from seco.method.par import PAR

__all__ = [
    "IGNORE_INDEX",
    "UNCERTAIN",
    "aux_label_map",
    "crop_mask",
    "labels_to_token_grid",
    "refine_scores",
    "segmentation_pseudo_labels",
    "tag_mask",
    "token_label_map",
]



def crop_mask(crop_box: Tensor, height: int, width: int, device: torch.device | None = None) -> Tensor:
    """(B,H,W) bool map, on ``device`` (default: the box's), of the pixels inside each
    crop box ``[y0, y1, x0, x1]`` (ends exclusive)."""
    box = crop_box.to(device=device, dtype=torch.long)
    rows = torch.arange(height, device=box.device)
    cols = torch.arange(width, device=box.device)
    inside_rows = (rows >= box[:, 0:1]) & (rows < box[:, 1:2])
    inside_cols = (cols >= box[:, 2:3]) & (cols < box[:, 3:4])
    return inside_rows[:, :, None] & inside_cols[:, None, :]


def refine_scores(scores: Tensor, rgb: Tensor, present: Tensor, par: PAR | None, downscale: int = 2) -> Tensor:
    """Class probabilities from scores, refined by PAR (recipe step 2, one map or several per image).

    The scores and the image are resized to ``1/downscale`` (bilinear), the
    softmax is taken over the present channels only (absent ones get
    probability 0), PAR refines the probabilities and they are upsampled back
    to the input size. With ``par=None``: the masked softmax at full size.
    Several maps of each image (``scores`` (G,B,C,H,W)) share its resized
    copy and PAR's affinity, and come out as from one call on the G*B maps
    with the image repeated: the resizes keep that call's layout (a CPU's
    bilinear resize rounds differently for other channel counts), so only the
    affinity's softmax over B instead of G*B images may round a last bit
    otherwise on several threads.

    Args:
        scores: (B,C,H,W), e.g. :func:`seco.method.cam.with_background` of normalised CAMs, or (G,B,C,H,W).
        rgb: (B,3,H,W) image in [0, 1].
        present: (B,C) bool, the channels that may win (background included).
        par: the refiner, or None.
        downscale: ``PARConfig.downscale``.

    Returns:
        probabilities of the shape of ``scores``, summing to 1 over C.
    """
    batch, channels, height, width = scores.shape[-4:]
    maps = scores.reshape(-1, channels, height, width)  # (G*B, C, H, W), map-major
    groups = maps.shape[0] // batch
    if par is not None:
        small = (height // downscale, width // downscale)
        maps = F.interpolate(maps, size=small, mode="bilinear", align_corners=False)
        rgb = F.interpolate(rgb.to(maps.dtype), size=small, mode="bilinear", align_corners=False)
    absent = ~present.to(maps.device).repeat(groups, 1)[:, :, None, None]
    probs = maps.masked_fill(absent, float("-inf")).softmax(dim=1)
    if par is not None:
        by_image = probs.unflatten(0, (groups, batch)).transpose(0, 1).flatten(1, 2)  # (B, G*C, h, w)
        refined = par(rgb, by_image).unflatten(1, (groups, channels)).transpose(0, 1).flatten(0, 1)
        probs = F.interpolate(refined, size=(height, width), mode="bilinear", align_corners=False)
    return probs.view(scores.shape)


@torch.no_grad()
def segmentation_pseudo_labels(
    cam: Tensor,
    rgb: Tensor,
    crop_box: Tensor,
    high_thr: float,
    low_thr: float,
    par: PAR | None,
    downscale: int = 2,
    labels: Tensor | None = None,
) -> Tensor:
    """Segmentation pseudo labels from normalised CAMs (recipe step 2).

    For each background score ``t`` in ``(high_thr, low_thr)``: prepend ``t`` to
    the CAMs (:func:`seco.method.cam.with_background`), take the softmax over the background
    and the present classes (absent classes are excluded, as in the public
    recipe), refine with PAR at ``1/downscale`` and take the argmax at full
    size (:func:`refine_scores`; both maps in one call, sharing the affinity). Then per pixel:

    * the high map's class where it is foreground;
    * 0 where both maps say background;
    * 255 where they disagree (high says background, low says foreground);
    * 255 outside the crop box.

    With ``par=None`` the argmax is taken without refinement.

    Args:
        cam: (B,K,H,W) normalised CAMs (:func:`seco.method.cam.normalize_cams`).
        rgb: (B,3,H,W) image in [0, 1].
        crop_box: (B,4) valid region ``[y0, y1, x0, x1]`` of each crop.
        high_thr, low_thr: ``CAMConfig.high_thr`` / ``low_thr``.
        par: the refiner, or None.
        downscale: ``PARConfig.downscale``.
        labels: (B,K) multi-hot; classes absent here never enter the softmax.
            None: a class takes part when its CAM is not all zero (what
            ``normalize_cams`` leaves of an absent class).

    Returns:
        (B,H,W) int64 labels in {0..K, 255}.
    """
    batch, _, height, width = cam.shape
    present = labels.to(cam.device) > 0 if labels is not None else cam.flatten(2).amax(dim=2) > 0
    present = torch.cat([present.new_ones(batch, 1), present], dim=1)
    scores = cam.new_empty(2, batch, cam.shape[1] + 1, height, width)  # with_background at each threshold
    scores[:, :, 1:] = cam
    scores[0, :, 0].fill_(high_thr)  # fill_: a Python number assigned by indexing becomes a host tensor first
    scores[1, :, 0].fill_(low_thr)
    probs = refine_scores(scores, rgb, present, par, downscale)
    high, low = probs.max(dim=2).indices  # max().indices: argmax over channels is ~10x slower on CPUs
    pseudo = torch.where(high > 0, high, torch.where(low > 0, IGNORE_INDEX, 0))
    return pseudo.masked_fill(~crop_mask(crop_box, height, width, cam.device), IGNORE_INDEX)


def _three_way(cam: Tensor, crop_box: Tensor, high_thr: float, low_thr: float, uncertain: int) -> Tensor:
    """Class id where max CAM > high, 0 where max CAM <= low, ``uncertain`` between; 255 outside the crop."""
    score, index = cam.max(dim=1)
    label = torch.where(score > high_thr, index + 1, torch.where(score <= low_thr, 0, uncertain))
    return label.masked_fill(~crop_mask(crop_box, *cam.shape[-2:], device=cam.device), IGNORE_INDEX)


def aux_label_map(cam_aux: Tensor, crop_box: Tensor, high_thr: float, low_thr: float) -> Tensor:
    """Auxiliary-CAM label map for PTC, without PAR (recipe step 10).

    Class id (argmax + 1) where the max CAM exceeds ``high_thr``; 0 where it is
    at most ``low_thr``; 255 in between and outside the crop box.

    Args:
        cam_aux: (B,K,H,W) normalised auxiliary CAMs.
        crop_box: (B,4) ``[y0, y1, x0, x1]``.

    Returns:
        (B,H,W) int64 labels in {0..K, 255}.
    """
    return _three_way(cam_aux, crop_box, high_thr, low_thr, IGNORE_INDEX)


def token_label_map(cam_aux: Tensor, grid: tuple[int, int], crop_box: Tensor, high_thr: float, low_thr: float,
                    crop_box_units: str = "tokens") -> Tensor:
    """PTC's label map on the token grid from the auxiliary CAM resized to it (``ptc.label_grid: resized_cam``).

    The CAM (B,K,H,W) is resized bilinearly to ``grid`` and thresholded like
    :func:`aux_label_map` (class > high, 0 <= low, 255 between). Tokens
    outside the crop get 255: with ``crop_box_units='tokens'`` a token is
    inside when most of its pixels are; with ``'pixels'`` the box's pixel
    coordinates index the token grid directly, as the public code does (so a
    box starting at pixel 28 or later leaves no token of a 28x28 grid labelled).

    Returns:
        (B,h,w) int64 labels in {0..K, 255}.
    """
    resized = F.interpolate(cam_aux, size=grid, mode="bilinear", align_corners=False)
    score, index = resized.max(dim=1)
    label = torch.where(score > high_thr, index + 1, torch.where(score <= low_thr, 0, IGNORE_INDEX))
    if crop_box_units == "pixels":
        inside = crop_mask(crop_box, *grid, device=cam_aux.device)
    else:
        pixels = crop_mask(crop_box, *cam_aux.shape[-2:], device=cam_aux.device)
        inside = F.interpolate(pixels[:, None].float(), size=grid, mode="area")[:, 0] > 0.5
    return label.masked_fill(~inside, IGNORE_INDEX)


def labels_to_token_grid(label_map: Tensor, size: tuple[int, int], ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Downsample a pixel label map (B, H, W) to the token grid ``size`` by majority vote.

    Each pixel falls in the token cell ``(y * h // H, x * w // W)``; the cell
    takes the most frequent value among its pixels, ``ignore_index`` counting
    as a value of its own (so a mostly uncertain cell stays ignored). Ties go
    to the smaller value. Labels must lie in ``0..ignore_index``; the vote
    keeps ``ignore_index + 1`` counters per cell, so memory is
    O(B H W + B h w (ignore_index + 1)) and the number of classes need not be
    known. Unlike nearest sampling, which reads one pixel per cell, the vote
    sees every pixel.
    """
    b, height, width = label_map.shape
    h, w = size
    bins = ignore_index + 1
    device = label_map.device
    rows = torch.arange(height, device=device) * h // height
    cols = torch.arange(width, device=device) * w // width
    cell = (rows.unsqueeze(1) * w + cols.unsqueeze(0)).expand(b, height, width)
    votes = (cell * bins + label_map.long()).reshape(b, -1)
    counts = torch.zeros(b, h * w * bins, dtype=torch.long, device=device)
    counts.scatter_add_(1, votes, torch.ones_like(votes))
    return counts.view(b, h, w, bins).argmax(dim=3)


def tag_mask(cam: Tensor, high_thr: float, low_thr: float, crop_box: Tensor) -> Tensor:
    """Tag mask M_aux for patch category tags (recipe step 3, paper Sec. 3.3).

    Class id (argmax + 1) where the max CAM exceeds ``high_thr``; 0 where it is
    at most ``low_thr``; -1 (uncertain) in between; 255 outside the crop box
    (the crop's padding, which the tag rules treat each in their own way).

    Args:
        cam: (B,K,H,W) normalised CAMs (auxiliary early, final later).
        crop_box: (B,4) ``[y0, y1, x0, x1]``.

    Returns:
        (B,H,W) int64 labels in {-1, 0..K, 255}.
    """
    return _three_way(cam, crop_box, high_thr, low_thr, UNCERTAIN)
