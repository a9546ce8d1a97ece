"""The input tokens: same arithmetic as timm's ViT, and the position embedding resized with or without antialias."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

from seco.model.backbone import ViTEncoder, build_encoder
from seco.model.token_embed import TokenEmbed, install_token_embed

# a 4x4 native grid: 32 px images with 8 px patches
KWARGS = {"embed_dim": 32, "depth": 3, "num_heads": 2, "patch_size": 8, "img_size": 32}


def _timm_vit(**extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    vit = timm.create_model("vit_tiny_patch16_224", num_classes=0, dynamic_img_size=True, **KWARGS, **extra).eval()
    with torch.no_grad():  # timm starts the position embedding near zero; make the resize matter
        vit.pos_embed.normal_()
        vit.cls_token.normal_()
    return vit


def _encoder(vit: torch.nn.Module, antialias: bool) -> ViTEncoder:
    copied = copy.deepcopy(vit)
    install_token_embed(copied, antialias)
    return ViTEncoder(copied, aux_layer=-2, pixel_mean=(0.0, 0.0, 0.0), pixel_std=(1.0, 1.0, 1.0)).eval()


def _by_hand(vit: torch.nn.Module, images: torch.Tensor, grid_pos: torch.Tensor) -> torch.Tensor:
    """Final normed tokens of a class-token ViT with ``grid_pos`` (1, h*w, D) as the patch positions."""
    patches = vit.patch_embed(images).flatten(1, 2)
    cls = vit.cls_token + vit.pos_embed[:, :1]
    x = torch.cat([cls.expand(len(images), -1, -1), patches + grid_pos], dim=1)
    for block in vit.blocks:
        x = block(x)
    return vit.norm(x)


def _grid(vit: torch.nn.Module) -> torch.Tensor:
    return vit.pos_embed[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)


@torch.no_grad()
@pytest.mark.parametrize("side", [16, 56])  # 2x2 tokens (shrunk from the 4x4 embedding) and 7x7 (enlarged)
def test_without_antialias_the_grid_is_plain_bicubic(side: int) -> None:
    vit = _timm_vit()
    images = torch.rand(2, 3, side, side)
    grid = side // 8
    plain = F.interpolate(_grid(vit), size=(grid, grid), mode="bicubic", align_corners=False, antialias=False)
    expected = _by_hand(vit, images, plain.flatten(2).transpose(1, 2))
    out = _encoder(vit, antialias=False)(images)
    torch.testing.assert_close(out.cls, expected[:, 0])
    torch.testing.assert_close(out.tokens.flatten(2).transpose(1, 2), expected[:, 1:])


@torch.no_grad()
@pytest.mark.parametrize("side", [16, 56])
def test_with_antialias_the_grid_is_timms_resize(side: int) -> None:
    vit = _timm_vit()
    images = torch.rand(2, 3, side, side)
    grid = side // 8
    timm_pos = resample_abs_pos_embed(vit.pos_embed, [grid, grid], [4, 4], num_prefix_tokens=1)
    expected = _by_hand(vit, images, timm_pos[:, 1:])
    out = _encoder(vit, antialias=True)(images)
    torch.testing.assert_close(out.tokens.flatten(2).transpose(1, 2), expected[:, 1:])
    torch.testing.assert_close(out.tokens.flatten(2).transpose(1, 2), vit.forward_features(images)[:, 1:])
    plain = _encoder(vit, antialias=False)(images)
    assert (out.tokens - plain.tokens).abs().max() > 1e-4  # the switch matters whenever the grid changes


@torch.no_grad()
def test_at_the_native_grid_both_settings_agree_with_timm() -> None:
    vit = _timm_vit()
    images = torch.rand(2, 3, 32, 32)
    reference = vit.forward_features(images)
    for antialias in (True, False):
        out = _encoder(vit, antialias)(images)
        assert torch.equal(out.cls, reference[:, 0])
        assert torch.equal(out.tokens.flatten(2).transpose(1, 2), reference[:, 1:])


@torch.no_grad()
def test_register_tokens_and_no_embed_class_follow_timm() -> None:
    vit = _timm_vit(reg_tokens=2, no_embed_class=True)
    images = torch.rand(1, 3, 24, 40)
    reference = vit.forward_features(images)
    out = _encoder(vit, antialias=True)(images)
    torch.testing.assert_close(out.cls, reference[:, 0])
    torch.testing.assert_close(out.tokens.flatten(2).transpose(1, 2), reference[:, 3:])


def test_the_vit_keeps_its_tensors_in_the_token_embedding() -> None:
    vit = _timm_vit()
    pos, cls = vit.pos_embed, vit.cls_token
    tokens = install_token_embed(vit)
    assert isinstance(vit.patch_embed, TokenEmbed) and vit.pos_embed is None and vit.cls_token is None
    assert tokens.pos_embed is pos and tokens.cls_token is cls
    assert {"patch_embed.pos_embed", "patch_embed.cls_token"} <= set(vit.state_dict())


@pytest.mark.parametrize("freeze", [True, False])
def test_a_frozen_position_embedding_gets_no_gradient_a_learned_one_does(freeze: bool) -> None:
    encoder = build_encoder("vit_tiny_patch16_224", kwargs=KWARGS, freeze_pos_embed=freeze, pos_embed_antialias=False)
    tokens = encoder.vit.patch_embed
    assert tokens.pos_embed.requires_grad is not freeze
    encoder(torch.rand(2, 3, 16, 24)).tokens.square().mean().backward()
    assert (tokens.pos_embed.grad is None) is freeze
    assert tokens.cls_token.grad is not None and tokens.cls_token.grad.abs().sum() > 0
