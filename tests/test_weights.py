"""Backbone weight files: every tensor loads or the error says which do not; formats, prefixes, sha256, seco:NAME."""

from __future__ import annotations

import argparse
import hashlib
import logging
import socket
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.layers import resample_abs_pos_embed

import seco.model.weights as weights_module
from seco.model.backbone import build_encoder
from seco.model.weights import WeightsError, load_backbone_weights

NAME = "vit_tiny_patch16_224"
KWARGS = {"embed_dim": 32, "depth": 3, "num_heads": 2, "patch_size": 8, "img_size": 32}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a weights file must never touch the network: any attempt fails these tests."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a weights file was loaded over the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _vit(seed: int = 0, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(NAME, pretrained=False, **{"num_classes": 0, **KWARGS, **kwargs})


def _state(**kwargs: object) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in _vit(seed=1, **kwargs).state_dict().items()}


def test_a_saved_state_dict_round_trips_tensor_for_tensor(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = _state(num_classes=7)  # with a classifier head, which the encoder replaces
    path = tmp_path / "vit.pth"
    torch.save(state, path)
    vit = _vit()
    with caplog.at_level(logging.INFO, logger="seco"):
        loaded = load_backbone_weights(vit, path)
    own = vit.state_dict()
    assert set(own) == {k for k in state if not k.startswith("head.")}
    for key, tensor in own.items():
        assert torch.equal(tensor, state[key]), key
    assert loaded.tensors == len(own) and loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"backbone weights: {len(own)} tensors from {path} (sha256 {loaded.sha256})" in caplog.messages


def test_renamed_keys_fail_naming_the_file_and_the_keys(tmp_path: Path) -> None:
    state = _state()
    for old in ("blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias"):
        state[old.replace("qkv", "to_qkv")] = state.pop(old)
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as caught:
        load_backbone_weights(_vit(), path)
    message = str(caught.value)
    assert str(path) in message
    assert "2 missing keys (blocks.0.attn.qkv.weight, blocks.0.attn.qkv.bias)" in message
    assert "2 unexpected keys (blocks.0.attn.to_qkv.weight, blocks.0.attn.to_qkv.bias)" in message
    assert "model.weights_strict=false" in message


def test_not_strict_loads_what_fits_and_warns_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = _state()
    state["blocks.1.mlp.fc1.weight"] = torch.zeros(5, 32)
    del state["norm.bias"]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    vit = _vit()
    with caplog.at_level(logging.INFO, logger="seco"):
        loaded = load_backbone_weights(vit, path, strict=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"warning: model.weights: {path} loaded partly (1 missing keys, 1 unexpected keys, "
                        "1 tensors of another shape (file vs encoder); model.weights_strict=false)"]
    assert loaded.tensors == len(vit.state_dict()) - 2
    assert torch.equal(vit.blocks[0].attn.qkv.weight, state["blocks.0.attn.qkv.weight"])


@pytest.mark.parametrize("wrap", ["module.", "encoder.", "module.encoder."])
def test_a_prefix_every_key_has_is_stripped(tmp_path: Path, wrap: str) -> None:
    state = _state()
    path = tmp_path / "prefixed.pth"
    torch.save({wrap + k: v for k, v in state.items()}, path)
    vit = _vit()
    assert load_backbone_weights(vit, path).tensors == len(state)
    assert torch.equal(vit.pos_embed, state["pos_embed"])


@pytest.mark.parametrize("entry", ["model", "state_dict"])
def test_a_checkpoint_dict_with_a_model_or_state_dict_entry_loads(tmp_path: Path, entry: str) -> None:
    state = _state()
    path = tmp_path / "checkpoint.pth"
    torch.save({entry: state, "epoch": 300, "optimizer": {"lr": 0.1}}, path)
    vit = _vit()
    load_backbone_weights(vit, path)
    assert torch.equal(vit.cls_token, state["cls_token"])


def test_safetensors_files_load(tmp_path: Path) -> None:
    state = _state()
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    vit = _vit()
    assert load_backbone_weights(vit, path).tensors == len(state)
    assert torch.equal(vit.blocks[1].mlp.fc2.weight, state["blocks.1.mlp.fc2.weight"])


def test_another_grid_is_resized_and_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = _state()  # 4x4 grid
    path = tmp_path / "vit32.pth"
    torch.save(state, path)
    vit = _vit(img_size=48)  # 6x6 grid
    with caplog.at_level(logging.INFO, logger="seco"):
        load_backbone_weights(vit, path, antialias=False)
    assert [m for m in caplog.messages if "position embedding" in m] == [
        "model.weights: position embedding resized from 4x4 to 6x6 (bicubic, antialias=False)"]
    expected = resample_abs_pos_embed(state["pos_embed"], [6, 6], [4, 4], num_prefix_tokens=1, antialias=False)
    assert torch.equal(vit.pos_embed, expected)


def _to_npz_layout(vit: torch.nn.Module) -> dict[str, np.ndarray]:
    """``vit``'s weights in the layout of the original (JAX) ViT .npz files, which timm's loader reads."""
    d = vit.embed_dim
    heads = vit.blocks[0].attn.num_heads

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().copy()

    out = {
        "embedding/kernel": arr(vit.patch_embed.proj.weight.permute(2, 3, 1, 0)),
        "embedding/bias": arr(vit.patch_embed.proj.bias),
        "cls": arr(vit.cls_token),
        "Transformer/posembed_input/pos_embedding": arr(vit.pos_embed),
        "Transformer/encoder_norm/scale": arr(vit.norm.weight),
        "Transformer/encoder_norm/bias": arr(vit.norm.bias),
    }
    for i, block in enumerate(vit.blocks):
        p = f"Transformer/encoderblock_{i}/"
        attn = f"{p}MultiHeadDotProductAttention_1/"
        qkv_w, qkv_b = block.attn.qkv.weight, block.attn.qkv.bias
        for j, part in enumerate(("query", "key", "value")):
            out[f"{attn}{part}/kernel"] = arr(qkv_w[j * d:(j + 1) * d].T.reshape(d, heads, -1))
            out[f"{attn}{part}/bias"] = arr(qkv_b[j * d:(j + 1) * d].reshape(heads, -1))
        out[f"{attn}out/kernel"] = arr(block.attn.proj.weight.reshape(d, heads, -1).permute(1, 2, 0))
        out[f"{attn}out/bias"] = arr(block.attn.proj.bias)
        for norm, sub in ((block.norm1, "LayerNorm_0"), (block.norm2, "LayerNorm_2")):
            out[f"{p}{sub}/scale"], out[f"{p}{sub}/bias"] = arr(norm.weight), arr(norm.bias)
        for r, fc in enumerate((block.mlp.fc1, block.mlp.fc2)):
            out[f"{p}MlpBlock_3/Dense_{r}/kernel"] = arr(fc.weight.T)
            out[f"{p}MlpBlock_3/Dense_{r}/bias"] = arr(fc.bias)
    return out


def test_an_original_vit_npz_loads(tmp_path: Path) -> None:
    source = _vit(seed=1)
    path = tmp_path / "ViT-Ti_16.npz"
    np.savez(path, **_to_npz_layout(source))
    vit = _vit()
    loaded = load_backbone_weights(vit, path)
    assert loaded.tensors == len(vit.state_dict())
    for key, tensor in vit.state_dict().items():
        torch.testing.assert_close(tensor, source.state_dict()[key], msg=key)


def test_an_npz_without_a_block_fails_naming_the_array(tmp_path: Path) -> None:
    arrays = _to_npz_layout(_vit(seed=1))
    del arrays["Transformer/encoderblock_1/MlpBlock_3/Dense_0/kernel"]
    path = tmp_path / "cut.npz"
    np.savez(path, **arrays)
    with pytest.raises(WeightsError, match=r"cut\.npz lacks the array 'Transformer/encoderblock_1/MlpBlock_3"):
        load_backbone_weights(_vit(), path)


def test_the_sha256_set_in_the_config_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "vit.pth"
    torch.save(_state(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_backbone_weights(_vit(), path, sha256=digest.upper()).sha256 == digest
    with pytest.raises(WeightsError, match=f"model.weights_sha256: {path} has sha256 {digest}, the config expects 0+;"):
        load_backbone_weights(_vit(), path, sha256="0" * 64)


@pytest.mark.parametrize("content", [b"", b"\x00not a pickle\xff" * 10])
def test_an_unreadable_file_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=f"model.weights: {path} cannot be read as a weights file") as caught:
        load_backbone_weights(_vit(), path)
    assert "weights_only=False" not in str(caught.value)


def test_a_checkpoint_that_pickles_objects_is_refused_safely(tmp_path: Path) -> None:
    path = tmp_path / "train_state.pth"
    torch.save({"state_dict": _state(), "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(WeightsError, match=r"\(it holds argparse.Namespace objects besides tensors\); save the"):
        load_backbone_weights(_vit(), path)


def test_a_file_without_tensors_says_what_it_found(tmp_path: Path) -> None:
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "arch": "vit"}, path)
    with pytest.raises(WeightsError, match=r"holds no state dict of tensors.*found: epoch, arch"):
        load_backbone_weights(_vit(), path)


def test_seco_names_a_file_shipped_in_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _state()
    shipped = tmp_path / "weights"
    shipped.mkdir()
    torch.save(state, shipped / "tiny.pth")
    monkeypatch.setattr(weights_module, "PACKAGED_WEIGHTS", shipped)
    encoder = build_encoder(NAME, weights="seco:tiny.pth", kwargs=KWARGS)
    assert encoder.weights is not None and encoder.weights.source == "seco:tiny.pth"
    assert torch.equal(encoder.vit.patch_embed.pos_embed, state["pos_embed"])
    for bad in ("seco:other.pth", "seco:../weights/tiny.pth", "seco:"):
        with pytest.raises(WeightsError, match=r"is not shipped with seco \(shipped: seco:tiny.pth\)"):
            load_backbone_weights(_vit(), bad)


def test_the_package_declares_its_weights_folder() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"weights/*"' in pyproject
