"""Assignment of category tags (paper Sec. 3.3; recipe step 4).

Each local patch x_i gets a tag t_i from its tag-mask patch m_i = crp(M_aux):
background (0), a single category (its class id) or uncertain (-1, excluded
from contrast). Each global view gets a class when exactly one class is
confidently present in the crop. The tag mask holds class ids, 0, -1
(uncertain) and 255 (outside the crop).

Two rules (``DecompositionConfig.patch_tags`` / ``global_tags``):

* ``paper`` (:func:`patch_tags`, :func:`global_tags`): pixels are counted; the
  foreground fraction is compared with phi; a global view without a confident
  class is uncertain.
* ``public`` (:func:`patch_tags_public`, :func:`global_tags`): the public
  code's arithmetic, kept exactly: pixels outside the crop count as
  background, uncertain pixels count as target, the background test compares
  the *sum of class ids* (uncertain = 1) with ``phi * h * w``, in an image with
  one confident class its uncertain pixels take that class, and a global view
  without a confident class gets class 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seco.labels import IGNORE_INDEX, UNCERTAIN
from seco.method.patches import crop_patches

__all__ = ["confident_class_tags", "global_tags", "patch_tags", "patch_tags_public", "present_classes", "tag_agreement"]


def _single_id(patches: Tensor) -> Tensor:
    """(N,) the one foreground id of each flattened patch (N, P) with ids 0..K, or -1 if none or several."""
    foreground = patches > 0
    lowest = patches.masked_fill(~foreground, torch.iinfo(patches.dtype).max).amin(dim=1)
    highest = patches.masked_fill(~foreground, 0).amax(dim=1)
    return torch.where(foreground.any(dim=1) & (lowest == highest), highest, UNCERTAIN)


def patch_tags(mask_patches: Tensor, phi: float) -> Tensor:
    """Category tags of local patches by pixel counts (Sec. 3.3, ``patch_tags: paper``).

    With ``n = h * w`` and the fractions ``fg = #{0 < m <= K} / n`` and
    ``certain = #{0 <= m <= K} / n`` (uncertain -1 and outside-crop 255 pixels
    are neither):

    1. ``fg > phi`` and exactly one foreground id present -> that id;
    2. ``fg > phi`` and two or more foreground ids -> -1;
    3. ``fg <= phi`` and ``certain <= phi`` -> -1: too little evidence to call
       the patch background;
    4. otherwise (``fg <= phi``) -> 0, background.

    Args:
        mask_patches: (N,h,w) int tag-mask patches with ids in {-1, 0, 1..K, 255}.
        phi: proportion threshold (``DecompositionConfig.phi``).

    Returns:
        (N,) int64 tags in {-1, 0, 1..K}.
    """
    flat = mask_patches.flatten(1).long()
    flat = flat.masked_fill(flat == IGNORE_INDEX, UNCERTAIN)
    pixels = flat.shape[1]
    fg_fraction = (flat > 0).sum(dim=1) / pixels
    certain_fraction = (flat >= 0).sum(dim=1) / pixels
    background_tag = torch.where(certain_fraction <= phi, UNCERTAIN, 0)
    return torch.where(fg_fraction > phi, _single_id(flat.clamp(min=0)), background_tag)


def confident_class_tags(tags: Tensor, confident_patches: Tensor, phi: float) -> Tensor:
    """A stricter rule for class positives (``DecompositionConfig.class_tag_thr``; not in the paper).

    A patch tagged class ``t > 0`` keeps it only when more than phi of its
    pixels are ``t`` in the confident mask (the tag mask cut at the stricter
    threshold ``class_tag_thr`` instead of ``cam.high_thr``); otherwise its
    tag becomes -1 (uncertain, out of the contrast). Background and
    uncertain tags are unchanged. It applies after either patch rule.

    Args:
        tags: (N,) patch tags in {-1, 0, 1..K}.
        confident_patches: (N,h,w) the confident mask's patches at the same centres.
        phi: ``DecompositionConfig.phi``.

    Returns:
        (N,) int64 tags.
    """
    flat = confident_patches.flatten(1).long()
    share = (flat == tags[:, None]).sum(dim=1) / flat.shape[1]
    return torch.where((tags > 0) & (share <= phi), UNCERTAIN, tags)


def present_classes(mask: Tensor, num_classes: int) -> Tensor:
    """(B, K) bool: the classes 1..K that appear in each tag mask (B, H, W)."""
    ids = mask.flatten(1).long()
    ids = torch.where((ids > 0) & (ids <= num_classes), ids, 0)
    present = torch.zeros(ids.shape[0], num_classes + 1, dtype=torch.bool, device=mask.device)
    return present.scatter_(1, ids, True)[:, 1:]


def global_tags(present: Tensor, rule: str) -> Tensor:
    """Tags of the global views (recipe step 4) from the confident classes ``present`` (B, K).

    Exactly one confident class -> that class; two or more -> -1. With none,
    the ``paper`` rule gives -1 and the ``public`` rule class 1 (the public
    code's default flag, a defect kept under ``fidelity: public``).
    """
    count = present.sum(dim=1)
    single = present.long().argmax(dim=1) + 1
    none = torch.full_like(single, 1 if rule == "public" else UNCERTAIN)
    return torch.where(count == 1, single, torch.where(count == 0, none, UNCERTAIN))


def patch_tags_public(mask: Tensor, present: Tensor, centres: Tensor, size: int, phi: float) -> Tensor:
    """Patch tags by the public code's rule (``patch_tags: public``), exactly.

    From the tag mask (B,H,W; ids, 0, -1, 255): outside-crop pixels become
    background; ``weighted`` holds the class ids with uncertain pixels as 1;
    ``filled`` holds the class ids with uncertain pixels as 0, or as the
    image's class when exactly one class is confident in the image. A patch
    is background when ``sum(weighted) / (size * size) <= phi`` (ids summed,
    not pixels counted); else its tag is the single nonzero id of ``filled``,
    or -1 when there are none or several.

    Args:
        mask: (B,H,W) tag masks.
        present: (B,K) confident classes of each image (:func:`present_classes`).
        centres: (B,n,2) patch centres.
        size: patch side.
        phi: ``DecompositionConfig.phi``.

    Returns:
        (B*n,) int64 tags, image-major like :func:`seco.method.patches.crop_patches`.
    """
    mask = mask.long().masked_fill(mask == IGNORE_INDEX, 0)
    uncertain = mask == UNCERTAIN
    classes = mask.clamp(min=0)
    single = (present.sum(dim=1) == 1)[:, None, None]
    only_class = (present.long().argmax(dim=1) + 1)[:, None, None]
    filled = torch.where(single & uncertain, only_class, classes)
    weighted = crop_patches(classes + uncertain.long(), centres, size).flatten(1)
    background = weighted.sum(dim=1) / (size * size) <= phi
    return torch.where(background, 0, _single_id(crop_patches(filled, centres, size).flatten(1)))


def tag_agreement(tags: Tensor, truth: Tensor) -> dict[str, Tensor]:
    """How patch tags compare with the tags the same rule gives the ground-truth masks.

    Shares of the patches both call confident (tag >= 0; NaN when there is
    none): ``tag_agreement_gt`` (the same tag), ``tag_false_class`` (a class
    where the truth says background), ``tag_false_background`` (background
    where the truth says a class) and ``tag_wrong_class`` (another class);
    the four add up to 1. Beside them, ``tag_class_precision``: of the
    patches tagged a class (LiG's and LiL's class positives), the share whose
    truth is that class (NaN when none is tagged a class).
    """
    both = (tags >= 0) & (truth >= 0)
    count = both.sum()
    tagged_class = both & (tags > 0)
    return {
        "tag_agreement_gt": (both & (tags == truth)).sum() / count,
        "tag_false_class": (tagged_class & (truth == 0)).sum() / count,
        "tag_false_background": (both & (tags == 0) & (truth > 0)).sum() / count,
        "tag_wrong_class": (tagged_class & (truth > 0) & (tags != truth)).sum() / count,
        "tag_class_precision": (tagged_class & (tags == truth)).sum() / tagged_class.sum(),
    }
