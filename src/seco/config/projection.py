"""The width of the projected class token q (eq. 2) that a config builds: ``model.proj_dim``, or the encoder's.

``model.proj_dim`` unset (0) follows the encoder's token width, so two configs that differ only in writing 0 or
that width build the same network (:func:`seco.config.config_diff` counts them equal). The width is read off a
timm model built on the meta device: no memory, no weights, no download, and no need for :mod:`seco.model`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["encoder_width", "projection_width"]


def encoder_width(name: str, kwargs: dict | None = None) -> int:
    """The token width D of the timm ViT ``name`` built with ``kwargs``, read off a copy on the meta device.

    torch and timm are imported here, not with the module: ``seco.config`` is read by the command line before any
    model exists, and loading them costs seconds."""
    import timm
    import torch

    with torch.device("meta"):
        return int(timm.create_model(name, pretrained=False, num_classes=0, **(kwargs or {})).embed_dim)


def projection_width(leaves: dict[str, Any]) -> int | None:
    """The width of q that a config's dotted leaves build (None when this timm cannot build the encoder)."""
    if leaves.get("model.proj_dim"):
        return int(leaves["model.proj_dim"])
    prefix = "model.kwargs."
    kwargs = {key[len(prefix):]: value for key, value in leaves.items() if key.startswith(prefix)}
    try:
        return encoder_width(str(leaves.get("model.name")), kwargs)
    except (RuntimeError, TypeError, ValueError):
        return None
