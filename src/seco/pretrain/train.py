"""``seco pretrain``: the miniature of ImageNet pretraining for the tiny ViT.

The paper's backbone comes pretrained on ImageNet; the synthetic config's
tiny ViT has no such start. This trains the very encoder a config builds
(:func:`seco.model.build_model`, so the weights load into ``SeCoNet.encoder``)
as a multi-label classifier on :class:`~seco.synthetic.pretrain_set.PretrainSet`,
with SeCo's own classifier heads: a bias-free 1x1 conv over the token map
and global max pooling, on the final and the auxiliary tokens (the heads of
eq. 1), trained by :func:`set_cross_entropy`. Image-level labels only, as
ImageNet pretraining has; because the logits are the maxima of class maps,
where the maps light up is part of what is learned. Every
``--mosaic-every``-th step is of 2x2 mosaics of half-size scenes whose tiles
are classified one by one (:func:`tile_cross_entropy`), so a map that spills
into another tile costs loss: tight maps are learnt, not only right labels
(docs/results.md measures both recipes). With ``--cls-weight`` a linear
classifier on the final class token is trained beside them (the image's
label set, :func:`set_cross_entropy`), as an ImageNet ViT's class token is:
without it the heads read only the patch tokens and the class token's output,
which SeCo's prototypes and queries are made of, is never trained.

Every step draws fresh images from the seed, so a run is a pure function of
the seed and the settings, and it resumes exactly from ``RUN_DIR/last.pt``.
At the end the encoder's ViT state dict is written to the weights file, read
back, and evaluated as written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from seco.atomic import atomic_write
from seco.config import Config, ConfigError, to_dict
from seco.engine.checkpoint import LAST, Checkpoint
from seco.engine.dist import resolve_device
from seco.engine.optim import WarmupPoly, build_optimizer
from seco.engine.progress import progress_bar
from seco.engine.resume import ResumeRule, setting_flag
from seco.model import SeCoNet, build_model
from seco.model.heads import ClassifierHead
from seco.model.token_embed import token_embed_key
from seco.pretrain.encoder_weights import save_encoder_weights
from seco.pretrain.evaluate import evaluate_pretraining
from seco.pretrain.settings import SCHEDULE, PretrainSettings
from seco.synthetic.pretrain_set import MOSAIC, PretrainSet

__all__ = ["PretrainResult", "class_token_loss", "pretrain", "set_cross_entropy", "summarize", "tile_cross_entropy"]

LOG = "pretrain.jsonl"
METRICS = "metrics.json"
RESUME = ResumeRule("pretrain", "use another --run-dir", compared=("seed", "model.", *map(setting_flag, SCHEDULE)))
"""A resumed run keeps the seed, the model and the schedule; the other settings change only logging and speed."""


@dataclass
class PretrainResult:
    """What a run wrote and how it went."""

    weights: Path
    iterations: int
    seconds: float
    images_per_second: float
    metrics: dict[str, Any]


def set_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy against the label set spread evenly over its classes.

    Multi-label pretraining at scale uses this form (e.g. hashtag pretraining,
    Mahajan et al. 2018): unlike per-class binary losses, whose gradients
    vanish under 30+ mostly absent classes, it pushes the present classes
    against each other and learns as fast as single-label cross-entropy.
    ``logits`` (B, K) are GMP logits; ``labels`` (B, K) multi-hot, one class at least.
    """
    return F.cross_entropy(logits, labels / labels.sum(1, keepdim=True).clamp(min=1))


def tile_cross_entropy(head: ClassifierHead, tokens: torch.Tensor, tile_labels: torch.Tensor) -> torch.Tensor:
    """:func:`set_cross_entropy` of every tile of a G x G mosaic, each max-pooled over its own tokens.

    ``tile_labels`` (B, G*G, K) lists the tiles row by row (G = 1: the image,
    and this is the plain image-level loss). A token scores only its own
    tile, so a class map that spills past its object into another tile costs
    loss there: a localisation objective from image-level labels alone.
    A tile without objects adds nothing.
    """
    grid = math.isqrt(tile_labels.shape[1])
    logits = head.region_logits(tokens, grid).flatten(2).transpose(1, 2)
    return set_cross_entropy(logits.flatten(0, 1), tile_labels.flatten(0, 1))


