"""Checkpoint files: both kinds load (also as written before ``kind``), every unreadable file gets its own reason,
weights that do not fit name the entries, and one resume rule refuses in one line."""

from __future__ import annotations

import dataclasses
import io
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from seco.config import ConfigError, apply_overrides, load_config, to_dict
from seco.engine.checkpoint import Checkpoint, CheckpointError, load_weights
from seco.engine.resume import ResumeRefused
from seco.engine.train import RESUME as TRAIN_RESUME
from seco.pretrain.settings import PretrainSettings
from seco.pretrain.train import RESUME as PRETRAIN_RESUME


class Foreign:
    """A class torch's weights-only loader refuses."""


def _refused(path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        Checkpoint.load(path)
    message = str(caught.value)
    assert str(path) in message and "weights_only=False" not in message
    return message


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "last.pt").touch()
    assert "empty (0 bytes)" in _refused(tmp_path / "last.pt")


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "last.pt").write_bytes(os.urandom(2000))
    assert "not a PyTorch checkpoint" in _refused(tmp_path / "last.pt")


def test_truncated_checkpoint(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.ones(100)}, "config": {}}, buffer)
    (tmp_path / "last.pt").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert "damaged" in _refused(tmp_path / "last.pt")


def test_a_pickled_object_is_refused_not_loaded(tmp_path: Path) -> None:
    torch.save({"model": {}, "config": {}, "extra": Foreign()}, tmp_path / "last.pt")
    assert "weights_only=True and refuses it" in _refused(tmp_path / "last.pt")


def test_a_plain_tensor_file_is_not_a_seco_checkpoint(tmp_path: Path) -> None:
    torch.save({"weights": torch.ones(2)}, tmp_path / "w.pt")
    assert "not a seco checkpoint" in _refused(tmp_path / "w.pt")


def test_weights_that_do_not_fit_name_entries_and_advice() -> None:
    net = nn.Sequential(OrderedDict(encoder=nn.Linear(4, 8), head=nn.Linear(8, 3)))
    stored = nn.Sequential(OrderedDict(encoder=nn.Linear(4, 8), head=nn.Linear(8, 5))).state_dict()
    with pytest.raises(CheckpointError, match=r"ckpt\.pt does not fit the model: head\.weight: \(5, 8\) stored, "
                                              r"\(3, 8\) expected.*drop --config"):
        load_weights(net, stored, "ckpt.pt", "drop --config")
    load_weights(net, net.state_dict(), "ckpt.pt", "")


