"""Segmentation metrics: confusion matrix, per-class scores, co-occurrence rows.

Conventions (all written into the metrics dict so a reader never guesses):

- ``matrix[g, p]`` counts pixels of ground-truth class ``g`` predicted as ``p``;
  pixels whose target equals ``ignore_index`` are skipped.
- IoU = TP / (TP + FP + FN), precision = TP / (TP + FP), recall = TP / (TP + FN),
  confusion ratio = FP / TP (paper Table 3, lower is better). Scores are
  fractions in [0, 1]; tables print them in %.
- **mIoU** is the mean IoU over the classes present in the ground truth *or* the
  prediction. A class absent from both has an undefined IoU (0/0): it is
  reported as ``None`` (JSON ``null``) and left out of the mean, so evaluating a
  subset of images that lacks some class does not pull the mean down with
  fake zeros. A class that is predicted but absent from the ground truth has
  IoU 0 and counts.
- **Infinite confusion ratio**: FP / TP with TP = 0 and FP > 0 is +inf. JSON has
  no infinity, so the value is stored as ``None`` together with the flag
  ``fp_tp_infinite = True``; 0/0 is ``None`` with the flag ``False``. No NaN or
  inf ever reaches the metrics dict, which is therefore strict-JSON safe.
- **All-categories confusion ratio**, two flavours with distinct names:
  ``confusion_ratio_mean`` is the mean of the per-class FP/TP over every class
  (background included, like mIoU and the paper's "All Categories" row) whose
  ratio is finite; the classes left out because their ratio is infinite are
  listed in ``confusion_ratio_infinite`` so they are never silently hidden.
  ``confusion_ratio_fg_pooled`` is total FP / total TP summed over the
  foreground classes (all classes but ``background_index``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from seco.labels import IGNORE_INDEX

__all__ = [
    "ConfusionMatrix",
    "ContextFalsePositives",
    "cooccurrence_table",
    "segmentation_metrics",
]

ArrayLike = torch.Tensor | np.ndarray


def _as_index_tensor(values: ArrayLike, device: torch.device) -> torch.Tensor:
    """Return ``values`` as a flat int64 tensor on ``device``."""
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(np.ascontiguousarray(values))
    return values.to(device=device, dtype=torch.int64).reshape(-1)


def _check_range(values: torch.Tensor, upper: int, what: str) -> None:
    """Raise ValueError naming the first value of ``values`` outside ``[0, upper)``."""
    bad = (values < 0) | (values >= upper)
    if bool(bad.any()):
        raise ValueError(f"{what} value {int(values[bad][0])} is outside [0, {upper})")


def _flatten(device: torch.device, **arrays: ArrayLike) -> list[torch.Tensor]:
    """Flatten same-shaped arrays to int64 tensors; a shape mismatch raises ValueError naming the shapes."""
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"shapes differ: {shapes}")
    return [_as_index_tensor(a, device) for a in arrays.values()]


class ConfusionMatrix:
    """Accumulates a ``num_classes x num_classes`` pixel confusion matrix.

    Rows are ground truth, columns are prediction. ``matrix`` is an int64
    tensor on ``device``; it can be summed across processes in place with
    :meth:`all_reduce_` (or ``torch.distributed.all_reduce(cm.matrix)``) and
    across workers with :meth:`merge` or ``+``.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 device: torch.device | str | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros((num_classes, num_classes), dtype=torch.int64, device=device)

    def update(self, pred: ArrayLike, target: ArrayLike) -> ConfusionMatrix:
        """Add one prediction/target pair of any (equal) shape; returns ``self``.

        Pixels whose target is ``ignore_index`` are skipped. Any other target
        or prediction value outside ``[0, num_classes)`` raises ValueError.
        """
        pred_t, target_t = _flatten(self.matrix.device, pred=pred, target=target)
        keep = target_t != self.ignore_index
        pred_t, target_t = pred_t[keep], target_t[keep]
        _check_range(pred_t, self.num_classes, "prediction")
        _check_range(target_t, self.num_classes, "target")
        n = self.num_classes
        self.matrix += torch.bincount(target_t * n + pred_t, minlength=n * n).view(n, n)
        return self

    def _check_compatible(self, other: ConfusionMatrix) -> None:
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError(
                f"cannot merge a {other.num_classes}-class matrix (ignore {other.ignore_index}) into a "
                f"{self.num_classes}-class one (ignore {self.ignore_index})"
            )

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add the counts of ``other`` into ``self`` in place; returns ``self``."""
        self._check_compatible(other)
        self.matrix += other.matrix.to(self.matrix.device)
        return self

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Return a new matrix holding the counts of both operands."""
        total = ConfusionMatrix(self.num_classes, self.ignore_index, self.matrix.device)
        return total.merge(self).merge(other)

    def all_reduce_(self) -> ConfusionMatrix:
        """Sum ``matrix`` over an initialised ``torch.distributed`` group (no-op without one)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.matrix)
        return self

    def state_dict(self) -> dict[str, Any]:
        """A picklable, JSON-safe snapshot of the counts."""
        return {"num_classes": self.num_classes, "ignore_index": self.ignore_index, "matrix": self.matrix.tolist()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ConfusionMatrix:
        """Rebuild a matrix written by :meth:`state_dict`."""
        cm = cls(int(state["num_classes"]), int(state["ignore_index"]))
        cm.matrix = torch.tensor(state["matrix"], dtype=torch.int64).view(cm.num_classes, cm.num_classes)
        return cm


class ContextFalsePositives:
    """Counts where the false positives of each predicted class land.

    ``context_map`` labels every pixel with a context id in
    ``[0, num_contexts)`` (for example water, rails, sky); any other value
    means "no context". ``counts[c, r]`` is the number of pixels predicted as
    class ``c`` whose target is another (non-ignored) class and whose context
    is ``r``; ``fp_total[c]`` counts all false positives of ``c``, with or
    without a context.
    """

    def __init__(self, num_classes: int, num_contexts: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.num_contexts = num_contexts
        self.ignore_index = ignore_index
        self.counts = torch.zeros((num_classes, num_contexts), dtype=torch.int64)
        self.fp_total = torch.zeros(num_classes, dtype=torch.int64)

    def update(self, pred: ArrayLike, target: ArrayLike, context_map: ArrayLike) -> ContextFalsePositives:
        """Add one image; all three arrays share one shape. Returns ``self``."""
        pred_t, target_t, context_t = _flatten(
            self.counts.device, pred=pred, target=target, context_map=context_map
        )
        wrong = (target_t != self.ignore_index) & (pred_t != target_t)
        pred_t, context_t = pred_t[wrong], context_t[wrong]
        _check_range(pred_t, self.num_classes, "prediction")
        self.fp_total += torch.bincount(pred_t, minlength=self.num_classes)
        inside = (context_t >= 0) & (context_t < self.num_contexts)
        flat = pred_t[inside] * self.num_contexts + context_t[inside]
        size = self.num_classes * self.num_contexts
        self.counts += torch.bincount(flat, minlength=size).view(self.num_classes, self.num_contexts)
        return self

    def all_reduce_(self) -> ContextFalsePositives:
        """Sum the counts over an initialised ``torch.distributed`` group (no-op without one)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.counts)
            dist.all_reduce(self.fp_total)
        return self

    def fraction(self, class_id: int, context_id: int) -> float | None:
        """Share of the false positives of ``class_id`` lying on ``context_id`` (None without any FP)."""
        total = int(self.fp_total[class_id])
        return int(self.counts[class_id, context_id]) / total if total else None

    def to_dict(self, class_names: Sequence[str], context_names: Sequence[str]) -> dict[str, dict[str, float | None]]:
        """``{class: {context: fraction}}``, the form :func:`cooccurrence_table` accepts."""
        if len(class_names) != self.num_classes or len(context_names) != self.num_contexts:
            raise ValueError(
                f"got {len(class_names)} class / {len(context_names)} context names for "
                f"{self.num_classes} classes / {self.num_contexts} contexts"
            )
        return {
            name: {ctx: self.fraction(c, r) for r, ctx in enumerate(context_names)}
            for c, name in enumerate(class_names)
        }