def class_token_loss(cls_head: nn.Linear, cls: torch.Tensor, tile_labels: torch.Tensor) -> torch.Tensor:
    """:func:`set_cross_entropy` of the class token's logits against the whole image's label set.

    ``cls`` (B, D) are final class tokens; ``tile_labels`` (B, G*G, K) as in
    :func:`tile_cross_entropy`, and an image's set is the union of its tiles'.
    """
    return set_cross_entropy(cls_head(cls), tile_labels.amax(dim=1))


def _checkpoint(net: SeCoNet, cls_head: nn.Linear | None, optimizer: torch.optim.Optimizer, iteration: int,
                cfg: Config, settings: PretrainSettings) -> Checkpoint:
    return Checkpoint(kind="pretrain", model=net.state_dict(), config=to_dict(cfg), iteration=iteration,
                      optimizer=optimizer.state_dict(), rng=torch.get_rng_state(),
                      settings=dataclasses.asdict(settings),
                      cls_head=None if cls_head is None else cls_head.state_dict())


def _restore(ckpt: Checkpoint, net: SeCoNet, cls_head: nn.Linear | None, optimizer: torch.optim.Optimizer) -> int:
    """Load a pretraining checkpoint that :data:`RESUME` let this run resume; returns its iteration."""
    net.load_state_dict(ckpt.model)
    if cls_head is not None:
        cls_head.load_state_dict(ckpt.cls_head)
    optimizer.load_state_dict(ckpt.optimizer)
    torch.set_rng_state(ckpt.rng)
    return ckpt.iteration


