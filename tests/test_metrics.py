"""Confusion matrix, per-class metrics and co-occurrence rows, checked against hand counts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.distributed as dist

from seco.evaluation.metrics import (
    ConfusionMatrix,
    ContextFalsePositives,
    cooccurrence_table,
    segmentation_metrics,
)

NAMES = ["background", "boat", "horse", "person", "cat"]
# rows = ground truth, cols = prediction. horse: predicted 5x, never in GT (TP 0, FP 5: FP/TP = inf);
# cat: absent from both (IoU undefined, left out of the mIoU).
HAND = np.array(
    [
        [50, 10, 0, 0, 0],
        [5, 20, 5, 0, 0],
        [0, 0, 0, 0, 0],
        [2, 0, 0, 8, 0],
        [0, 0, 0, 0, 0],
    ]
)


def pixels_from(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (pred, target) pixel arrays realising a confusion matrix."""
    gt, pred = np.nonzero(matrix)
    counts = matrix[gt, pred]
    return np.repeat(pred, counts), np.repeat(gt, counts)


def test_update_counts_pixels_rows_gt_cols_pred() -> None:
    pred, target = pixels_from(HAND)
    cm = ConfusionMatrix(len(NAMES)).update(pred.reshape(10, 10), target.reshape(10, 10))
    assert cm.matrix.dtype == torch.int64
    assert np.array_equal(cm.matrix.numpy(), HAND)


def test_update_accepts_tensors_and_skips_ignore() -> None:
    target = torch.tensor([[0, 1, 255], [2, 255, 1]], dtype=torch.uint8)
    pred = torch.tensor([[0, 2, 2], [2, 1, 1]])
    cm = ConfusionMatrix(3).update(pred, target)
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_out_of_range_values_raise_naming_the_value() -> None:
    with pytest.raises(ValueError, match="prediction value 7"):
        ConfusionMatrix(3).update(np.array([0, 7]), np.array([0, 1]))
    with pytest.raises(ValueError, match="target value 4"):
        ConfusionMatrix(3).update(np.array([0, 1]), np.array([4, 1]))
    with pytest.raises(ValueError, match="shapes differ"):
        ConfusionMatrix(3).update(np.zeros((2, 2)), np.zeros(4))


def test_prediction_under_ignored_target_is_not_checked() -> None:
    cm = ConfusionMatrix(2).update(np.array([255, 1]), np.array([255, 1]))
    assert cm.matrix.tolist() == [[0, 0], [0, 1]]


def test_merge_add_and_state_round_trip() -> None:
    a = ConfusionMatrix(3).update(np.array([0, 1]), np.array([0, 2]))
    b = ConfusionMatrix(3).update(np.array([2, 2]), np.array([2, 2]))
    total = a + b
    assert total.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 2]]
    assert a.matrix.sum() == 2  # + leaves its operands alone
    a.merge(b)
    assert torch.equal(a.matrix, total.matrix)
    state = json.loads(json.dumps(total.state_dict()))
    assert torch.equal(ConfusionMatrix.from_state(state).matrix, total.matrix)
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(ConfusionMatrix(4))


def test_all_reduce_in_a_single_process_group(tmp_path) -> None:
    cm = ConfusionMatrix(2).update(np.array([0, 1, 1]), np.array([0, 1, 0]))
    before = cm.matrix.clone()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        cm.all_reduce_()
    finally:
        dist.destroy_process_group()
    assert torch.equal(cm.matrix, before)


def test_metrics_match_hand_computation() -> None:
    m = segmentation_metrics(torch.from_numpy(HAND), NAMES)
    pc = m["per_class"]
    assert pc["background"]["iou"] == pytest.approx(50 / 67)
    assert pc["background"]["precision"] == pytest.approx(50 / 57)
    assert pc["background"]["recall"] == pytest.approx(50 / 60)
    assert pc["background"]["fp_tp"] == pytest.approx(7 / 50)
    assert pc["boat"] == {
        "iou": 0.5,
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "fp_tp": 0.5,
        "fp_tp_infinite": False,
        "tp": 20,
        "fp": 10,
        "fn": 10,
        "gt_pixels": 30,
        "pred_pixels": 30,
    }
    assert (pc["person"]["iou"], pc["person"]["precision"], pc["person"]["fp_tp"]) == (0.8, 1.0, 0.0)
    assert m["miou"] == pytest.approx((50 / 67 + 0.5 + 0.0 + 0.8) / 4)
    assert m["miou_classes"] == 4
    assert m["pixel_accuracy"] == pytest.approx(0.78)
    assert m["mean_precision"] == pytest.approx((50 / 57 + 2 / 3 + 0.0 + 1.0) / 4)
    assert m["mean_recall"] == pytest.approx((50 / 60 + 2 / 3 + 0.8) / 3)
    assert m["confusion_ratio_mean"] == pytest.approx((7 / 50 + 0.5 + 0.0) / 3)
    assert m["confusion_ratio_fg_pooled"] == pytest.approx(15 / 28)
    assert m["confusion_matrix"] == HAND.tolist()


