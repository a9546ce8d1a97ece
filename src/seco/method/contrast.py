"""SeCo's contrast half of a step (paper Sec. 3.4-3.5): queries and keys, rectification, LiL, prototypes, LiG.

Given the decomposition's views and the student's forward pass, the step
(:meth:`seco.method.seco.SeCoMethod.step`) calls :func:`queries_and_keys`
(eq. 2) and then :func:`contrast`: rectification (eqs. 6-7), LiL (eq. 8), the
prototype update (eq. 3), LiG (eq. 4) and the reservoir (eq. 5), in the order
the fidelity switches of :class:`~seco.config.MethodConfig` ask for, and the
statistics a run logs about them (:func:`lil_floor` among them). A new
contrast term goes in :func:`contrast`, its loss in :mod:`seco.method.losses`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.config import MethodConfig
from seco.labels import UNCERTAIN
from seco.method.decompose import Views
from seco.method.losses import lig_classes, lig_loss, lil_loss, lil_loss_public
from seco.method.prototypes import Prototypes
from seco.method.rectification import rectify_tags, same_tag_pairs
from seco.method.reservoir import Reservoir
from seco.model.network import NetOutput, teacher_embed
from seco.profiling import phase

__all__ = ["contrast", "lil_floor", "queries_and_keys", "update_prototypes"]


def queries_and_keys(out: NetOutput, views: Views, teacher: nn.ModuleDict, by_crop: bool) -> tuple[Tensor, Tensor]:
    """q (eq. 2) of the global views then the patches, and their keys k, in the order of ``views.tags``.

    ``crop_and_rrc``: the global views are the crop itself (the main forward
    pass) and the batch's random resized crop; their keys are the local
    teacher's projection head on the student's class tokens, as in the public
    code. ``resized_copies``: q from the weak copies, k from the local teacher
    on the strong ones. Patch keys always come from the local teacher.
    """
    with torch.no_grad(), phase("teacher_forward"):
        k_patches = teacher_embed(teacher, views.k_patches)
        if by_crop:
            k_global = teacher["projector"](torch.cat([out.cls, out.view_cls[0]]))
        else:
            k_global = teacher_embed(teacher, views.global_k)
    q_global = torch.cat([out.embedding, out.view_embeddings[0]]) if by_crop else out.view_embeddings[0]
    return torch.cat([q_global, out.view_embeddings[1]]), torch.cat([k_global, k_patches])


def contrast(q: Tensor, k: Tensor, tags: Tensor, labels: Tensor, out: NetOutput, reservoir: Reservoir,
             prototypes: Prototypes, cfg: MethodConfig, weights: dict[str, float],
             iteration: int) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Rectification (eqs. 6-7), LiL (eq. 8), the prototype update (eq. 3), LiG (eq. 4), the reservoir (eq. 5).

    Returns the loss terms and the statistics to log.
    """
    losses, rect = cfg.losses, cfg.rectification
    terms: dict[str, Tensor] = {}
    public_lil = losses.lil.formula == "public"
    with phase("reservoir_prototypes"):
        pool_keys, pool_tags = reservoir.snapshot_public(k, tags) if public_lil else reservoir.snapshot()
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
            update_prototypes(prototypes, cfg, out, labels, iteration, patch_keys)
    if "lig" in weights:
        with phase("losses"):
            terms["lig"] = _lig(q, rectified if losses.lig.tags == "rectified" else tags, labels, prototypes, cfg)
    with phase("reservoir_prototypes"):
        if not cfg.prototypes.before_lig:
            update_prototypes(prototypes, cfg, out, labels, iteration, patch_keys)
        reservoir.push(k, rectified if cfg.reservoir.push_tags == "rectified" else tags)
    eligible = (tags != UNCERTAIN).sum().clamp(min=1)
    stats = {
        "rectified": fired.sum() / eligible,
        "tag_background": (tags == 0).float().mean(),
        "tag_class": (tags > 0).float().mean(),
        "tag_uncertain": (tags == UNCERTAIN).float().mean(),
        "prototype_similarity": prototypes.similarity(),
        "lil_floor": lil_floor(rectified, key_tags),
    }
    return terms, stats


def lil_floor(tags: Tensor, key_tags: Tensor) -> Tensor:
    """The lowest value eq. 8 (:func:`~seco.method.losses.lil.lil_loss`) can take with these tags, logged as
    ``stats/lil_floor``: a diagnostic, not a loss.

    ``-log p_ij`` averaged over the positives ``P_i`` of a query is at least
    ``log |P_i|`` (all of the row's mass spread evenly over its positives), so
    with ``N_l^+ = sum_i |P_i|`` the loss is at least
    ``sum_i |P_i| log |P_i| / N_l^+``. A reservoir that holds many keys of each
    tag keeps this floor high: a LiL near ``log N`` need not mean that nothing
    was learnt. 0 when there is no positive pair.
    """
    counts = same_tag_pairs(tags, key_tags).sum(dim=1).to(torch.float32)
    return (counts * counts.clamp(min=1).log()).sum() / counts.sum().clamp(min=1)


def _lig(q: Tensor, tags: Tensor, labels: Tensor, prototypes: Prototypes, cfg: MethodConfig) -> Tensor:
    """LiG (eq. 4) against the prototypes of P_s: the classes among the tags or among the batch's labels.

    Only initialised prototypes take part; a query of a class whose prototype
    is not initialised yet is left out.
    """
    ready = prototypes.initialised
    present = lig_classes(tags, labels, ready, cfg.losses.lig.classes)
    own_ready = ready[(tags - 1).clamp(min=0)] & (tags > 0)
    usable = torch.where(own_ready, tags, torch.full_like(tags, UNCERTAIN))
    return lig_loss(q, usable, prototypes.P.clone(), present, cfg.losses.tau_g)


def update_prototypes(prototypes: Prototypes, cfg: MethodConfig, out: NetOutput, labels: Tensor, iteration: int,
                      patches: tuple[Tensor, Tensor] | None = None) -> None:
    """Global-teacher knowledge, eq. 3, from the class tokens Z (backbone) or their projection.

    With ``prototypes.source=patches``, from the ``patches`` (keys, tags)
    instead: each key updates the prototype of its class tag; background and
    uncertain keys update nothing (and without patches nothing updates).
    """
    settings = cfg.prototypes
    if iteration < settings.start_iter:
        return
    if settings.source == "patches":
        if patches is not None:
            keys, tags = patches
            one_hot = F.one_hot(tags.clamp(min=0), labels.shape[1] + 1)[:, 1:]
            prototypes.update(keys, one_hot, settings.momentum, settings.adaptive)
        return
    z = out.cls if settings.space == "backbone" else out.embedding.detach()
    prototypes.update(z, labels, settings.momentum, settings.adaptive)
