"""The timm ViT encoder with its aux tap, the heads, and local weight files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import timm
import torch

from seco.config import ModelConfig
from seco.model import build_model, teacher_embed
from seco.model.backbone import build_encoder

TINY = ModelConfig(name="vit_tiny_patch16_224", pretrained=False,
                   kwargs={"embed_dim": 32, "depth": 4, "num_heads": 2, "patch_size": 8, "img_size": 64},
                   conv_stem=True, proj_hidden=48, proj_dim=16, seg_dilations=[1, 2])


def test_outputs_have_the_documented_shapes() -> None:
    net = build_model(TINY, num_classes=5)
    out = net(torch.randn(2, 3, 64, 64), (torch.randn(6, 3, 32, 32),), with_seg=True)
    assert out.logits.shape == out.aux_logits.shape == (2, 4)
    assert out.tokens.shape == out.aux_tokens.shape == (2, 32, 8, 8)
    assert out.embedding.shape == (2, 16)
    assert torch.allclose(out.embedding.norm(dim=1), torch.ones(2))
    assert out.seg.shape == (2, 5, 8, 8)
    assert out.view_embeddings[0].shape == (6, 16)
    cam, cam_aux = net.cams(torch.randn(1, 3, 64, 64))
    assert cam.shape == cam_aux.shape == (1, 4, 8, 8)  # raw W^T Z: eq. 1's ReLU comes in multiscale_cams


def test_aux_tap_is_block_l_minus_3_before_the_final_norm() -> None:
    net = build_model(TINY, num_classes=3)
    vit = net.encoder.vit
    assert net.encoder.aux_index == 1
    captured = {}
    vit.blocks[1].register_forward_hook(lambda _m, _i, o: captured.setdefault("x", o))
    out = net.encoder(torch.randn(1, 3, 64, 64))
    expected = captured["x"][:, vit.num_prefix_tokens:].transpose(1, 2).reshape(1, 32, 8, 8)
    assert torch.equal(out.aux_tokens, expected)


def test_position_embeddings_follow_the_input_size() -> None:
    net = build_model(TINY, num_classes=3)
    assert net(torch.randn(1, 3, 96, 48)).tokens.shape[-2:] == (12, 6)


def test_sides_that_are_not_patch_multiples_round_up() -> None:
    net = build_model(TINY, num_classes=3)
    assert net(torch.randn(1, 3, 37, 65)).tokens.shape[-2:] == (5, 9)


def test_position_embedding_is_frozen_when_asked() -> None:
    frozen = build_encoder("vit_tiny_patch16_224", kwargs={"depth": 4, "img_size": 32}, freeze_pos_embed=True)
    learned = build_encoder("vit_tiny_patch16_224", kwargs={"depth": 4, "img_size": 32}, freeze_pos_embed=False)
    assert not frozen.vit.patch_embed.pos_embed.requires_grad and learned.vit.patch_embed.pos_embed.requires_grad


@pytest.mark.parametrize("antialias", [True, False])
def test_a_saved_network_loads_back_with_identical_outputs(tmp_path: Path, antialias: bool) -> None:
    cfg = dataclasses.replace(TINY, pos_embed_antialias=antialias)
    net = build_model(cfg, num_classes=4).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    torch.save(net.state_dict(), tmp_path / "net.pt")
    restored = build_model(cfg, num_classes=4).eval()
    restored.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    images = torch.rand(2, 3, 40, 24)
    with torch.no_grad():
        a, b = net(images), restored(images)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.seg, b.seg) and torch.equal(a.embedding, b.embedding)
    assert "encoder.vit.patch_embed.pos_embed" in net.state_dict()


def test_weights_come_from_a_local_file_offline(tmp_path: Path) -> None:
    kwargs = {"embed_dim": 32, "depth": 4, "num_heads": 2, "img_size": 32}
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, **kwargs)
    path = tmp_path / "vit.pth"
    torch.save(source.state_dict(), path)
    encoder = build_encoder("vit_tiny_patch16_224", weights=str(path), kwargs=kwargs)
    assert torch.equal(encoder.vit.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    assert torch.equal(encoder.vit.patch_embed.pos_embed, source.pos_embed)
    assert encoder.weights is not None and encoder.weights.tensors == len(source.state_dict())


def test_missing_weights_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        build_encoder("vit_tiny_patch16_224", weights=str(tmp_path / "nowhere.pth"))


def test_unknown_model_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="model.name"):
        build_encoder("vit_does_not_exist")


def test_a_timm_model_other_than_vision_transformer_is_refused() -> None:
    with pytest.raises(ValueError, match="model.name: 'deit_tiny_distilled_patch16_224' builds a timm Vision"):
        build_encoder("deit_tiny_distilled_patch16_224", kwargs={"depth": 2, "img_size": 32})


def test_conv_stem_needs_power_of_two_patches() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        build_encoder("vit_tiny_patch16_224", kwargs={"patch_size": 12, "img_size": 48}, conv_stem=True)


def test_heads_get_ten_times_the_backbone_lr() -> None:
    net = build_model(TINY, num_classes=3)
    groups = net.param_groups(lr=1e-4, head_lr_mult=10.0, weight_decay=0.01)
    head_ids = {id(p) for n, p in net.named_parameters() if not n.startswith("encoder.")}
    for group in groups:
        is_head = {id(p) in head_ids for p in group["params"]}
        assert len(is_head) == 1
        assert group["lr"] == pytest.approx(1e-3 if is_head.pop() else 1e-4)
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in net.parameters())


def test_weight_decay_on_every_parameter_or_not_on_norms_and_biases() -> None:
    net = build_model(TINY, num_classes=3)
    decayed = {id(p) for g in net.param_groups(1e-4, 10.0, 0.01, decay_all=True) if g["weight_decay"] > 0
               for p in g["params"]}
    assert decayed == {id(p) for p in net.parameters() if p.requires_grad}  # the public code
    spared = [g for g in net.param_groups(1e-4, 10.0, 0.01, decay_all=False) if g["weight_decay"] == 0]
    names = {id(p): n for n, p in net.named_parameters()}
    spared_params = [p for g in spared for p in g["params"]]
    assert any(names[id(p)].endswith("cls_token") for p in spared_params)
    assert all(p.ndim <= 1 or names[id(p)].endswith(("cls_token", "pos_embed")) for p in spared_params)
    assert any(p.ndim > 1 for g in net.param_groups(1e-4, 10.0, 0.01, decay_all=False) if g["weight_decay"] > 0
               for p in g["params"])


def test_teacher_modules_embed_like_the_student() -> None:
    net = build_model(TINY, num_classes=3)
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(teacher_embed(net.teacher_modules(), x), net.embed(x))


def test_the_encoder_normalises_unit_rgb_with_its_pixel_mean_and_std() -> None:
    plain = build_encoder(TINY.name, kwargs=TINY.kwargs, pixel_mean=(0.0, 0.0, 0.0), pixel_std=(1.0, 1.0, 1.0)).eval()
    imagenet = build_encoder(TINY.name, kwargs=TINY.kwargs).eval()
    imagenet.load_state_dict(plain.state_dict())
    assert "pixel_mean" not in plain.state_dict()  # held by the config, not by checkpoints
    rgb = torch.rand(1, 3, 64, 64)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    by_hand = plain((rgb - mean[:, None, None]) / std[:, None, None])
    torch.testing.assert_close(imagenet(rgb).tokens, by_hand.tokens)


@pytest.mark.parametrize(("conv_stem", "train"), [(True, True), (False, True), (False, False)])
def test_class_token_alone_matches_the_whole_forward_and_its_gradient(conv_stem: bool, train: bool) -> None:
    """forward_cls runs the last block for the class token only: the same token and parameter gradients as the
    whole forward's class token, within float rounding (batch norm of the conv stem in training included)."""
    torch.manual_seed(0)
    encoder = build_model(dataclasses.replace(TINY, conv_stem=conv_stem), num_classes=3).encoder.train(train)
    images = torch.rand(5, 3, 40, 40)
    grads = []
    for embed in (lambda x: encoder(x).cls, encoder.forward_cls):
        encoder.zero_grad()
        cls = embed(images)
        (cls * torch.linspace(-1, 1, cls.shape[1])).sum().backward()
        grads.append((cls.detach(), [p.grad.clone() for p in encoder.parameters() if p.grad is not None]))
    (whole, whole_grads), (alone, alone_grads) = grads
    assert alone.shape == (5, 32)
    torch.testing.assert_close(alone, whole, rtol=1e-5, atol=1e-5)
    assert len(alone_grads) == len(whole_grads)
    for got, expected in zip(alone_grads, whole_grads):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_class_token_alone_runs_the_whole_block_when_dropout_would_draw_otherwise() -> None:
    """With dropout in training, fewer tokens would draw other random numbers: the last block runs whole."""
    config = dataclasses.replace(TINY, kwargs={**TINY.kwargs, "proj_drop_rate": 0.5})
    encoder = build_model(config, num_classes=3).encoder.train()
    images = torch.rand(2, 3, 32, 32)
    torch.manual_seed(1)
    whole = encoder(images).cls
    torch.manual_seed(1)
    assert torch.equal(encoder.forward_cls(images), whole)
