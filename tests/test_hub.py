"""timm's pretrained weights offline: the cache first, one clear line at once when the hub cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import timm
import torch

import seco.model.hub as hub
from seco.model.backbone import build_encoder
from seco.model.weights import WeightsError
from support import tiny_overrides

NAME = "vit_tiny_patch16_224"
KWARGS = {"embed_dim": 32, "depth": 3, "num_heads": 2, "patch_size": 8, "img_size": 32}
HINT = "pass model.weights=PATH with a local file, or model.pretrained=false"


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """No file in the local cache; a download attempt is recorded and fails the test."""
    downloads: list[tuple] = []
    monkeypatch.setattr(hub, "try_to_load_from_cache", lambda *args, **kwargs: None)
    monkeypatch.setattr(hub, "hf_hub_download", lambda *args, **kwargs: downloads.append(args) or pytest.fail())
    return downloads


def test_hf_hub_offline_fails_at_once(empty_cache: list[tuple], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.urllib.request, "urlopen", lambda *args, **kwargs: pytest.fail("probed the network"))
    with pytest.raises(WeightsError) as caught:
        build_encoder(NAME, pretrained=True, kwargs=KWARGS)
    assert str(caught.value) == (
        f"model.pretrained: the weights of {NAME!r} (Hugging Face repo timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k)"
        f" are not in the local cache and HF_HUB_OFFLINE is set; {HINT}")
    assert empty_cache == []


def test_no_network_fails_at_once_naming_the_reason(empty_cache: list[tuple], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*_args: object, **_kwargs: object) -> None:  # what urllib raises without a network
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub.urllib.request, "urlopen", no_dns)
    start = time.perf_counter()
    with pytest.raises(WeightsError, match=f"not in the local cache and .* cannot be reached .*Name or service not "
                                           f"known.*; {HINT}"):
        build_encoder(NAME, pretrained=True, kwargs=KWARGS)
    assert time.perf_counter() - start < 5 and empty_cache == []


def test_an_answering_hub_is_asked_for_safetensors_first(empty_cache: list[tuple],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def download(repo: str, filename: str, revision: str | None = None) -> str:
        asked.append(filename)
        raise hub.EntryNotFoundError("no such file")

    monkeypatch.setattr(hub, "hub_unreachable", lambda: "")
    monkeypatch.setattr(hub, "hf_hub_download", download)
    with pytest.raises(WeightsError, match="holds none of model.safetensors, pytorch_model.bin"):
        build_encoder(NAME, pretrained=True, kwargs=KWARGS)
    assert asked == ["model.safetensors", "pytorch_model.bin"]


def test_a_cached_file_loads_without_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = timm.create_model(NAME, num_classes=1000, **KWARGS)
    cached = tmp_path / "model.safetensors"
    from safetensors.torch import save_file

    save_file(source.state_dict(), str(cached))
    asked: list[tuple] = []
    monkeypatch.setattr(hub, "try_to_load_from_cache",
                        lambda repo, filename, revision=None: asked.append((repo, filename)) or str(cached))
    monkeypatch.setattr(hub, "hub_unreachable", lambda: pytest.fail("checked the network"))
    encoder = build_encoder(NAME, pretrained=True, kwargs=KWARGS)
    assert asked == [("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", "model.safetensors")]
    assert encoder.weights is not None and encoder.weights.source == str(cached)
    assert encoder.weights.tensors == len(source.state_dict()) - 2  # all but the 1000-class head
    assert torch.equal(encoder.vit.blocks[2].mlp.fc1.weight, source.blocks[2].mlp.fc1.weight)


def test_a_model_without_hub_weights_says_so() -> None:
    vit = timm.create_model(NAME, num_classes=0, **KWARGS)
    vit.pretrained_cfg = {}
    with pytest.raises(WeightsError, match=f"timm has no Hugging Face weights for 'custom'; {HINT}"):
        hub.pretrained_file(vit, "custom")


def test_seco_train_offline_prints_one_line_and_no_traceback(synthetic_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9",
           "PYTHONWARNINGS": "ignore",  # dependencies' own import-time deprecation notes are not our output
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    overrides = [*tiny_overrides(synthetic_root, tmp_path / "run"), "model.pretrained=true", "model.conv_stem=false"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seco.cli", "train", "--config", "synthetic", *overrides],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    notices = [line for line in done.stderr.splitlines() if " overrides fidelity " in line]  # tiny_overrides' own
    assert [line for line in done.stderr.strip().splitlines() if line not in notices] == [
        "seco train: error: model.pretrained: the weights of 'vit_tiny_patch16_224' (Hugging Face repo "
        "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k) are not in the local cache and HF_HUB_OFFLINE is set; "
        f"{HINT}"]
    assert time.perf_counter() - start < 60
