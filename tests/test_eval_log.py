"""Evaluations during training go to TensorBoard and change nothing that training computes."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seco.config import Config, apply_overrides
from seco.engine.checkpoint import Checkpoint
from seco.engine.train import train
from seco.evaluation.eval_log import untouched_training
from seco.evaluation.run_report import OVERLAYS
from support import tensorboard_events


def test_the_same_seed_gives_the_same_weights_with_and_without_evaluations(tiny_cfg: Config, tmp_path: Path) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.iterations=4", "train.ckpt_every=4"])
    plain = dataclasses.replace(cfg, out_dir=str(tmp_path / "plain"))
    watched = dataclasses.replace(apply_overrides(cfg, ["train.eval_every=1"]), out_dir=str(tmp_path / "watched"))
    train(plain, progress=False)
    train(watched, progress=False)
    a, b = (Checkpoint.load(Path(c.out_dir) / "last.pt").to_dict() for c in (plain, watched))
    for part in ("model", "state"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    for generator in ("torch", "generator"):  # the global RNG and the loop's: no draw taken by an evaluation
        assert torch.equal(a["rng"][generator], b["rng"][generator]), generator
    for key, value in a["optimizer"]["state"].items():
        assert all(torch.equal(value[k], b["optimizer"]["state"][key][k]) for k in value)

    scalars, images = tensorboard_events(Path(watched.out_dir) / "tb")
    steps = [1, 2, 3]  # every iteration but the last: the evaluation that follows training logs that one
    for output in ("cam", "mask", "seg"):
        assert scalars[f"val/{output}_miou"] == steps
    assert [step for step, _, _ in images["val/overlays"]] == steps
    assert all(h > 100 and w > 100 for _, h, w in images["val/overlays"])
    assert "stats/tag_agreement_gt" in scalars  # the contrast diagnostics, as before
    plain_scalars, plain_images = tensorboard_events(Path(plain.out_dir) / "tb")
    assert not plain_images and not any(tag.startswith("val/") for tag in plain_scalars)


def test_untouched_training_puts_back_every_generator_and_the_mode() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()

    def draws() -> tuple[float, float, float]:
        return torch.rand(1).item(), random.random(), float(np.random.rand())

    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    expected = draws()
    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    with untouched_training(net):
        net.eval()
        draws()
        torch.utils.data.DataLoader(range(4)).__iter__()  # a loader draws its base seed from the global RNG
    assert draws() == expected
    assert net.training and net[1].training


def test_seco_train_logs_its_final_evaluation_at_the_last_iteration(tiny_cfg: Config) -> None:
    from seco.commands import _train_and_report

    _train_and_report(apply_overrides(tiny_cfg, ["train.iterations=2"]), fresh=True)
    scalars, images = tensorboard_events(Path(tiny_cfg.out_dir) / "tb")
    assert {tag: scalars[tag] for tag in ("val/cam_miou", "val/mask_miou", "val/seg_miou")} == {
        "val/cam_miou": [2], "val/mask_miou": [2], "val/seg_miou": [2]}
    assert [step for step, _, _ in images["val/overlays"]] == [2]
    with Image.open(Path(tiny_cfg.out_dir) / OVERLAYS) as grid:  # the report's grid, logged as drawn there
        assert images["val/overlays"][0][1:] == (grid.height, grid.width)
