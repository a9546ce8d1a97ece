"""A few training steps of the tiny model: finite losses, moving weights, checkpoints, exact resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from seco.config import Config, apply_overrides
from seco.engine.checkpoint import load_checkpoint
from seco.engine.train import NonFiniteLossError, train


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_training_writes_a_checkpoint_that_loads_with_weights_only(tiny_cfg: Config) -> None:
    torch.manual_seed(123)
    from seco.engine.train import build_training

    initial = build_training(tiny_cfg, torch.device("cpu"), 10, ["bg"] * 10).net.state_dict()
    result = train(tiny_cfg, progress=False)
    state = load_checkpoint(result.checkpoint)
    assert state["iteration"] == tiny_cfg.train.iterations
    assert (Path(tiny_cfg.out_dir) / "config.yaml").is_file()
    assert any((Path(tiny_cfg.out_dir) / "tb").iterdir())
    moved = [k for k, v in state["model"].items() if v.is_floating_point() and not torch.equal(v, initial[k])]
    assert len(moved) > 10
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert int(state["state"]["reservoir.filled"]) > 0
    assert bool(state["state"]["prototypes.initialised"].any())


def test_resume_continues_exactly_where_it_stopped(
    tiny_cfg: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.iterations=4", "train.ckpt_every=2"])
    straight = dataclasses.replace(cfg, out_dir=str(tmp_path / "straight"))
    resumed = dataclasses.replace(cfg, out_dir=str(tmp_path / "resumed"))
    train(straight, progress=False)

    import seco.engine.train as train_module

    real_step, calls = train_module.seco_step, []

    def crash_at_iteration_2(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "seco_step", crash_at_iteration_2)
    with pytest.raises(KeyboardInterrupt):
        train(resumed, progress=False)
    assert load_checkpoint(Path(resumed.out_dir) / "last.pt")["iteration"] == 2
    monkeypatch.setattr(train_module, "seco_step", real_step)
    train(resumed, progress=False)

    a, b = (load_checkpoint(Path(c.out_dir) / "last.pt") for c in (straight, resumed))
    for part in ("model", "state"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"


def test_non_finite_loss_names_the_images_and_keeps_the_checkpoint(
    tiny_cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(tiny_cfg, progress=False)
    last = Path(tiny_cfg.out_dir) / "last.pt"
    before = last.read_bytes()
    import seco.method.losses.cls as cls_module
    import seco.method.step as step_module

    def broken(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return cls_module.classification_loss(logits, labels) * float("nan")

    monkeypatch.setattr(step_module, "classification_loss", broken)
    longer = apply_overrides(tiny_cfg, ["train.iterations=6"])
    with pytest.raises(NonFiniteLossError, match=r"iteration 3 .*cls=nan.* on images "):
        train(longer, progress=False)
    assert last.read_bytes() == before


def test_the_run_records_the_backbone_file_its_sha256_and_tensor_count(
    tiny_cfg: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib
    import logging

    import timm

    from seco.config import load_config
    from seco.model.backbone import ConvStemPatchEmbed

    model = tiny_cfg.model
    vit = timm.create_model(model.name, num_classes=0, embed_layer=ConvStemPatchEmbed, **model.kwargs)
    path = tmp_path / "backbone.pth"
    torch.save(vit.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cfg = apply_overrides(tiny_cfg, [f"model.weights={path}", "train.iterations=1"])
    with caplog.at_level(logging.INFO, logger="seco"):
        train(cfg, progress=False)
    assert f"backbone weights: {len(vit.state_dict())} tensors from {path} (sha256 {digest})" in caplog.messages
    saved = load_config(str(Path(cfg.out_dir) / "config.yaml"))
    assert (saved.model.weights, saved.model.weights_sha256) == (str(path), digest)
    assert saved.model.weights_tensors == len(vit.state_dict())
    assert load_checkpoint(Path(cfg.out_dir) / "last.pt")["config"]["model"]["weights_sha256"] == digest
    path.write_bytes(path.read_bytes() + b"\0")  # the saved config re-runs only on the same file
    with pytest.raises(ValueError, match="model.weights_sha256: .* has sha256"):
        train(dataclasses.replace(saved, out_dir=str(tmp_path / "again")), progress=False)
