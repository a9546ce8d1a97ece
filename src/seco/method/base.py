"""What the training loop sees of a method: one step's losses and the handful of calls around it.

The loop (:mod:`seco.engine.train`) builds a method with
:func:`seco.method.build.build_method` and knows it only through this surface,
as DINOv2's loop knows its meta-architecture only through ``forward_backward``
and ``update_teacher``:

* :meth:`TrainingMethod.step`: the losses of one batch (:class:`StepOutput`);
* :meth:`TrainingMethod.after_optimizer_step`: what follows the optimizer's
  step (SeCo's local-teacher EMA, Sec. 3.5);
* :meth:`TrainingMethod.log_scalars`: scalars to log besides the step's own;
* :meth:`TrainingMethod.loss_starts`: the iterations where losses switch on;
* :meth:`TrainingMethod.end_of_run_warnings`: what the run should be told at
  the end;
* ``state_dict`` (an ``nn.Module``): the method's state for the checkpoint,
  read back through :meth:`TrainingMethod.stored_state`.

Two class-level calls say what the data must carry before a method is built:
:meth:`TrainingMethod.wants_global_view` and :meth:`TrainingMethod.check_data`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from seco.config import MethodConfig
from seco.data import SegDataset

__all__ = ["StepOutput", "TrainingMethod"]


@dataclass
class StepOutput:
    """The weighted total loss, its unweighted terms and statistics to log."""

    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    stats: dict[str, Tensor] = field(default_factory=dict)


class TrainingMethod(nn.Module, ABC):
    """A way to train the student: SeCo (:class:`~seco.method.seco.SeCoMethod`) or its fully supervised
    ceiling (:class:`~seco.method.supervised.SupervisedMethod`). Everything it keeps across steps is a
    submodule or buffer, so its ``state_dict`` is the ``state`` entry of a checkpoint.
    """

    @classmethod
    def wants_global_view(cls, cfg: MethodConfig) -> bool:
        """Whether training batches must carry the public code's second global view (``global_view``)."""
        return False

    @classmethod
    def check_data(cls, dataset: SegDataset, split: str) -> None:
        """Refuse, before any training, a training set this method cannot learn from (one clear error)."""

    @abstractmethod
    def step(self, net: nn.Module, batch: dict[str, Tensor], iteration: int,
             generator: torch.Generator) -> StepOutput:
        """The losses of one batch at ``iteration``; ``net`` may be a DistributedDataParallel wrapper."""

    def after_optimizer_step(self, net: nn.Module) -> None:
        """What follows the optimizer's step (``net`` is the student, unwrapped); nothing by default."""

    @abstractmethod
    def loss_starts(self, iterations: int) -> dict[int, list[str]]:
        """The iterations below ``iterations`` where losses switch on, with their titles (``{0: ["cls"]}``)."""

    def log_scalars(self) -> dict[str, float]:
        """Scalars to log at a logging step besides the step's losses and statistics; none by default."""
        return {}

    def end_of_run_warnings(self, iterations: int) -> list[str]:
        """Lines to warn about once ``iterations`` iterations are trained; none by default."""
        return []

    def stored_state(self, state: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """A checkpoint's ``state`` entry, mapped onto this method's ``state_dict`` keys (unchanged by default)."""
        return state
