"""Profiling aids for ``benchmarks/train_step.py``: named phases of the step and a host-sync counter.

Each phase is a ``torch.profiler.record_function`` range named ``seco:<phase>``:
almost free when no profiler runs, and under ``torch.profiler.profile`` its CPU
and device time is reported per name. The phases do not nest, so their times
add up to the step. :class:`SyncCounter` counts, on any device, the operators
that make a GPU wait for the host.
"""

from __future__ import annotations

from typing import Any

from torch.profiler import record_function
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["PHASES", "SYNCING_OPS", "SyncCounter", "phase"]

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


SYNCING_OPS = frozenset({"_local_scalar_dense", "nonzero", "masked_select", "_unique2", "unique_dim",
                         "unique_consecutive", "equal", "is_nonzero", "bincount", "repeat_interleave",
                         "masked_scatter", "histc", "lift_fresh"})
"""Operators that copy a data-dependent value to the host (``.item()``, ``int()``, ``bool()``, boolean masks, ...),
and ``lift_fresh``: a tensor made from Python data (``new_tensor([...])``), a blocking host-to-device copy on a GPU
(CUDA's sync debug mode flagged four of them per step on an H100 before they were removed)."""


class SyncCounter(TorchDispatchMode):
    """Counts the calls of :data:`SYNCING_OPS` while active: a CPU stand-in for CUDA's sync debug mode.

    Set ``active = False`` around code whose scalars live on the host on a GPU
    too (the optimizer's step counters).
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.ops: dict[str, int] = {}
        self.active = True

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.overloadpacket.__name__
        if self.active and name in SYNCING_OPS:
            self.count += 1
            self.ops[name] = self.ops.get(name, 0) + 1
        return func(*args, **(kwargs or {}))
