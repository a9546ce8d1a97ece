"""The fully supervised counterpart (train.supervision=full): which losses run, what they learn from,
and a clear refusal of a data set without masks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seco.cli import main
from seco.config import Config, ConfigError, apply_overrides
from seco.data import build_dataset
from seco.engine.loader import TrainStream
from seco.engine.train import build_training
from seco.labels import IGNORE_INDEX
from seco.method.supervised import supervised_step
from support import TINY_MODEL


def _training(cfg: Config):
    data = build_dataset(cfg.data, "train", train=True, global_view=cfg.train.supervision == "weak")
    run = build_training(cfg, torch.device("cpu"), data.num_classes, list(data.class_names))
    batch = next(TrainStream(data, cfg.train.batch_size, cfg.seed).iterate(0))
    return run, batch


def test_the_switch_changes_which_losses_run(tiny_cfg: Config) -> None:
    weak_run, batch = _training(tiny_cfg)
    weak = weak_run.step(weak_run.net, batch, iteration=5)
    assert set(weak.terms) == {"cls", "aux", "ptc", "lig", "lil", "seg", "reg"}

    full_run, batch = _training(apply_overrides(tiny_cfg, ["train.supervision=full"]))
    full = full_run.step(full_run.net, batch, iteration=5)
    assert set(full.terms) == {"seg"}
    assert full_run.guard.check() == pytest.approx(float(full.terms["seg"].detach()))
    assert full_run.method.state_dict() == {}  # no local teacher, reservoir or prototypes


def test_full_supervision_learns_the_ground_truth_mask_only(tiny_cfg: Config) -> None:
    run, batch = _training(apply_overrides(tiny_cfg, ["train.supervision=full"]))
    mask = batch["mask"].clone()
    mask[:, :8] = IGNORE_INDEX  # ignored rows must not count
    batch["mask"] = mask
    out = supervised_step(run.net, batch)
    logits = F.interpolate(run.net.segment(batch["image"]), size=mask.shape[-2:], mode="bilinear",
                           align_corners=False)
    assert torch.allclose(out.loss, F.cross_entropy(logits, mask, ignore_index=IGNORE_INDEX), atol=1e-5)
    out.loss.backward()
    assert next(run.net.seg_head.parameters()).grad.abs().sum() > 0
    assert run.net.classifier.conv.weight.grad is None  # no classification loss
    assert run.net.projector.mlp[0].weight.grad is None
    batch["mask"] = torch.full_like(mask, IGNORE_INDEX)
    assert torch.isfinite(supervised_step(run.net, batch).loss)


def test_unknown_supervision_is_a_config_error(tiny_cfg: Config) -> None:
    with pytest.raises(ConfigError, match="train.supervision"):
        apply_overrides(tiny_cfg, ["train.supervision=partial"])


def test_full_supervision_without_masks_fails_before_training(voc_root: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    shutil.rmtree(voc_root / "SegmentationClass")
    (voc_root / "labels.json").write_text(json.dumps({"a": ["person", "dog"], "b": ["aeroplane"]}))
    out = tmp_path / "run"
    args = ["train", "--config", "synthetic", "data.format=voc", f"data.root={voc_root}",
            "data.labels_file=labels.json", "train.supervision=full", f"out_dir={out}", *TINY_MODEL]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "train.supervision=full" in err and "2 of 2 images" in err and "'a'" in err and str(voc_root) in err
    assert not (out / "last.pt").exists()
