"""One SeCo training step, read top to bottom like the paper's Fig. 2.

1. the student (shared with the global teacher) classifies the image;
2. multi-scale CAMs give pseudo labels (PAR refined) and the tag mask;
3. the image is decomposed into tagged patches plus global views;
4. the student embeds the weak views (q), the local teacher the strong ones (k);
5. the losses: cls and aux cls, PTC, LiG (eq. 4), LiL with rectification
   (eqs. 6-8), seg and reg; eq. 9 plus gamma * seg plus the reg term;
6. the state moves on: prototypes (eq. 3), reservoir (eq. 5); the EMA of the
   local teacher happens after the optimizer step (:meth:`SeCoState.after_step`).

Losses that are switched off, or not yet started by the schedule, cost
nothing: the CAMs, the decomposition and the teacher run only when a loss
that needs them is active, so the CAM baseline is this same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.config import MethodConfig
from seco.method.augment import strong_augment, weak_augment
from seco.method.cam import multiscale_cams
from seco.method.ema import ema_update, make_teacher
from seco.method.losses import (
    balanced_seg_loss,
    bilateral_energy_loss,
    classification_loss,
    labels_to_token_grid,
    lig_loss,
    lil_loss,
    ptc_loss,
    rectify_tags,
)
from seco.method.par import build_par
from seco.method.patches import crop_patches, sample_patch_centres
from seco.method.prototypes import Prototypes
from seco.method.pseudo_labels import (
    IGNORE_INDEX,
    UNCERTAIN,
    aux_label_map,
    crop_mask,
    segmentation_pseudo_labels,
    tag_mask,
)
from seco.method.reservoir import Reservoir
from seco.method.schedule import active_weights
from seco.method.tags import global_tags, patch_tags
from seco.model.network import SeCoNet, teacher_embed

__all__ = ["SeCoState", "StepOutput", "seco_step"]


class SeCoState(nn.Module):
    """Everything that lives across steps besides the student: local teacher,
    reservoir and prototypes, with the method settings that drive them. One
    module, so one ``state_dict`` in checkpoints.
    """

    def __init__(self, net: SeCoNet, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = net.projector.mlp[-1].out_features
        self.teacher = make_teacher(net.teacher_modules()).eval()
        self.reservoir = Reservoir(cfg.reservoir.capacity, dim)
        self.prototypes = Prototypes(net.num_classes - 1, dim)
        self.par = build_par(cfg.par)

    def train(self, mode: bool = True) -> SeCoState:
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def after_step(self, net: SeCoNet) -> None:
        """EMA update of the local teacher from the student (Sec. 3.5)."""
        ema_update(self.teacher, net.teacher_modules(), self.cfg.teacher.momentum)


@dataclass
class StepOutput:
    """The weighted total loss, its unweighted terms and statistics to log."""

    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    stats: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class _Views:
    """Decomposed views of a batch: weak (student) and strong (teacher) inputs with tags."""

    weak: tuple[Tensor, ...]
    strong: tuple[Tensor, ...]
    tags: Tensor
    patch_tags_gt: Tensor | None = None


def _decompose(images: Tensor, tags_source: Tensor, labels: Tensor, crop_box: Tensor, cfg: MethodConfig,
               generator: torch.Generator, gt_mask: Tensor | None = None) -> _Views:
    """Image decomposition (Sec. 3.3): tagged local patches plus tagged global views.

    When the training set has ground-truth masks (``gt_mask``, 255 = none),
    the patches are also tagged from them, only to log how often the CAM
    tags agree (the tags themselves never see ground truth).
    """
    dec, cam_cfg = cfg.decomposition, cfg.cam
    mask = tag_mask(tags_source, cam_cfg.high_thr, cam_cfg.low_thr, crop_box)
    valid = crop_mask(crop_box, *images.shape[-2:])
    centres = sample_patch_centres(mask == UNCERTAIN, dec.num_patches, dec.border_margin, generator, valid)
    patches = crop_patches(images, centres, dec.patch_size)
    patch_tag = patch_tags(crop_patches(mask[:, None], centres, dec.patch_size)[:, 0], dec.phi)
    whole = F.interpolate(images, size=(dec.global_size, dec.global_size), mode="bilinear", align_corners=False)
    glob = whole.repeat(dec.num_global, 1, 1, 1)
    glob_tag = global_tags(labels, tags_source, cam_cfg.high_thr).repeat(dec.num_global)
    weak = tuple(weak_augment(v, generator) for v in (glob, patches))
    strong = tuple(strong_augment(v, generator) for v in (glob, patches))
    reference = None
    if gt_mask is not None:
        known = torch.where(gt_mask == IGNORE_INDEX, torch.full_like(gt_mask, UNCERTAIN), gt_mask)
        reference = patch_tags(crop_patches(known[:, None], centres, dec.patch_size)[:, 0], dec.phi)
    return _Views(weak=weak, strong=strong, tags=torch.cat([glob_tag, patch_tag]), patch_tags_gt=reference)


def seco_step(net: nn.Module, state: SeCoState, batch: dict[str, Tensor], iteration: int,
              generator: torch.Generator) -> StepOutput:
    """Compute the SeCo loss for one batch (the reservoir and prototypes move too).

    ``net`` may be a DistributedDataParallel wrapper of :class:`SeCoNet`; all
    gradient-carrying work goes through its single forward call.
    """
    model: SeCoNet = getattr(net, "module", net)
    cfg = state.cfg
    images, labels, crop_box = batch["image"], batch["labels"], batch["crop_box"]
    weights = active_weights(cfg.losses, iteration)
    wants_contrast = "lig" in weights or "lil" in weights
    wants_cams = wants_contrast or any(k in weights for k in ("ptc", "seg", "reg"))
    cam_cfg = cfg.cam
    stats: dict[str, Tensor] = {}

    cam = cam_aux = None
    views = None
    if wants_cams:
        was_training = model.training
        model.eval()
        cam, cam_aux = multiscale_cams(model.cams, images, labels, list(cam_cfg.scales), cam_cfg.flip,
                                       images.shape[-2:])
        model.train(was_training)
    if wants_contrast:
        source = cam_aux if iteration < cfg.decomposition.tag_switch_iter else cam
        views = _decompose(images, source, labels, crop_box, cfg, generator, batch.get("mask"))

    wants_seg = "seg" in weights or "reg" in weights
    out = net(images, views.weak if views is not None else (), with_seg=wants_seg)
    terms: dict[str, Tensor] = {}
    if "cls" in weights:
        terms["cls"] = classification_loss(out.logits, labels)
    if "aux" in weights:
        terms["aux"] = classification_loss(out.aux_logits, labels)
    if "ptc" in weights:
        label_map = aux_label_map(cam_aux, crop_box, cam_cfg.high_thr, cam_cfg.low_thr)
        terms["ptc"] = ptc_loss(out.tokens, labels_to_token_grid(label_map, out.tokens.shape[-2:]))
    if wants_seg:
        pseudo = segmentation_pseudo_labels(cam, images, crop_box, cam_cfg.high_thr, cam_cfg.low_thr, state.par,
                                            cfg.par.downscale, labels=labels)
        seg = F.interpolate(out.seg, size=images.shape[-2:], mode="bilinear", align_corners=False)
        if "seg" in weights:
            terms["seg"] = balanced_seg_loss(seg, pseudo)
        if "reg" in weights:
            reg = cfg.losses.reg
            valid = crop_mask(crop_box, *images.shape[-2:])
            terms["reg"] = bilateral_energy_loss(seg.softmax(1), images, valid, reg.sigma_rgb, reg.sigma_xy,
                                                 reg.scale, reg.window)
        stats["pseudo_ignore"] = (pseudo == IGNORE_INDEX).float().mean()
    if views is not None:
        q = torch.cat(out.view_embeddings)
        with torch.no_grad():
            k = torch.cat([teacher_embed(state.teacher, v) for v in views.strong])
        contrast_terms, contrast_stats = _contrast(q, k, views.tags, labels, state, weights)
        terms.update(contrast_terms)
        stats.update(contrast_stats)
        if views.patch_tags_gt is not None:
            predicted = views.tags[-views.patch_tags_gt.shape[0]:]
            both = (predicted >= 0) & (views.patch_tags_gt >= 0)  # NaN when nothing to compare
            stats["tag_agreement_gt"] = ((predicted == views.patch_tags_gt) & both).sum() / both.sum()
    _update_prototypes(state, out.embedding, labels, iteration, cfg)

    loss = torch.stack([weights[name] * value for name, value in terms.items()]).sum()
    return StepOutput(loss=loss, terms=terms, stats=stats)


def _contrast(q: Tensor, k: Tensor, tags: Tensor, labels: Tensor, state: SeCoState,
              weights: dict[str, float]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """LiG (eq. 4) and LiL with rectification (eqs. 6-8); then push k into the reservoir (eq. 5).

    Returns the loss terms and the statistics to log.
    """
    cfg = state.cfg
    terms: dict[str, Tensor] = {}
    stats: dict[str, Tensor] = {}
    losses = cfg.losses
    if "lig" in weights:
        ready = state.prototypes.initialised
        known = torch.where(tags > 0, ready[(tags - 1).clamp(min=0)], torch.zeros_like(ready[:1]))
        lig_tags = torch.where(known, tags, torch.full_like(tags, UNCERTAIN))
        # a copy: the prototypes move (eq. 3) before this loss is back-propagated
        prototypes = state.prototypes.P.clone()
        terms["lig"] = lig_loss(q, lig_tags, prototypes, (labels.sum(0) > 0) & ready, losses.tau_g)
    pool_keys, pool_tags = state.reservoir.snapshot()
    keys, key_tags = torch.cat([k, pool_keys]), torch.cat([tags, pool_tags])
    lil_tags = tags
    if cfg.rectification.enabled:
        lil_tags, fired = rectify_tags(q.detach(), tags, keys, key_tags, cfg.rectification.sigma,
                                       cfg.rectification.mean_over)
        eligible = (tags != UNCERTAIN).sum().clamp(min=1)
        stats["rectified"] = fired.sum() / eligible
    if "lil" in weights:
        terms["lil"] = lil_loss(q, lil_tags, keys, key_tags, losses.tau_l)
    state.reservoir.push(k, lil_tags)
    stats["tag_background"] = (tags == 0).float().mean()
    stats["tag_class"] = (tags > 0).float().mean()
    stats["tag_uncertain"] = (tags == UNCERTAIN).float().mean()
    return terms, stats


def _update_prototypes(state: SeCoState, embedding: Tensor, labels: Tensor, iteration: int,
                       cfg: MethodConfig) -> None:
    """Global-teacher knowledge, eq. 3, from the projected class tokens Z."""
    if iteration >= cfg.prototypes.start_iter:
        state.prototypes.update(embedding.detach(), labels, cfg.prototypes.momentum, cfg.prototypes.adaptive)
