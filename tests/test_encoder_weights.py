"""The backbone weights file: plain timm ViT keys, float16 only when it fits."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch

from seco.config import load_config
from seco.model.backbone import build_encoder
from seco.model.token_embed import timm_state_dict
from seco.pretrain.encoder_weights import encoder_weights, save_encoder_weights
from support import TINY_MODEL


@pytest.fixture
def encoder() -> torch.nn.Module:
    m = load_config("synthetic", TINY_MODEL).model
    return build_encoder(m.name, False, "", m.kwargs, m.conv_stem, m.aux_layer)


def test_keys_are_the_vits_own(encoder: torch.nn.Module, tmp_path: Path) -> None:
    path = save_encoder_weights(encoder, tmp_path / "w.pth")
    saved = torch.load(path, weights_only=True)
    assert "cls_token" in saved and "patch_embed.patches.proj.0.weight" not in saved  # timm's layout
    own = timm_state_dict(encoder.vit)
    assert saved.keys() == own.keys()
    assert all(torch.equal(saved[k], v) for k, v in own.items())


def test_half_keeps_integer_buffers_and_halves_floats(encoder: torch.nn.Module) -> None:
    state = encoder_weights(encoder, half=True)
    for key, tensor in state.items():
        original = timm_state_dict(encoder.vit)[key]
        if original.is_floating_point():
            assert tensor.dtype == torch.float16 and torch.equal(tensor, original.half()), key
        else:
            assert torch.equal(tensor, original), key
    assert any(not t.is_floating_point() for t in state.values())  # BatchNorm's num_batches_tracked


def test_half_refuses_weights_beyond_float16(encoder: torch.nn.Module) -> None:
    with torch.no_grad():
        encoder.vit.patch_embed.pos_embed.fill_(1e6)
    with pytest.raises(ValueError, match="pos_embed"):
        encoder_weights(encoder, half=True)


def test_the_synthetic_default_starts_from_the_shipped_pretrained_weights() -> None:
    """configs/synthetic.yaml names seco:synthetic_vit_tiny.pth with its sha256; every encoder tensor comes from it."""
    cfg = load_config("synthetic")
    assert cfg.model.weights == "seco:synthetic_vit_tiny.pth" and cfg.model.weights_sha256
    encoder = build_encoder(cfg.model.name, weights=cfg.model.weights, weights_sha256=cfg.model.weights_sha256,
                            kwargs=dict(cfg.model.kwargs), conv_stem=cfg.model.conv_stem)
    with resources.as_file(resources.files("seco") / "weights" / "synthetic_vit_tiny.pth") as path:
        shipped = torch.load(path, weights_only=True)
    own = timm_state_dict(encoder.vit)
    assert encoder.weights.tensors == len(shipped) and shipped.keys() == own.keys()
    assert all(torch.equal(own[k], v) for k, v in shipped.items())
