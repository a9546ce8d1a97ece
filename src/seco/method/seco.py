"""SeCo as the training loop sees it (:class:`SeCoMethod`): one step read top to bottom like the paper's Fig. 2.

1. multi-scale CAMs give pseudo labels (PAR refined) and the tag mask;
2. the image is decomposed into tagged patches plus global views (Sec. 3.3);
3. the student (shared with the global teacher) classifies the image and
   embeds the weak views (q), the local teacher the strong ones (k), eq. 2;
4. the losses: cls and aux cls, PTC, seg and reg, then rectification (eqs.
   6-7), LiL (eq. 8) and LiG (eq. 4) around the prototype update (eq. 3)
   (:mod:`seco.method.contrast`); eq. 9 plus gamma * seg plus the reg term;
5. the reservoir moves on (eq. 5); the EMA of the local teacher happens after
   the optimizer step (:meth:`SeCoMethod.after_optimizer_step`).

Every behaviour on which the paper's text and the authors' public code differ
is a switch of :class:`~seco.config.MethodConfig`, set together by
``method.fidelity`` (docs/method.md). Losses that are switched off cost
nothing; the decomposition, the keys and the reservoir run from the first
iteration when ``reservoir.fill_before_start`` (so the reservoir is full when
LiG/LiL start), else only once one of them is on. The CAM baseline is this
same step with the contrast, PTC, seg and reg losses off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.config import ConfigError, MethodConfig
from seco.labels import IGNORE_INDEX
from seco.method.base import StepOutput, TrainingMethod
from seco.method.cam import configured_cams
from seco.method.contrast import contrast, queries_and_keys, update_prototypes
from seco.method.decompose import decompose
from seco.method.ema import ema_update, make_teacher
from seco.method.losses import (
    balanced_seg_loss,
    bilateral_energy_loss,
    classification_loss,
    dense_energy_loss,
    ptc_loss,
)
from seco.method.par import build_par
from seco.method.prototypes import Prototypes
from seco.method.pseudo_labels import (
    aux_label_map,
    crop_mask,
    labels_to_token_grid,
    segmentation_pseudo_labels,
    token_label_map,
)
from seco.method.reservoir import Reservoir
from seco.method.schedule import active_weights, enabled_weights, loss_starts
from seco.method.tags import tag_agreement
from seco.model.network import SeCoNet
from seco.profiling import phase

__all__ = ["SeCoMethod"]

CONTRAST = ("lig", "lil")
PROTOTYPES = "prototypes."
"""Where :attr:`SeCoMethod.prototypes` sits in the method's ``state_dict`` (checkpoints' ``state`` entry)."""


class SeCoMethod(TrainingMethod):
    """SeCo: the student's step and everything that lives across steps besides the student (the local
    teacher, the reservoir and the prototypes), with the method settings that drive them.

    ``class_names`` are the data set's, background first: the reservoir's mix
    and the end-of-run warnings name the classes.
    """

    def __init__(self, net: SeCoNet, cfg: MethodConfig, class_names: Sequence[str]) -> None:
        super().__init__()
        self.cfg = cfg
        self.class_names = list(class_names)
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

    @classmethod
    def wants_global_view(cls, cfg: MethodConfig) -> bool:
        """Whether training batches must carry the public code's second global view (``global_view``)."""
        return cfg.decomposition.global_views == "crop_and_rrc" and _contrast_enabled(cfg)

    def train(self, mode: bool = True) -> SeCoMethod:
        super().train(mode)
        self.teacher.eval()
        return self

    def step(self, net: nn.Module, batch: dict[str, Tensor], iteration: int,
             generator: torch.Generator) -> StepOutput:
        """Compute the SeCo loss for one batch (the reservoir and prototypes move too).

        ``net`` may be a DistributedDataParallel wrapper of :class:`SeCoNet`; all
        gradient-carrying work goes through its single forward call.
        """
        model: SeCoNet = getattr(net, "module", net)
        cfg = self.cfg
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
                pseudo = segmentation_pseudo_labels(cam, images, crop_box, cfg.cam.high_thr, cfg.cam.low_thr, self.par,
                                                    cfg.par.downscale, labels=labels)
            with phase("losses"):
                seg = F.interpolate(out.seg, size=images.shape[-2:], mode="bilinear", align_corners=False)
                if "seg" in weights:
                    terms["seg"] = balanced_seg_loss(seg, pseudo, empty_kind=cfg.losses.seg.empty_kind)
                if "reg" in weights:
                    terms["reg"] = _reg(seg.softmax(1), images, crop_box, pseudo, cfg)
            stats["pseudo_ignore"] = (pseudo == IGNORE_INDEX).float().mean()
        if views is not None:
            q, k = queries_and_keys(out, views, self.teacher, by_crop)
            contrast_terms, contrast_stats = contrast(q, k, views.tags, labels, out, self.reservoir,
                                                      self.prototypes, cfg, weights, iteration)
            terms.update(contrast_terms)
            stats.update(contrast_stats)
            if views.patch_tags_gt is not None:
                stats.update(tag_agreement(views.tags[-views.patch_tags_gt.shape[0]:], views.patch_tags_gt))
        elif contrast_enabled:  # the global teacher warms up before LiG starts
            with phase("reservoir_prototypes"):
                update_prototypes(self.prototypes, cfg, out, labels, iteration)

        loss = torch.stack([weights[name] * value for name, value in terms.items()]).sum()
        return StepOutput(loss=loss, terms=terms, stats=stats)

    @torch.no_grad()
    def after_optimizer_step(self, net: nn.Module) -> None:
        """EMA update of the local teacher from the student (Sec. 3.5)."""
        ema_update(self.teacher, net.teacher_modules(), self.cfg.teacher.momentum)

    def loss_starts(self, iterations: int) -> dict[int, list[str]]:
        """The schedule of ``method.losses`` (:func:`seco.method.schedule.loss_starts`)."""
        return loss_starts(self.cfg.losses, iterations)

    def log_scalars(self) -> dict[str, float]:
        """The reservoir's mix: the share of its tagged keys per tag (``reservoir/<class>``)."""
        counts = self.reservoir.class_counts(len(self.class_names) - 1).float()
        total = counts.sum().clamp(min=1)
        names = ["background", *self.class_names[1:]]
        return {f"reservoir/{names[i]}": float(c / total) for i, c in enumerate(counts[: len(names)])}

    def end_of_run_warnings(self, iterations: int) -> list[str]:
        """The classes that LiG (eq. 4) left out to the end: their prototype was never initialised (eq. 3)."""
        cfg = self.cfg
        if "lig" not in active_weights(cfg.losses, iterations - 1):
            return []
        ready = self.prototypes.initialised.tolist()
        missing = [name for name, ok in zip(self.class_names[1:], ready, strict=True) if not ok]
        if not missing:
            return []
        source = "no patch was tagged with them" if cfg.prototypes.source == "patches" else \
            "no single-label image of them was seen"
        return [f"LiG never used the prototypes of {', '.join(missing)}: {source} after iteration "
                f"{cfg.prototypes.start_iter} (method.prototypes.start_iter)"]

    @staticmethod
    def trained_prototypes(state: Mapping[str, Tensor], class_names: Sequence[str]) -> dict[str, Tensor]:
        """The global-teacher prototypes (eq. 3) kept in a checkpoint's ``state`` entry, by class name.

        Only the classes whose prototype was initialised; none when the state
        holds no prototypes (``train.supervision=full``). The entries load into
        a :class:`Prototypes` with its own ``load_state_dict``, so a state that
        does not fit it is an error, never a silently empty result. The
        random start it replaces is drawn from a forked generator: reading a
        checkpoint leaves the caller's random stream as it was.
        """
        own = {key.removeprefix(PROTOTYPES): value for key, value in state.items() if key.startswith(PROTOTYPES)}
        if not own:
            return {}
        with torch.random.fork_rng(devices=[]):
            prototypes = Prototypes(*own["P"].shape)
        prototypes.load_state_dict(own)
        return prototypes.by_class(class_names[1:])


def _contrast_enabled(cfg: MethodConfig) -> bool:
    """Whether LiG or LiL is on at some iteration of this run (the reservoir and prototypes are kept only then)."""
    return any(n in enabled_weights(cfg.losses) for n in CONTRAST)


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
