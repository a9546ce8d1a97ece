"""Named phases of the training step, for the per-phase profile of ``benchmarks/train_step.py``.

Each phase is a ``torch.profiler.record_function`` range named ``seco:<phase>``:
almost free when no profiler runs, and under ``torch.profiler.profile`` its CPU
and device time is reported per name. The phases do not nest, so their times
add up to the step.
"""

from __future__ import annotations

from torch.profiler import record_function

__all__ = ["PHASES", "phase"]

PHASES = (
    "cams",  # multi-scale CAMs (no gradient)
    "pseudo_labels",  # segmentation pseudo labels with PAR
    "tags",  # tag mask, patch centres, patch and global tags
    "patches",  # patch cropping and the weak/strong augmentations
    "student_forward",  # the student's one forward pass (image, global views, q patches)
    "teacher_forward",  # the local teacher's keys
    "reservoir_prototypes",  # rectification, reservoir snapshot and push, prototype update
    "losses",  # every loss term
    "backward",
    "optimizer",
    "ema",  # the local teacher's EMA update
)


def phase(name: str) -> record_function:
    """A profiler range for one of :data:`PHASES`."""
    if name not in PHASES:
        raise ValueError(f"unknown phase {name!r}; one of {', '.join(PHASES)}")
    return record_function(f"seco:{name}")
