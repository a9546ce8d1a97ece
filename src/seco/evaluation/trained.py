"""Rebuild a trained network from a checkpoint, without any download."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch

from seco.config import Config, apply_overrides, config_diff, config_from_dict, load_config
from seco.engine import dist
from seco.engine.checkpoint import Checkpoint, CheckpointError, load_weights
from seco.method.seco import SeCoMethod
from seco.model import SeCoNet, build_model

__all__ = ["Trained", "changed_model_keys", "load_trained"]

_LOADING_ONLY = frozenset({"model.pretrained", "model.weights"})  # where initial weights come from, not the shape


def changed_model_keys(stored: dict, cfg: Config) -> str:
    """The ``model.*`` keys that differ between a stored config and ``cfg``, as ``key (stored -> now)``."""
    diff = config_diff(stored, cfg)
    return ", ".join(f"{key} ({old!r} -> {new!r})" for key, (old, new) in diff.items()
                     if key.startswith("model.") and key not in _LOADING_ONLY)


@dataclasses.dataclass
class Trained:
    """A network in eval mode with the config and class names it was trained with.

    ``prototypes`` maps each class whose global-teacher prototype was ever
    updated to that prototype (eq. 3; :meth:`seco.method.seco.SeCoMethod.trained_prototypes`).
    """

    net: SeCoNet
    cfg: Config
    class_names: list[str]
    iteration: int
    prototypes: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)


def load_trained(checkpoint: str | Path, config: str | None = None, overrides: Sequence[str] = (),
                 device: str = "auto") -> Trained:
    """Load ``checkpoint`` (``weights_only=True``) into a fresh :class:`SeCoNet`.

    The stored config is used unless ``config`` names another one; overrides
    apply on top (for example ``data.root=...`` when the data moved). The
    backbone is never fetched: the weights come from the checkpoint.
    """
    ckpt = Checkpoint.load(checkpoint)
    if ckpt.kind != "train":
        raise CheckpointError(f"{checkpoint} is a pretraining checkpoint, not a trained network; use a last.pt "
                              "written by seco train (seco pretrain's encoder is the file it wrote at --out)")
    cfg = load_config(config, overrides) if config else apply_overrides(config_from_dict(ckpt.config), overrides)
    model_cfg = dataclasses.replace(cfg.model, pretrained=False, weights="")
    torch_device = dist.resolve_device(device if device != "auto" else cfg.train.device)
    if torch_device.type == "cuda" and dist.world_size() > 1:
        torch_device = torch.device("cuda", torch.cuda.current_device())
    net = build_model(model_cfg, len(ckpt.class_names))
    changed = changed_model_keys(ckpt.config, cfg)
    advice = (f"The config differs from the checkpoint's in {changed}; drop --config and model.* overrides to "
              "use the checkpoint's own settings." if changed else "The checkpoint was written by another model.")
    load_weights(net, ckpt.model, f"checkpoint {checkpoint}", advice)
    net.to(torch_device).eval()
    prototypes = SeCoMethod.trained_prototypes(ckpt.state, ckpt.class_names)
    return Trained(net=net, cfg=cfg, class_names=list(ckpt.class_names), iteration=ckpt.iteration,
                   prototypes=prototypes)

