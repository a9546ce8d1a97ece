"""One SeCo training step, read top to bottom like the paper's Fig. 2.

1. multi-scale CAMs give pseudo labels (PAR refined) and the tag mask;
2. the image is decomposed into tagged patches plus global views (Sec. 3.3);
3. the student (shared with the global teacher) classifies the image and
   embeds the weak views (q), the local teacher the strong ones (k), eq. 2;
4. the losses: cls and aux cls, PTC, seg and reg, then rectification (eqs.
   6-7), LiL (eq. 8) and LiG (eq. 4) around the prototype update (eq. 3);
   eq. 9 plus gamma * seg plus the reg term;
5. the reservoir moves on (eq. 5); the EMA of the local teacher happens after
   the optimizer step (:meth:`SeCoState.after_step`).

Every behaviour on which the paper's text and the authors' public code differ
is a switch of :class:`~seco.config.MethodConfig`, set together by
``method.fidelity`` (docs/method.md). Losses that are switched off cost
nothing; the decomposition, the keys and the reservoir run from the first
iteration when ``reservoir.fill_before_start`` (so the reservoir is full when
LiG/LiL start), else only once one of them is on. The CAM baseline is this
same step with the contrast, PTC, seg and reg losses off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.config import ConfigError, MethodConfig
from seco.labels import IGNORE_INDEX, UNCERTAIN
from seco.method.cam import configured_cams
from seco.method.decompose import Views, decompose
from seco.method.ema import ema_update, make_teacher
from seco.method.losses import (
    balanced_seg_loss,
    bilateral_energy_loss,
    classification_loss,
    dense_energy_loss,
    labels_to_token_grid,
    lig_classes,
    lig_loss,
    lil_floor,
    lil_loss,
    lil_loss_public,
    ptc_loss,
    rectify_tags,
)
from seco.method.par import build_par
from seco.method.prototypes import Prototypes
from seco.method.pseudo_labels import aux_label_map, crop_mask, segmentation_pseudo_labels, token_label_map
from seco.method.reservoir import Reservoir
from seco.method.schedule import active_weights, enabled_weights
from seco.method.tags import tag_agreement
from seco.model.network import NetOutput, SeCoNet, teacher_embed
from seco.profiling import phase

__all__ = ["SeCoState", "StepOutput", "seco_step", "wants_global_view"]

CONTRAST = ("lig", "lil")


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
        self.reservoir = Reservoir(cfg.reservoir.capacity, dim, cfg.reservoir.init)
        prototype_dim = net.encoder.embed_dim if cfg.prototypes.space == "backbone" else dim
        if prototype_dim != dim:
            raise ConfigError(f"model.proj_dim={dim} differs from the encoder's width ({prototype_dim}), and "
                              "method.prototypes.space=backbone compares the projected queries with its class tokens: "
                              f"leave model.proj_dim unset (0 follows the encoder), set it to {prototype_dim}, or set "
                              "method.prototypes.space=projection")
        self.prototypes = Prototypes(net.num_classes - 1, prototype_dim, cfg.prototypes.update)
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


def wants_global_view(cfg: MethodConfig) -> bool:
    """Whether training batches must carry the public code's second global view (``global_view``)."""
    return cfg.decomposition.global_views == "crop_and_rrc" and _contrast_enabled(cfg)


