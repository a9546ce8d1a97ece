"""Rebuild a trained network from a checkpoint, without any download."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch

from seco.config import Config, apply_overrides, config_from_dict, load_config
from seco.engine import dist
from seco.engine.checkpoint import load_checkpoint
from seco.model import SeCoNet, build_model

__all__ = ["Trained", "load_trained"]


@dataclasses.dataclass
class Trained:
    """A network in eval mode with the config and class names it was trained with.

    ``prototypes`` maps each class whose global-teacher prototype was ever
    updated to that prototype (eq. 3).
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
    state = load_checkpoint(checkpoint)
    cfg = load_config(config, overrides) if config else apply_overrides(config_from_dict(state["config"]), overrides)
    model_cfg = dataclasses.replace(cfg.model, pretrained=False, weights="")
    torch_device = dist.resolve_device(device if device != "auto" else cfg.train.device)
    if torch_device.type == "cuda" and dist.world_size() > 1:
        torch_device = torch.device("cuda", torch.cuda.current_device())
    net = build_model(model_cfg, len(state["class_names"]))
    net.load_state_dict(state["model"])
    net.to(torch_device).eval()
    seco_state = state.get("state", {})
    ready = seco_state.get("prototypes.initialised", torch.zeros(0, dtype=torch.bool))
    names = state["class_names"][1:]
    prototypes = {names[i]: seco_state["prototypes.P"][i] for i in ready.nonzero().flatten().tolist()}
    return Trained(net=net, cfg=cfg, class_names=list(state["class_names"]), iteration=int(state["iteration"]),
                   prototypes=prototypes)

