"""The NaN guard of the training loop, without a host synchronisation per step.

Every step hands its loss to :class:`FiniteGuard` as a device tensor; the
guard reads them all at once when the loop logs or saves a checkpoint (one
sync) and raises :class:`NonFiniteLossError` for the first non-finite one,
naming its iteration, loss terms and images. A checkpoint is only written
after a passing check, so the last checkpoint on disk never holds weights
that a NaN has reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seco.errors import SecoError

__all__ = ["FiniteGuard", "NonFiniteLossError"]


class NonFiniteLossError(SecoError, FloatingPointError):
    """The loss became NaN or infinite; the message names the terms and images."""


@dataclass
class _Seen:
    iteration: int
    names: list[str]
    loss: Tensor
    terms: dict[str, Tensor]


class FiniteGuard:
    """Collects each step's loss and checks them, all at once, when asked."""

    def __init__(self) -> None:
        self._pending: list[_Seen] = []

    def observe(self, loss: Tensor, terms: dict[str, Tensor], iteration: int, names: list[str]) -> None:
        """Remember one step's loss (no synchronisation)."""
        self._pending.append(_Seen(iteration, list(names), loss.detach(), {k: v.detach() for k, v in terms.items()}))

    def check(self) -> float | None:
        """The last observed loss as a float, after checking every loss observed since the last check.

        Raises:
            NonFiniteLossError: naming the first non-finite step's iteration, terms and images.
        """
        if not self._pending:
            return None
        losses = torch.stack([seen.loss.float() for seen in self._pending])
        finite = torch.isfinite(losses).tolist()
        pending, self._pending = self._pending, []
        for ok, seen in zip(finite, pending):
            if not ok:
                terms = ", ".join(f"{k}={v.item():.4g}" for k, v in seen.terms.items())
                raise NonFiniteLossError(
                    f"non-finite loss at iteration {seen.iteration} ({terms}) on images {', '.join(seen.names)}; "
                    "the last checkpoint is intact, resume from it after fixing the cause (lower train.lr, or "
                    "check these images and their labels)"
                )
        return float(losses[-1])
