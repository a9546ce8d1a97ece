"""A backbone weights file: the timm ViT state dict of an encoder, as ``model.weights`` loads it.

The keys are those of :attr:`seco.model.backbone.ViTEncoder.vit` (``cls_token``,
``patch_embed.proj.0.weight``, ``blocks.0.attn.qkv.weight``, ...), with no
prefix and no heads, so the file loads into the same timm model that
:func:`seco.model.build_encoder` builds. With ``half`` the floating tensors are
stored in float16 to halve the file; they load back into float32 exactly as
stored (every float16 value is a float32 value).
"""

from __future__ import annotations

from pathlib import Path

import torch

from seco.atomic import atomic_write
from seco.model.backbone import ViTEncoder
from seco.model.token_embed import timm_state_dict

__all__ = ["encoder_weights", "save_encoder_weights"]


def encoder_weights(encoder: ViTEncoder, half: bool = False) -> dict[str, torch.Tensor]:
    """The encoder's ViT state dict on the CPU; floating tensors as float16 when ``half``.

    Raises:
        ValueError: when ``half`` would turn a weight into inf (a value beyond float16's range).
    """
    state = {}
    for key, tensor in timm_state_dict(encoder.vit).items():
        tensor = tensor.detach().cpu().clone()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
            if not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"weight {key} exceeds the float16 range; save it without half precision")
        state[key] = tensor
    return state


def save_encoder_weights(encoder: ViTEncoder, path: str | Path, half: bool = False) -> Path:
    """Write :func:`encoder_weights` to ``path`` atomically; returns the path."""
    state = encoder_weights(encoder, half)
    return atomic_write(path, lambda handle: torch.save(state, handle))