def _ratio(num: int, den: int) -> float | None:
    """``num / den`` as a float, or None when the denominator is zero."""
    return num / den if den else None


def _confusion_ratio(fp: int, tp: int) -> tuple[float | None, bool]:
    """FP / TP as ``(value, infinite)``: (None, True) for x/0 with x > 0, (None, False) for 0/0."""
    if tp:
        return fp / tp, False
    return None, fp > 0


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def segmentation_metrics(
    matrix: ArrayLike, class_names: Sequence[str], background_index: int | None = 0
) -> dict[str, Any]:
    """Turn a confusion matrix into a JSON-serialisable metrics dict.

    See the module docstring for the definitions. ``background_index`` names
    the class left out of ``confusion_ratio_fg_pooled`` (None: pool all).
    """
    m = matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    m = m.astype(np.int64)
    k = len(class_names)
    if m.shape != (k, k):
        raise ValueError(f"confusion matrix shape {m.shape} does not match {k} class names")
    if len(set(class_names)) != k:
        raise ValueError(f"class names are not unique: {list(class_names)}")
    tp = np.diag(m)
    gt = m.sum(axis=1)
    pred = m.sum(axis=0)
    fp, fn = pred - tp, gt - tp
    per_class: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(class_names):
        ratio, infinite = _confusion_ratio(int(fp[c]), int(tp[c]))
        per_class[name] = {
            "iou": _ratio(int(tp[c]), int(tp[c] + fp[c] + fn[c])),
            "precision": _ratio(int(tp[c]), int(pred[c])),
            "recall": _ratio(int(tp[c]), int(gt[c])),
            "fp_tp": ratio,
            "fp_tp_infinite": infinite,
            "tp": int(tp[c]),
            "fp": int(fp[c]),
            "fn": int(fn[c]),
            "gt_pixels": int(gt[c]),
            "pred_pixels": int(pred[c]),
        }
    scores = list(per_class.values())
    foreground = [c for c in range(k) if c != background_index]
    pooled, pooled_infinite = _confusion_ratio(int(fp[foreground].sum()), int(tp[foreground].sum()))
    return {
        "class_names": list(class_names),
        "background_index": background_index,
        "num_pixels": int(m.sum()),
        "miou": _mean([s["iou"] for s in scores]),
        "miou_classes": sum(s["iou"] is not None for s in scores),
        "pixel_accuracy": _ratio(int(tp.sum()), int(m.sum())),
        "mean_precision": _mean([s["precision"] for s in scores]),
        "mean_recall": _mean([s["recall"] for s in scores]),
        "confusion_ratio_mean": _mean([s["fp_tp"] for s in scores]),
        "confusion_ratio_infinite": [name for name, s in per_class.items() if s["fp_tp_infinite"]],
        "confusion_ratio_fg_pooled": pooled,
        "confusion_ratio_fg_pooled_infinite": pooled_infinite,
        "per_class": per_class,
        "confusion_matrix": m.tolist(),
    }


