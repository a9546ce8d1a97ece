"""Batched inference of the three outputs the paper reports.

* ``cam``: multi-scale, flipped CAMs (:func:`inference_cam_config`) with a
  constant background score (``method.cam.bkg_thr``): the paper's "CAM" column;
* ``mask``: the same scores refined by PAR: the pseudo masks a second-stage
  segmenter would train on (the "Mask" column);
* ``seg``: the segmentation head at ``eval.seg_scales`` with flips, logits
  summed over flips and max-combined over scales (the "Val"/"Test" columns).

Each returns class scores (B, C, H, W) at the input size whose argmax is the
prediction and whose channel-normalised values feed the dense CRF.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from seco.config import CAMConfig, Config
from seco.method.cam import configured_cams, with_background
from seco.method.par import PAR
from seco.method.pseudo_labels import refine_scores
from seco.model import SeCoNet

__all__ = ["OUTPUTS", "cam_inference_record", "cam_scores", "inference_cam_config", "inference_cams", "mask_scores",
           "predict_scores", "seg_scores"]

OUTPUTS = ("cam", "mask", "seg")


def inference_cam_config(cfg: Config) -> CAMConfig:
    """``method.cam`` with the inference scales and flip of ``eval.cam_scales`` / ``eval.cam_flip`` where set."""
    cam = cfg.method.cam
    return replace(cam, scales=list(cfg.eval.cam_scales or cam.scales),
                   flip=cam.flip if cfg.eval.cam_flip is None else cfg.eval.cam_flip)


def cam_inference_record(cfg: Config) -> dict[str, Any]:
    """What :func:`inference_cams` uses, as a metrics document records it (``cam_inference``): scales, flip and
    the background score of the ``cam`` output."""
    cam = inference_cam_config(cfg)
    return {"scales": list(cam.scales), "flip": cam.flip, "bkg_thr": cam.bkg_thr}


@torch.no_grad()
def inference_cams(net: SeCoNet, images: Tensor, labels: Tensor, cfg: Config) -> Tensor:
    """(B, K, H, W) normalised final CAMs at the inference scales and flip, classes absent from ``labels`` zero."""
    return configured_cams(net.cams, images, labels, inference_cam_config(cfg))[0]


@torch.no_grad()
def cam_scores(net: SeCoNet, images: Tensor, labels: Tensor, cfg: Config) -> Tensor:
    """(B, K+1, H, W): background score ``bkg_thr`` then :func:`inference_cams`."""
    return with_background(inference_cams(net, images, labels, cfg), cfg.method.cam.bkg_thr)


@torch.no_grad()
def mask_scores(cam: Tensor, images: Tensor, labels: Tensor, par: PAR | None, cfg: Config) -> Tensor:
    """(B, K+1, H, W) pseudo-mask scores: CAM scores (background first) refined by PAR, absent classes excluded."""
    present = torch.cat([labels.new_ones(labels.shape[0], 1), labels], dim=1) > 0
    return refine_scores(cam, images, present, par, cfg.method.par.downscale)


@torch.no_grad()
def seg_scores(net: SeCoNet, images: Tensor, scales: list[float], flip: bool) -> Tensor:
    """(B, K+1, H, W) softmax of segmentation logits: flips summed, scales max-combined."""
    size = images.shape[-2:]
    combined = None
    for scale in scales:
        x = images if scale == 1.0 else F.interpolate(images, scale_factor=scale, mode="bilinear",
                                                      align_corners=False)
        if flip:
            x = torch.cat([x, x.flip(-1)])
        logits = F.interpolate(net.segment(x), size=size, mode="bilinear", align_corners=False)
        if flip:
            plain, mirrored = logits.chunk(2)
            logits = plain + mirrored.flip(-1)
        combined = logits if combined is None else torch.maximum(combined, logits)
    assert combined is not None
    return combined.softmax(1)


@torch.no_grad()
def predict_scores(net: SeCoNet, images: Tensor, labels: Tensor | None, par: PAR | None,
                   cfg: Config, outputs: tuple[str, ...]) -> dict[str, Tensor]:
    """The requested outputs for one batch of RGB images in [0, 1]; ``cam`` and ``mask`` need image labels.

    ``mask`` refines the CAM scores with PAR (classes absent from ``labels``
    excluded), so asking for both computes the CAMs once.
    """
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"unknown output {sorted(unknown)}; choose from {', '.join(OUTPUTS)}")
    result: dict[str, Tensor] = {}
    if {"cam", "mask"} & set(outputs):
        if labels is None:
            raise ValueError("CAM and mask outputs need image-level labels")
        cam = cam_scores(net, images, labels, cfg)
        if "cam" in outputs:
            result["cam"] = cam
        if "mask" in outputs:
            result["mask"] = mask_scores(cam, images, labels, par, cfg)
    if "seg" in outputs:
        result["seg"] = seg_scores(net, images, list(cfg.eval.seg_scales), cfg.eval.flip)
    return result