def _equal(a: Any, b: Any) -> bool:
    """Nested dicts, lists, tensors and plain values that are equal throughout."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


def _train_layout() -> dict:
    """A checkpoint dict as engine/train.py wrote it before the ``kind`` entry."""
    optimizer = torch.optim.AdamW(nn.Linear(2, 2).parameters())
    return {"model": {"w": torch.ones(2)}, "state": {"reservoir.filled": torch.tensor(3)},
            "optimizer": optimizer.state_dict(), "iteration": 7,
            "rng": {"torch": torch.get_rng_state(), "generator": torch.Generator().get_state()},
            "config": to_dict(load_config("synthetic")), "class_names": ["background", "a"], "version": "0.1.0"}


def _pretrain_layout() -> dict:
    """A checkpoint dict as seco pretrain wrote it before the ``kind`` entry (without --cls-weight)."""
    optimizer = torch.optim.AdamW(nn.Linear(2, 2).parameters())
    return {"model": {"w": torch.ones(2)}, "cls_head": None, "optimizer": optimizer.state_dict(), "iteration": 4,
            "config": to_dict(load_config("synthetic")), "settings": dataclasses.asdict(PretrainSettings()),
            "rng": torch.get_rng_state()}


@pytest.mark.parametrize(("layout", "kind"), [(_train_layout, "train"), (_pretrain_layout, "pretrain")])
def test_files_written_before_kind_load_as_their_kind_and_save_back_the_same(
        tmp_path: Path, layout: Callable[[], dict], kind: str) -> None:
    old = layout()
    torch.save(old, tmp_path / "last.pt")
    ckpt = Checkpoint.load(tmp_path / "last.pt")
    assert ckpt.kind == kind and ckpt.iteration == old["iteration"] and ckpt.config == old["config"]
    ckpt.save(tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    assert again.keys() == {*old, "kind"}  # the same entries, plus the kind
    assert _equal(again, {**old, "kind": kind})


def test_an_inference_only_checkpoint_loads() -> None:
    ckpt = Checkpoint.from_dict({"model": {}, "config": {}, "class_names": ["background", "a"], "iteration": 0})
    assert ckpt.kind == "train" and ckpt.state == {} and ckpt.optimizer == {}


def test_an_unknown_kind_or_missing_entries_are_refused() -> None:
    with pytest.raises(CheckpointError, match="kind 'distill', which seco does not know"):
        Checkpoint.from_dict({"kind": "distill", "model": {}, "config": {}}, "x.pt")
    with pytest.raises(CheckpointError, match=r"x\.pt is not a seco checkpoint \(no class_names entries\)"):
        Checkpoint.from_dict({"model": {}, "config": {}}, "x.pt")


def test_each_loop_refuses_the_other_loops_checkpoint(tmp_path: Path) -> None:
    cfg = load_config("synthetic")
    trained, pretrained = Checkpoint.from_dict(_train_layout()), Checkpoint.from_dict(_pretrain_layout())
    with pytest.raises(CheckpointError, match=r"last\.pt is a pretraining checkpoint, not a training one; set out_dir"):
        TRAIN_RESUME.check(pretrained, tmp_path / "last.pt", cfg)
    with pytest.raises(CheckpointError, match=r"last\.pt is a training checkpoint, not a pretraining one; use another"):
        PRETRAIN_RESUME.check(trained, tmp_path / "last.pt", cfg, PretrainSettings())


def test_one_resume_rule_names_every_changed_key_and_the_flag_that_allows_it(tmp_path: Path) -> None:
    cfg, path = load_config("synthetic"), tmp_path / "last.pt"
    trained = Checkpoint.from_dict(_train_layout())
    TRAIN_RESUME.check(trained, path, apply_overrides(cfg, ["train.threads=3", "eval.crf=true"]))  # where or how fast
    changed = apply_overrides(cfg, ["train.lr=0.5", "seed=3"])
    with pytest.raises(ResumeRefused) as refused:
        TRAIN_RESUME.check(trained, path, changed)
    assert str(refused.value) == (
        f"{path} was trained with another config: seed ({cfg.seed!r} -> 3), train.lr ({cfg.train.lr!r} -> 0.5); pass "
        "--allow-config-change to resume with the new values, --fresh to start over, or set out_dir to a new folder")
    assert isinstance(refused.value, ConfigError) and isinstance(refused.value, CheckpointError)
    TRAIN_RESUME.check(trained, path, changed, allow_change=True)

    pretrained = Checkpoint.from_dict(_pretrain_layout())
    PRETRAIN_RESUME.check(pretrained, path, apply_overrides(cfg, ["train.lr=0.5"]), PretrainSettings(threads=4))
    with pytest.raises(ResumeRefused, match=r"config: seed \(\d+ -> 3\), --lr \(0\.001 -> 0\.01\); pass --fresh to "
                                            r"start over, or use another --run-dir$"):  # no flag resumes it anyway
        PRETRAIN_RESUME.check(pretrained, path, apply_overrides(cfg, ["seed=3"]), PretrainSettings(lr=0.01), True)
    del pretrained.settings["cls_weight"]  # a key an older checkpoint lacks had its default then
    PRETRAIN_RESUME.check(pretrained, path, cfg, PretrainSettings())


def test_a_pretraining_checkpoint_is_no_trained_network(tmp_path: Path) -> None:
    from seco.evaluation.trained import load_trained

    torch.save(_pretrain_layout(), tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"last\.pt is a pretraining checkpoint, not a trained network"):
        load_trained(tmp_path / "last.pt")