def test_absent_class_is_null_and_left_out_of_the_mean() -> None:
    cat = segmentation_metrics(HAND, NAMES)["per_class"]["cat"]
    assert cat["iou"] is None and cat["precision"] is None and cat["recall"] is None
    assert cat["fp_tp"] is None and cat["fp_tp_infinite"] is False


def test_infinite_confusion_ratio_is_null_with_a_flag() -> None:
    m = segmentation_metrics(HAND, NAMES)
    horse = m["per_class"]["horse"]
    assert horse["iou"] == 0.0 and horse["recall"] is None
    assert horse["fp_tp"] is None and horse["fp_tp_infinite"] is True
    assert m["confusion_ratio_infinite"] == ["horse"]
    pooled = segmentation_metrics(np.array([[5, 3], [0, 0]]), ["background", "boat"])
    assert pooled["confusion_ratio_fg_pooled"] is None and pooled["confusion_ratio_fg_pooled_infinite"]


def test_metrics_are_strict_json() -> None:
    m = segmentation_metrics(HAND, NAMES)
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    empty = segmentation_metrics(np.zeros((2, 2), dtype=np.int64), ["a", "b"])
    assert empty["miou"] is None and empty["pixel_accuracy"] is None
    json.dumps(empty, allow_nan=False)


def test_metrics_reject_bad_names() -> None:
    with pytest.raises(ValueError, match="does not match 3 class names"):
        segmentation_metrics(HAND, NAMES[:3])
    with pytest.raises(ValueError, match="not unique"):
        segmentation_metrics(np.eye(2, dtype=np.int64), ["a", "a"])


def test_cooccurrence_rows_and_context_share() -> None:
    m = segmentation_metrics(HAND, NAMES)
    rows = cooccurrence_table(m, [("boat", "water"), ("boat", "background"), ("horse", "boat")])
    assert [r["label"] for r in rows] == ["boat w/(water)", "boat w/(background)", "horse w/(boat)"]
    assert (rows[0]["iou"], rows[0]["fp_tp"]) == (0.5, 0.5)
    assert rows[0]["context_fp_fraction"] is None  # water is no class and no context counts given
    assert rows[1]["context_fp_fraction"] == 1.0  # all 10 boat FP lie on background
    assert rows[2]["context_fp_fraction"] == 1.0 and rows[2]["fp_tp_infinite"]
    given = cooccurrence_table(m, [("boat", "water")], context_fp={"boat": {"water": 0.25}})
    assert given[0]["context_fp_fraction"] == 0.25
    json.dumps(rows, allow_nan=False)


def test_cooccurrence_unknown_class_names_raise() -> None:
    with pytest.raises(ValueError, match=r"\['train', 'zebra'\]"):
        cooccurrence_table(segmentation_metrics(HAND, NAMES), [("zebra", "water"), ("train", "rails")])


def test_context_false_positives_counts_where_fp_land() -> None:
    # classes: 0 background, 1 boat; contexts: 0 water, 1 sky, 255 none
    target = np.array([[0, 0, 0, 1], [0, 0, 255, 1]])
    pred = np.array([[1, 1, 1, 1], [1, 0, 1, 0]])
    context = np.array([[0, 0, 1, 255], [255, 0, 0, 0]])
    acc = ContextFalsePositives(num_classes=2, num_contexts=2).update(pred, target, context)
    assert acc.fp_total.tolist() == [1, 4]
    assert acc.counts.tolist() == [[1, 0], [2, 1]]
    assert acc.fraction(1, 0) == 0.5 and acc.fraction(0, 1) == 0.0
    assert acc.to_dict(["background", "boat"], ["water", "sky"])["boat"] == {"water": 0.5, "sky": 0.25}
    assert math.isclose(sum(acc.to_dict(["b", "x"], ["w", "s"])["x"].values()), 0.75)
