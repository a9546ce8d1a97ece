"""Checkpoint files: every unreadable kind gets its own reason, and weights that do not fit name the entries."""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from seco.engine.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint


class Foreign:
    """A class torch's weights-only loader refuses."""


def _refused(path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
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
    save_checkpoint({"weights": torch.ones(2)}, tmp_path / "w.pt")
    assert "not a seco checkpoint" in _refused(tmp_path / "w.pt")


def test_weights_that_do_not_fit_name_entries_and_advice() -> None:
    net = nn.Sequential(OrderedDict(encoder=nn.Linear(4, 8), head=nn.Linear(8, 3)))
    stored = nn.Sequential(OrderedDict(encoder=nn.Linear(4, 8), head=nn.Linear(8, 5))).state_dict()
    with pytest.raises(CheckpointError, match=r"ckpt\.pt does not fit the model: head\.weight: \(5, 8\) stored, "
                                              r"\(3, 8\) expected.*drop --config"):
        load_weights(net, stored, "ckpt.pt", "drop --config")
    load_weights(net, net.state_dict(), "ckpt.pt", "")
