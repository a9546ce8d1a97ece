"""The local teacher: an exponential moving average of the student (paper Sec. 3.5)."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ema_update", "make_teacher"]


def make_teacher(student: nn.Module) -> nn.Module:
    """A deep copy of ``student`` whose parameters do not require grad.

    The copy keeps the student's train/eval mode; it is never given to the
    optimiser and only changes through :func:`ema_update`.
    """
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``theta_t <- m * theta_t + (1 - m) * theta_s`` for every parameter.

    Floating-point buffers (e.g. norm statistics) are averaged the same way;
    integer buffers (e.g. batch counters) are copied from the student. The two
    modules must have the same structure (as made by :func:`make_teacher`).
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    pairs = [
        *zip(teacher.parameters(), student.parameters(), strict=True),
        *zip(teacher.buffers(), student.buffers(), strict=True),
    ]
    for mine, theirs in pairs:
        if mine.is_floating_point():
            mine.lerp_(theirs.detach().to(mine.dtype), 1.0 - momentum)
        else:
            mine.copy_(theirs)
