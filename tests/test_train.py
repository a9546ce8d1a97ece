"""A few training steps of the tiny model: finite losses, moving weights, checkpoints, exact resume."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from seco.config import Config, ConfigError, apply_overrides
from seco.data import DataError, build_dataset
from seco.data.collate import train_collate
from seco.engine.checkpoint import Checkpoint, CheckpointError
from seco.engine.loader import TrainStream
from seco.engine.train import NonFiniteLossError, TrainingInterrupted, train
from seco.method.seco import SeCoMethod


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return Checkpoint.load(path).model


def test_training_writes_a_checkpoint_that_loads_with_weights_only(tiny_cfg: Config) -> None:
    torch.manual_seed(123)
    from seco.engine.train import build_training

    initial = build_training(tiny_cfg, torch.device("cpu"), 10, ["bg"] * 10).net.state_dict()
    result = train(tiny_cfg, progress=False)
    state = Checkpoint.load(result.checkpoint)
    assert state.kind == "train" and state.iteration == tiny_cfg.train.iterations
    assert (Path(tiny_cfg.out_dir) / "config.yaml").is_file()
    assert any((Path(tiny_cfg.out_dir) / "tb").iterdir())
    moved = [k for k, v in state.model.items() if v.is_floating_point() and not torch.equal(v, initial[k])]
    assert len(moved) > 10
    assert all(torch.isfinite(v).all() for v in state.model.values() if v.is_floating_point())
    assert int(state.state["reservoir.filled"]) > 0
    assert bool(state.state["prototypes.initialised"].any())


def test_resume_continues_exactly_where_it_stopped(
    tiny_cfg: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.iterations=4", "train.ckpt_every=2"])
    straight = dataclasses.replace(cfg, out_dir=str(tmp_path / "straight"))
    resumed = dataclasses.replace(cfg, out_dir=str(tmp_path / "resumed"))
    train(straight, progress=False)

    real_step, calls = SeCoMethod.step, []

    def crash_at_iteration_2(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(SeCoMethod, "step", crash_at_iteration_2)
    with pytest.raises(KeyboardInterrupt):
        train(resumed, progress=False)
    assert Checkpoint.load(Path(resumed.out_dir) / "last.pt").iteration == 2
    monkeypatch.setattr(SeCoMethod, "step", real_step)
    train(resumed, progress=False)

    a, b = (Checkpoint.load(Path(c.out_dir) / "last.pt").to_dict() for c in (straight, resumed))
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
    import seco.method.seco as seco_module

    def broken(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return cls_module.classification_loss(logits, labels) * float("nan")

    monkeypatch.setattr(seco_module, "classification_loss", broken)
    longer = apply_overrides(tiny_cfg, ["train.iterations=6"])
    with pytest.raises(NonFiniteLossError, match=r"iteration 3 .*cls=nan.* on images "):
        train(longer, progress=False, allow_config_change=True)
    assert last.read_bytes() == before


def _stop_with(monkeypatch: pytest.MonkeyPatch, signum: int, at_call: int) -> None:
    """Make the process receive ``signum`` during step number ``at_call`` (1-based) of the next run."""
    real_step, calls = SeCoMethod.step, []

    def signalled(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signum)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(SeCoMethod, "step", signalled)


def test_sigint_checkpoints_the_iteration_reached_and_resume_is_exact(
    tiny_cfg: Config, tiny_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.iterations=2", "train.ckpt_every=100"])  # tiny_run, never periodic
    with monkeypatch.context() as patch:
        _stop_with(patch, signal.SIGINT, at_call=1)
        with pytest.raises(TrainingInterrupted) as stopped:
            train(cfg, progress=False)
    assert (stopped.value.iteration, stopped.value.exit_code) == (1, 130)
    assert "SIGINT at iteration 1 of 2" in str(stopped.value)
    assert Checkpoint.load(Path(cfg.out_dir) / "last.pt").iteration == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert capsys.readouterr().out == "iteration 0: aux, cls, LiG, LiL, PTC on\n"

    result = train(cfg, progress=False)
    assert capsys.readouterr().out == "resuming from iteration 1 of 2\niteration 1: reg, seg on\n"
    assert (result.first_iteration, result.iterations, result.total) == (1, 1, 2)
    a, b = (Checkpoint.load(path).to_dict() for path in (tiny_run / "last.pt", Path(cfg.out_dir) / "last.pt"))
    for part in ("model", "state"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"

    assert train(cfg, progress=False).iterations == 0
    assert "is finished: iteration 2 of 2" in capsys.readouterr().out


def test_resuming_with_a_changed_config_names_the_keys(tiny_cfg: Config, tiny_run: Path) -> None:
    shutil.copytree(tiny_run, tiny_cfg.out_dir)
    changed = apply_overrides(tiny_cfg, ["train.lr=0.5", "train.log_every=7"])  # 3 iterations; tiny_run has 2
    with pytest.raises(ConfigError) as refused:
        train(changed, progress=False)
    message = str(refused.value)
    expected = f"train.iterations (2 -> 3), train.lr ({tiny_cfg.train.lr} -> 0.5)"
    assert f"last.pt was trained with another config: {expected}" in message
    assert "--allow-config-change" in message and "log_every" not in message
    assert train(changed, progress=False, allow_config_change=True).iterations == 1
    other_model = apply_overrides(changed, ["model.proj_dim=16"])
    with pytest.raises(CheckpointError, match=r"last\.pt does not fit the model: .*model\.proj_dim"):
        train(other_model, progress=False, allow_config_change=True)


def test_skip_leaves_a_corrupt_image_out_counts_and_lists_it(
    tiny_cfg: Config, synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = Path(shutil.copytree(synthetic_root, tmp_path / "set"))
    cfg = apply_overrides(tiny_cfg, [f"data.root={root}", "train.iterations=2"])
    dataset = build_dataset(cfg.data, "train", train=True)
    first = next(TrainStream(dataset, cfg.train.batch_size, cfg.seed, collate_fn=train_collate).iterate(0))["name"][0]
    (root / "JPEGImages" / f"{first}.jpg").write_bytes(b"\xff\xd8 truncated")  # in the first batch
    with pytest.raises(DataError, match=f"{first}.jpg"):
        train(cfg, progress=False)
    train(apply_overrides(cfg, ["data.on_error=skip"]), progress=True)
    assert any("skipped=1" in line for line in capsys.readouterr().err.splitlines())  # on the bar
    listed = (Path(cfg.out_dir) / "bad_samples.txt").read_text().splitlines()
    assert len(listed) == 1 and listed[0].startswith(f"{first}\t") and f"{first}.jpg" in listed[0]
    assert Checkpoint.load(Path(cfg.out_dir) / "last.pt").iteration == 2


@pytest.mark.slow
def test_compiled_encoders_train_like_eager_ones(tiny_cfg: Config) -> None:
    """train.compile (covered by benchmarks/train_step.py; about a minute of compilation on a CPU)."""
    from seco.data import build_dataset
    from seco.engine.loader import TrainStream
    from seco.engine.train import build_training

    data = build_dataset(tiny_cfg.data, "train", train=True, global_view=True)
    batch = next(TrainStream(data, tiny_cfg.train.batch_size, tiny_cfg.seed).iterate(0))
    losses = []
    for mode in ("", "default"):
        cfg = apply_overrides(tiny_cfg, [f"train.compile={mode!r}"])
        run = build_training(cfg, torch.device("cpu"), data.num_classes, list(data.class_names))
        losses.append(run.step(run.net, batch, 5).loss.detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-4, atol=1e-5)


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
    assert Checkpoint.load(Path(cfg.out_dir) / "last.pt").config["model"]["weights_sha256"] == digest
    path.write_bytes(path.read_bytes() + b"\0")  # the saved config re-runs only on the same file
    with pytest.raises(ValueError, match="model.weights_sha256: .* has sha256"):
        train(dataclasses.replace(saved, out_dir=str(tmp_path / "again")), progress=False)


def test_the_end_of_training_names_the_classes_lig_never_compared(tiny_cfg: Config,
                                                                  capsys: pytest.CaptureFixture) -> None:
    late = apply_overrides(tiny_cfg, ["train.iterations=2", "method.prototypes.update=per_image",
                                      "method.prototypes.start_iter=5"])
    train(late, progress=False)
    err = capsys.readouterr().err
    assert "warning: LiG never used the prototypes of boat, train, plane, rider, horse, chair, sofa, ball, kite: " \
           "no single-label image of them was seen after iteration 5 (method.prototypes.start_iter)" in err
    public = apply_overrides(late, ["method.prototypes.update=public", f"out_dir={tiny_cfg.out_dir}/public"])
    train(public, progress=False)  # every public prototype starts initialised (from noise)
    assert "warning" not in capsys.readouterr().err