def _contrast_enabled(cfg: MethodConfig) -> bool:
    """Whether LiG or LiL is on at some iteration of this run (the reservoir and prototypes are kept only then)."""
    return any(n in enabled_weights(cfg.losses) for n in CONTRAST)


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
    contrast_on = any(n in weights for n in CONTRAST)
    contrast_enabled = _contrast_enabled(cfg)
    fill = cfg.reservoir.fill_before_start and contrast_enabled
    decompose_now = contrast_on or fill
    stats: dict[str, Tensor] = {}

    cam = cam_aux = None
    if decompose_now or any(n in weights for n in ("ptc", "seg", "reg")):
        with phase("cams"):
            was_training = model.training
            model.eval()
            cam, cam_aux = configured_cams(model.cams, images, labels, cfg.cam)
            model.train(was_training)
    views = None
    if decompose_now:
        source = cam_aux if iteration < cfg.decomposition.tag_switch_iter else cam
        views = decompose(images, source, labels, crop_box, cfg, generator, batch.get("mask"))

    by_crop = cfg.decomposition.global_views == "crop_and_rrc"
    student_views: tuple[Tensor, ...] = ()
    if views is not None:
        first = batch["global_view"] if by_crop else views.global_q
        student_views = (first, views.q_patches)
    wants_seg = "seg" in weights or "reg" in weights
    with phase("student_forward"):
        out = net(images, student_views, with_seg=wants_seg, embedding_grad=contrast_on and by_crop,
                  views_grad=contrast_on)
    terms: dict[str, Tensor] = {}
    with phase("losses"):
        if "cls" in weights:
            terms["cls"] = classification_loss(out.logits, labels)
        if "aux" in weights:
            terms["aux"] = classification_loss(out.aux_logits, labels)
        if "ptc" in weights:
            terms["ptc"] = _ptc(out.tokens, cam_aux, crop_box, cfg)
    if wants_seg:
        with phase("pseudo_labels"):
            pseudo = segmentation_pseudo_labels(cam, images, crop_box, cfg.cam.high_thr, cfg.cam.low_thr, state.par,
                                                cfg.par.downscale, labels=labels)
        with phase("losses"):
            seg = F.interpolate(out.seg, size=images.shape[-2:], mode="bilinear", align_corners=False)
            if "seg" in weights:
                terms["seg"] = balanced_seg_loss(seg, pseudo, empty_kind=cfg.losses.seg.empty_kind)
            if "reg" in weights:
                terms["reg"] = _reg(seg.softmax(1), images, crop_box, pseudo, cfg)
        stats["pseudo_ignore"] = (pseudo == IGNORE_INDEX).float().mean()
    if views is not None:
        q, k = _queries_and_keys(out, views, state, by_crop)
        contrast_terms, contrast_stats = _contrast(q, k, views.tags, labels, out, state, weights, iteration)
        terms.update(contrast_terms)
        stats.update(contrast_stats)
        if views.patch_tags_gt is not None:
            stats.update(tag_agreement(views.tags[-views.patch_tags_gt.shape[0]:], views.patch_tags_gt))
    elif contrast_enabled:  # the global teacher warms up before LiG starts
        with phase("reservoir_prototypes"):
            _update_prototypes(state, out, labels, iteration)

    loss = torch.stack([weights[name] * value for name, value in terms.items()]).sum()
    return StepOutput(loss=loss, terms=terms, stats=stats)


def _ptc(tokens: Tensor, cam_aux: Tensor, crop_box: Tensor, cfg: MethodConfig) -> Tensor:
    """ToCo's PTC on the final tokens, supervised by the aux-CAM labels on the token grid (recipe step 10)."""
    ptc, high, low = cfg.losses.ptc, cfg.cam.high_thr, cfg.cam.low_thr
    grid = tuple(tokens.shape[-2:])
    if ptc.label_grid == "resized_cam":
        labels = token_label_map(cam_aux, grid, crop_box, high, low, ptc.crop_box)
    else:
        labels = labels_to_token_grid(aux_label_map(cam_aux, crop_box, high, low), grid)
    return ptc_loss(tokens, labels, counts=ptc.counts)


def _reg(probs: Tensor, images: Tensor, crop_box: Tensor, pseudo: Tensor, cfg: MethodConfig) -> Tensor:
    """The regularisation loss on the segmentation softmax: the public gated dense energy or a local window."""
    reg = cfg.losses.reg
    valid = crop_mask(crop_box, *images.shape[-2:])
    if reg.formula == "public":
        return dense_energy_loss(probs, images, valid, pseudo, reg.sigma_rgb, reg.sigma_xy, reg.scale, reg.kernel)
    return bilateral_energy_loss(probs, images, valid, reg.sigma_rgb, reg.sigma_xy, reg.scale, reg.window)


def _queries_and_keys(out: NetOutput, views: Views, state: SeCoState, by_crop: bool) -> tuple[Tensor, Tensor]:
    """q (eq. 2) of the global views then the patches, and their keys k, in the order of ``views.tags``.

    ``crop_and_rrc``: the global views are the crop itself (the main forward
    pass) and the batch's random resized crop; their keys are the local
    teacher's projection head on the student's class tokens, as in the public
    code. ``resized_copies``: q from the weak copies, k from the local teacher
    on the strong ones. Patch keys always come from the local teacher.
    """
    teacher = state.teacher
    with torch.no_grad(), phase("teacher_forward"):
        k_patches = teacher_embed(teacher, views.k_patches)
        if by_crop:
            k_global = teacher["projector"](torch.cat([out.cls, out.view_cls[0]]))
        else:
            k_global = teacher_embed(teacher, views.global_k)
    q_global = torch.cat([out.embedding, out.view_embeddings[0]]) if by_crop else out.view_embeddings[0]
    return torch.cat([q_global, out.view_embeddings[1]]), torch.cat([k_global, k_patches])