def _context_fp_fraction(
    metrics: Mapping[str, Any],
    cls: str,
    context: str,
    context_fp: Mapping[str, Mapping[str, float | None]] | None,
) -> float | None:
    """Share of the FP of ``cls`` that lands on ``context``, when it can be known.

    An explicit ``context_fp`` entry wins; otherwise, when the context is
    itself a class, the share is read from the confusion matrix (FP of ``cls``
    whose ground truth is ``context``).
    """
    if context_fp is not None and context in context_fp.get(cls, {}):
        return context_fp[cls][context]
    names = metrics["class_names"]
    if context not in names:
        return None
    c, r = names.index(cls), names.index(context)
    return _ratio(int(metrics["confusion_matrix"][r][c]), int(metrics["per_class"][cls]["fp"]))


def cooccurrence_table(
    metrics: Mapping[str, Any],
    pairs: Sequence[tuple[str, str]],
    context_fp: Mapping[str, Mapping[str, float | None]] | None = None,
) -> list[dict[str, Any]]:
    """Rows like the paper's Table 3 ("Boat w/(Water)": IoU and FP/TP of the class).

    ``pairs`` are ``(class, context)``; the context may be a class or any other
    region name (e.g. "water", part of the background). Each row is about the
    class; ``context_fp_fraction`` is the share of its false positives lying
    on the context (see :func:`_context_fp_fraction`), or None when unknown.
    Unknown class names raise ValueError naming them.
    """
    unknown = sorted({cls for cls, _ in pairs if cls not in metrics["per_class"]})
    if unknown:
        raise ValueError(f"unknown class names in co-occurrence pairs: {unknown}")
    rows = []
    for cls, context in pairs:
        score = metrics["per_class"][cls]
        rows.append(
            {
                "label": f"{cls} w/({context})",
                "class": cls,
                "context": context,
                "iou": score["iou"],
                "fp_tp": score["fp_tp"],
                "fp_tp_infinite": score["fp_tp_infinite"],
                "context_fp_fraction": _context_fp_fraction(metrics, cls, context, context_fp),
            }
        )
    return rows