def _log(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / LOG, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def pretrain(cfg: Config, settings: PretrainSettings, weights: Path, run_dir: Path, resume: bool = True,
             progress: bool = True, overwrite: bool = False) -> PretrainResult:
    """Pretrain ``cfg.model``'s encoder from scratch and write its weights to ``weights``.

    The model is always built from random initialisation (``model.weights``
    and ``model.pretrained`` are ignored); ``cfg.seed`` seeds it and the
    image stream, ``cfg.train.device`` and ``cfg.train.betas`` are used,
    ``cfg.method.cam.bkg_thr`` sets the CAM evaluation's background score.

    Raises:
        FileExistsError: ``weights`` exists and ``overwrite`` is false (checked before any training).
    """
    settings.check()
    if Path(weights).exists() and not overwrite:
        raise FileExistsError(f"{weights} exists; pass --overwrite to replace it, or choose another --out")
    previous = torch.get_num_threads()  # a setting of this run, not of the process: restored on return
    torch.set_num_threads(settings.threads)
    try:
        return _pretrain(cfg, settings, weights, run_dir, resume, progress)
    finally:
        torch.set_num_threads(previous)


def _pretrain(cfg: Config, settings: PretrainSettings, weights: Path, run_dir: Path, resume: bool,
              progress: bool) -> PretrainResult:
    device = resolve_device(cfg.train.device)
    model_cfg = dataclasses.replace(cfg.model, pretrained=False, weights="")
    torch.manual_seed(cfg.seed)
    net = build_model(model_cfg, len(PretrainSet.class_names)).to(device)
    tokens = -(-settings.image_size // net.encoder.patch_size)
    if settings.mosaic_every and tokens % MOSAIC:  # before the data sets, whose own check is not a user's message
        raise ConfigError(f"pretrain --mosaic-every: {settings.image_size} px images give {tokens}x{tokens} tokens, "
                          f"which do not split into {MOSAIC}x{MOSAIC} tiles; choose an --image-size of an even number "
                          f"of {net.encoder.patch_size} px patches, or --mosaic-every 0")
    train_set = PretrainSet(cfg.seed, "train", settings.iterations * settings.batch_size, settings.image_size,
                            settings.mosaic_every, settings.batch_size)
    val_set = PretrainSet(cfg.seed, "val", settings.n_val, settings.image_size)
    class_names, context_names = list(val_set.class_names), list(val_set.context_names)
    groups = net.param_groups(settings.lr, 1.0, settings.weight_decay)
    cls_head = None
    if settings.cls_weight:
        cls_head = nn.Linear(net.encoder.embed_dim, net.num_classes - 1).to(device)
        groups.append({"params": list(cls_head.parameters()), "lr": settings.lr,
                       "weight_decay": settings.weight_decay})
    optimizer = build_optimizer(groups, cfg.train.betas)
    scheduler = WarmupPoly(optimizer, settings.iterations, settings.warmup_iters, cfg.train.warmup_ratio,
                           cfg.train.poly_power)
    run_dir.mkdir(parents=True, exist_ok=True)
    start = 0
    ckpt = RESUME.load(run_dir, cfg, settings) if resume else None
    if ckpt is not None:
        start = _restore(ckpt, net, cls_head, optimizer)
    elif (run_dir / LOG).exists():
        (run_dir / LOG).unlink()
    loader = DataLoader(train_set, batch_size=settings.batch_size, num_workers=settings.workers,
                        sampler=range(start * settings.batch_size, len(train_set)))
    val_batches = list(DataLoader(val_set, batch_size=100, num_workers=settings.workers))

    def evaluate() -> dict[str, Any]:
        return evaluate_pretraining(net, val_batches, class_names, context_names, cfg.method.cam.bkg_thr, cls_head)

    net.train()
    bar = progress_bar("pretrain", progress, total=settings.iterations, initial=start)
    began = time.perf_counter()
    for iteration, batch in enumerate(loader, start):
        lr = settings.lr * scheduler.step_to(iteration)
        images, tiles = batch["image"].to(device), batch["tile_labels"].to(device)
        out = net.encoder(images)
        loss = (tile_cross_entropy(net.classifier, out.tokens, tiles)
                + settings.aux_weight * tile_cross_entropy(net.aux_classifier, out.aux_tokens, tiles))
        if cls_head is not None:
            loss = loss + settings.cls_weight * class_token_loss(cls_head, out.cls, tiles)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done = iteration + 1
        rate = (done - start) * settings.batch_size / (time.perf_counter() - began)
        value = loss.item()
        bar.set_postfix(loss=f"{value:.4f}", img_s=f"{rate:.1f}", refresh=False)
        bar.update(1)
        record: dict[str, Any] = {"iteration": done, "loss": round(value, 5), "lr": lr,
                                  "images_per_second": round(rate, 1)}
        if settings.eval_every and done % settings.eval_every == 0 and done < settings.iterations:
            record["val"] = evaluate()
            bar.write(f"iteration {done}: {summarize(record['val'])}")
        if done % 10 == 0 or "val" in record:
            _log(run_dir, record)
        if done % settings.ckpt_every == 0 or done == settings.iterations:
            _checkpoint(net, cls_head, optimizer, done, cfg, settings).save(run_dir / LAST)
    bar.close()
    seconds = time.perf_counter() - began
    save_encoder_weights(net.encoder, weights, settings.half)
    stored = torch.load(weights, map_location=device, weights_only=True)  # evaluate what the file holds
    net.encoder.vit.load_state_dict({token_embed_key(key): tensor for key, tensor in stored.items()})
    metrics = {"weights": str(weights), "iterations": settings.iterations, "seed": cfg.seed,
               "train_seconds": round(seconds, 1), "settings": dataclasses.asdict(settings),
               "model": dataclasses.asdict(model_cfg), "val": evaluate()}
    atomic_write(run_dir / METRICS, json.dumps(metrics, indent=1) + "\n")
    images = (settings.iterations - start) * settings.batch_size
    return PretrainResult(weights, settings.iterations, seconds, images / max(seconds, 1e-9), metrics)


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summarize(val: dict[str, Any]) -> str:
    """One line of the headline numbers of :func:`evaluate_pretraining`."""
    context = ", ".join(f"{k} {_num(v, 2)}" for k, v in val["cam_on_context"].items())
    token = f", class token {_num(val['cls_single_accuracy'])}" if "cls_single_accuracy" in val else ""
    return (f"accuracy {_num(val['accuracy'])} (single object {_num(val['single_accuracy'])}{token}), "
            f"mAP {_num(val['map'])}, CAM mIoU {_num(val['cam_miou'])} (aux {_num(val['aux_cam_miou'])}), "
            f"CAM FP/TP {_num(val['cam_fp_tp'], 2)}, background claimed by CAMs: {context}")