def _contrast(q: Tensor, k: Tensor, tags: Tensor, labels: Tensor, out: NetOutput, state: SeCoState,
              weights: dict[str, float], iteration: int) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Rectification (eqs. 6-7), LiL (eq. 8), the prototype update (eq. 3), LiG (eq. 4), the reservoir (eq. 5).

    Returns the loss terms and the statistics to log.
    """
    cfg = state.cfg
    losses, rect = cfg.losses, cfg.rectification
    terms: dict[str, Tensor] = {}
    public_lil = losses.lil.formula == "public"
    with phase("reservoir_prototypes"):
        pool_keys, pool_tags = (state.reservoir.snapshot_after_push(k, tags) if public_lil
                                else state.reservoir.snapshot())
        keys, key_tags = torch.cat([k, pool_keys]), torch.cat([tags, pool_tags])
        rectified, fired = tags, torch.zeros_like(tags, dtype=torch.bool)
        if rect.enabled:
            rectified, fired = rectify_tags(q.detach(), tags, keys, key_tags, rect.sigma, rect.rule, losses.tau_l)
    if "lil" in weights:
        with phase("losses"):
            if public_lil:
                terms["lil"] = lil_loss_public(q, tags, keys, key_tags, losses.tau_l, fired)
            else:
                terms["lil"] = lil_loss(q, rectified, keys, key_tags, losses.tau_l)
    patches = slice(labels.shape[0] * cfg.decomposition.num_global, None)
    patch_keys = (k[patches], rectified[patches])
    if cfg.prototypes.before_lig:
        with phase("reservoir_prototypes"):
            _update_prototypes(state, out, labels, iteration, patch_keys)
    if "lig" in weights:
        with phase("losses"):
            terms["lig"] = _lig(q, rectified if losses.lig.tags == "rectified" else tags, labels, state)
    with phase("reservoir_prototypes"):
        if not cfg.prototypes.before_lig:
            _update_prototypes(state, out, labels, iteration, patch_keys)
        state.reservoir.push(k, rectified if cfg.reservoir.push_tags == "rectified" else tags)
    eligible = (tags != UNCERTAIN).sum().clamp(min=1)
    stats = {
        "rectified": fired.sum() / eligible,
        "tag_background": (tags == 0).float().mean(),
        "tag_class": (tags > 0).float().mean(),
        "tag_uncertain": (tags == UNCERTAIN).float().mean(),
        "prototype_similarity": state.prototypes.similarity(),
        "lil_floor": lil_floor(rectified, key_tags),
    }
    return terms, stats


def _lig(q: Tensor, tags: Tensor, labels: Tensor, state: SeCoState) -> Tensor:
    """LiG (eq. 4) against the prototypes of P_s: the classes among the tags or among the batch's labels.

    Only initialised prototypes take part; a query of a class whose prototype
    is not initialised yet is left out.
    """
    ready = state.prototypes.initialised
    present = lig_classes(tags, labels, ready, state.cfg.losses.lig.classes)
    own_ready = ready[(tags - 1).clamp(min=0)] & (tags > 0)
    usable = torch.where(own_ready, tags, torch.full_like(tags, UNCERTAIN))
    return lig_loss(q, usable, state.prototypes.P.clone(), present, state.cfg.losses.tau_g)


def _update_prototypes(state: SeCoState, out: NetOutput, labels: Tensor, iteration: int,
                       patches: tuple[Tensor, Tensor] | None = None) -> None:
    """Global-teacher knowledge, eq. 3, from the class tokens Z (backbone) or their projection.

    With ``prototypes.source=patches``, from the ``patches`` (keys, tags)
    instead: each key updates the prototype of its class tag; background and
    uncertain keys update nothing (and without patches nothing updates).
    """
    cfg = state.cfg.prototypes
    if iteration < cfg.start_iter:
        return
    if cfg.source == "patches":
        if patches is not None:
            keys, tags = patches
            one_hot = F.one_hot(tags.clamp(min=0), labels.shape[1] + 1)[:, 1:]
            state.prototypes.update(keys, one_hot, cfg.momentum, cfg.adaptive)
        return
    z = out.cls if cfg.space == "backbone" else out.embedding.detach()
    state.prototypes.update(z, labels, cfg.momentum, cfg.adaptive)
