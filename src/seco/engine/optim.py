"""Learning-rate schedule: linear warmup from ~0, then polynomial decay."""

from __future__ import annotations

import torch

__all__ = ["WarmupPoly", "build_optimizer"]


class WarmupPoly:
    """Linear warmup for ``warmup_iters`` from ``warmup_ratio * lr``, then ``(1 - it / N) ** power``.

    N is ``total_iters`` (the public code) or ``total_iters + 1`` with ``plus_one``.

    Each param group keeps its own base lr (``initial_lr``), so the 10x head
    multiplier survives the schedule. The state is just the iteration, which
    the trainer saves and restores.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_iters: int, warmup_iters: int,
                 warmup_ratio: float, power: float, plus_one: bool = False) -> None:
        self.optimizer = optimizer
        self.total_iters = total_iters
        self.warmup_iters = min(warmup_iters, total_iters)
        self.warmup_ratio = warmup_ratio
        self.power = power
        self.horizon = total_iters + 1 if plus_one else total_iters
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def factor(self, iteration: int) -> float:
        """The lr multiplier at ``iteration`` (0-based)."""
        if iteration < self.warmup_iters:
            alpha = iteration / max(self.warmup_iters, 1)
            return self.warmup_ratio + (1.0 - self.warmup_ratio) * alpha
        return (1.0 - iteration / self.horizon) ** self.power

    def step_to(self, iteration: int) -> float:
        """Set every group's lr for ``iteration`` and return the multiplier."""
        factor = self.factor(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return factor


def build_optimizer(param_groups: list[dict], betas: list[float]) -> torch.optim.AdamW:
    """AdamW over groups that already carry their lr and weight decay."""
    return torch.optim.AdamW(param_groups, betas=(betas[0], betas[1]))
