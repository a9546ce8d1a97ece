"""Pretraining metrics: the set accuracy and the CAM measurements on a hand-made batch."""

from __future__ import annotations

import pytest
import torch

from seco.config import load_config
from seco.model import build_model
from seco.pretrain.evaluate import evaluate_pretraining, set_accuracy
from support import TINY_MODEL


def test_set_accuracy_counts_rows_whose_top_n_are_the_labels() -> None:
    logits = torch.tensor([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [0.1, 0.3, 0.2]])
    labels = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert set_accuracy(logits, labels) == pytest.approx(0.75)


def test_evaluation_measures_labels_cams_and_context_shares() -> None:
    net = build_model(load_config("synthetic", TINY_MODEL).model, num_classes=4)
    torch.manual_seed(0)
    mask = torch.zeros(2, 32, 32, dtype=torch.uint8)
    mask[0, 4:12, 4:12], mask[1, 20:30, 2:12], mask[1, 2:10, 20:30] = 1, 2, 3
    context = torch.zeros(2, 32, 32, dtype=torch.uint8)
    context[:, 16:, :] = 1
    context[mask > 0] = 0
    batch = {"image": torch.rand(2, 3, 32, 32), "labels": torch.tensor([[1.0, 0, 0], [0, 1.0, 1.0]]),
             "mask": mask, "context": context}
    names, contexts = ["background", "a", "b", "c"], ["none", "water"]
    result = evaluate_pretraining(net, [batch], names, contexts, bkg_thr=0.45)
    assert result["images"] == 2 and 0.0 <= result["accuracy"] <= 1.0
    assert result["single_accuracy"] in (0.0, 1.0)
    assert 0.0 <= result["cam_miou"] <= 1.0 and 0.0 <= result["aux_cam_miou"] <= 1.0
    assert set(result["cam_on_context"]) == {"plain", "water"}
    assert all(0.0 <= v <= 1.0 for v in result["cam_on_context"].values())
    assert net.training  # left as it was found
    everything = evaluate_pretraining(net, [batch], names, contexts, bkg_thr=-1.0)
    assert everything["cam_on_context"] == {"plain": 1.0, "water": 1.0}  # a background score below every CAM
