"""Image decomposition (paper Sec. 3.3): tagged local patches and global views of a batch.

Given the tag mask's CAM, :func:`decompose` draws patch centres, cuts the weak
(student, q) and strong (local teacher, k) patches at the same coordinates,
tags every patch and global view, and, for ``global_views: resized_copies``,
makes the weak and strong global views. Which rule does what is set by
:class:`~seco.config.DecompositionConfig` (``docs/method.md`` has the table).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.config import MethodConfig
from seco.labels import UNCERTAIN
from seco.method.augment import horizontal_flip, strong_augment, weak_augment
from seco.method.patches import crop_patches, sample_patch_centres
from seco.method.pseudo_labels import crop_mask, tag_mask
from seco.method.tags import confident_class_tags, global_tags, patch_tags, patch_tags_public, present_classes
from seco.profiling import phase

__all__ = ["Views", "decompose"]


@dataclass
class Views:
    """The decomposed views of a batch of B images with n patches each.

    ``q_patches`` / ``k_patches`` (B*n, 3, s, s): student and local-teacher
    inputs, image-major. ``global_q`` / ``global_k``: the weak and strong
    global views (``resized_copies`` only; ``crop_and_rrc`` uses the crop and
    the batch's ``global_view``). ``tags``: the global views' tags (view-major,
    B per view) followed by the patches' tags. ``patch_tags_gt``: the patches'
    tags from the ground-truth mask, only to log how often the CAM tags agree.
    """

    q_patches: Tensor
    k_patches: Tensor
    tags: Tensor
    global_q: Tensor | None = None
    global_k: Tensor | None = None
    patch_tags_gt: Tensor | None = None


def decompose(images: Tensor, cam: Tensor, labels: Tensor, crop_box: Tensor, cfg: MethodConfig,
              generator: torch.Generator, gt_mask: Tensor | None = None) -> Views:
    """Decompose a batch (Sec. 3.3; recipe steps 3-4).

    Args:
        images: (B,3,H,W) RGB in [0, 1].
        cam: (B,K,H,W) normalised CAMs the tag mask comes from (aux early, final later).
        labels: (B,K) multi-hot image labels.
        crop_box: (B,4) content box of each crop.
        cfg: the method settings.
        generator: the loop's random source (centres and augmentations).
        gt_mask: (B,H,W) ground truth (255 unknown), for the agreement statistic only.
    """
    dec = cfg.decomposition
    with phase("tags"):
        mask = tag_mask(cam, cfg.cam.high_thr, cfg.cam.low_thr, crop_box)
        present = present_classes(mask, labels.shape[1])
        content = crop_mask(crop_box, *images.shape[-2:]) if dec.centres == "content" else None
        centres = sample_patch_centres(mask == UNCERTAIN, dec.num_patches, dec.border_margin, generator, content)
        if dec.patch_tags == "public":
            tags = patch_tags_public(mask, present, centres, dec.patch_size, dec.phi)
        else:
            tags = patch_tags(crop_patches(mask, centres, dec.patch_size), dec.phi)
        if dec.class_tag_thr is not None:
            confident = tag_mask(cam, dec.class_tag_thr, cfg.cam.low_thr, crop_box)
            tags = confident_class_tags(tags, crop_patches(confident, centres, dec.patch_size), dec.phi)
        tags = torch.cat([global_tags(present, dec.global_tags).repeat(dec.num_global), tags])
        gt_tags = None if gt_mask is None else patch_tags(crop_patches(gt_mask, centres, dec.patch_size), dec.phi)
    with phase("patches"):
        q_patches = crop_patches(images, centres, dec.patch_size)
        if dec.k_view == "whole_crop":
            k_patches = crop_patches(strong_augment(images, generator), centres, dec.patch_size)
        else:
            k_patches = strong_augment(q_patches, generator)
        if dec.q_flip:
            q_patches = horizontal_flip(q_patches, generator)
        views = Views(q_patches=q_patches, k_patches=k_patches, tags=tags, patch_tags_gt=gt_tags)
        if dec.global_views == "resized_copies":
            size = (dec.global_size, dec.global_size)
            whole = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
            whole = whole.repeat(dec.num_global, 1, 1, 1)
            views.global_q, views.global_k = weak_augment(whole, generator), strong_augment(whole, generator)
    return views
