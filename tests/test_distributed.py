"""Two processes under torchrun (gloo on the CPU): DDP training and sharded evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from seco.engine.checkpoint import Checkpoint
from support import tiny_overrides


def test_torchrun_two_processes_train_and_evaluate(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "seco.cli", "train", *tiny_overrides(synthetic_root, out, iterations=2),
           "train.device=cpu", "eval.num_overlays=0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    state = Checkpoint.load(out / "last.pt")
    assert state.iteration == 2
    assert all(torch.isfinite(v).all() for v in state.model.values() if v.is_floating_point())
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["meta"]["images"] == 8  # both shards of the val split are counted once
    total = sum(sum(row) for row in doc["results"]["seg"]["confusion_matrix"])
    assert total == doc["results"]["seg"]["num_pixels"] > 0


def test_reservoir_and_prototypes_are_global_under_torchrun(synthetic_root: Path, tmp_path: Path) -> None:
    """Each rank decomposes its own images; after gathering, both hold the same reservoir and prototypes."""
    probe = Path(__file__).with_name("ddp_state_probe.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(probe),
           str(tmp_path), *tiny_overrides(synthetic_root, tmp_path / "run", iterations=3)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys() and "reservoir.keys" in rank0
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    per_step = 2 * 4 * (4 + 2)  # 2 ranks x batch 4 x (patches + global views)
    assert int(rank0["reservoir.filled"]) == min(3 * per_step, 48)
    assert bool(rank0["prototypes.initialised"].any())
