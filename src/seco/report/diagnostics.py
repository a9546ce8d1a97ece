"""Why the contrast helps or hurts: the training diagnostics of SeCo runs, read back from TensorBoard.

Four quantities decide whether LiG (eq. 4) and LiL (eq. 5) teach the right
thing, and every run logs them (:class:`seco.method.seco.SeCoMethod`):

* ``stats/tag_agreement_gt``: the share of confident patch tags (eq. 1, after
  ``tag_switch_iter`` from the final CAM) that equal the tags computed from the
  ground-truth masks; the synthetic benchmark has masks for its train split.
  The rest of those patches is split by kind of error
  (:func:`seco.method.tags.tag_agreement`): ``stats/tag_false_class``,
  ``stats/tag_false_background`` and ``stats/tag_wrong_class``; and
  ``stats/tag_class_precision`` is the share of the class-tagged patches
  (the class positives of LiG and LiL) whose ground-truth tag is that class;
* ``stats/rectified``: the share of the confident tags that rectification
  (eqs. 6-7) fires on (they become uncertain, or background under the public rule);
* ``reservoir/<class>``: the class mix of the reservoir keys (LiL's negatives
  and positives);
* ``stats/prototype_similarity``: the mean cosine between distinct class
  prototypes (LiG cannot separate classes whose prototypes coincide).

Runs also log ``stats/lil_floor``, the lowest value eq. 8 can take with the
step's tags (:func:`seco.method.contrast.lil_floor`): the paper-formula
``loss/lil`` is read against it, not against ``log N``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seco.atomic import atomic_write

__all__ = ["CURVES", "contrast_summary", "diagnostics_plot", "read_scalars"]

CURVES = {
    "stats/tag_agreement_gt": "patch tags = ground-truth tags",
    "stats/tag_class_precision": "class tags = ground-truth class",
    "stats/rectified": "rectification rate",
    "stats/prototype_similarity": "prototype similarity (mean cos)",
}
RESERVOIR = "reservoir/"

Series = dict[str, list[tuple[int, float]]]


def read_scalars(tb_dir: Path) -> Series:
    """Every scalar in the TensorBoard event files under ``tb_dir``: tag -> [(step, value)] by step."""
    series: Series = {}
    for events in sorted(Path(tb_dir).glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            series.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return {tag: sorted(dict(points).items()) for tag, points in series.items()}


def contrast_summary(series: Series) -> dict[str, float]:
    """Each diagnostic's mean over the logged steps of the contrast phase (those that log it)."""
    summary = {tag: _mean(series[tag]) for tag in CURVES if series.get(tag)}
    for tag, points in series.items():
        if tag.startswith(RESERVOIR) and points:
            summary[tag] = _mean(points)
    return summary


def diagnostics_plot(runs: Mapping[str, Series], path: Path) -> Path:
    """The :data:`CURVES` over training (a line per run) and the reservoir's mean class mix (a bar group per run)."""
    fig = Figure(figsize=(4.2 * (len(CURVES) + 1), 3.8))
    axes = fig.subplots(1, len(CURVES) + 1)
    for ax, (tag, title) in zip(axes, CURVES.items()):
        for label, series in runs.items():
            points = series.get(tag, [])
            if points:
                ax.plot([s for s, _ in points], [v for _, v in points], label=label)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_ylim(0, 1)
    classes = sorted({t[len(RESERVOIR):] for s in runs.values() for t in s if t.startswith(RESERVOIR)})
    width = 0.8 / max(len(runs), 1)
    for i, (label, series) in enumerate(runs.items()):
        mix = [_mean(series.get(RESERVOIR + c, [])) for c in classes]
        axes[-1].bar([j + i * width for j in range(len(classes))], mix, width, label=label)
    axes[-1].set_xticks([j + 0.4 - width / 2 for j in range(len(classes))], classes, rotation=60, fontsize=8)
    axes[-1].set_title("reservoir class mix (mean over training)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


def _mean(points: list[tuple[int, float]]) -> float:
    """Mean of the logged values, leaving out NaN (a step without a patch of that kind logs NaN)."""
    values = [v for _, v in points if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")
