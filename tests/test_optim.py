"""Warmup + poly learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from seco.engine.optim import WarmupPoly, build_optimizer


def _scheduler(plus_one: bool = False) -> WarmupPoly:
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt = build_optimizer([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 10.0}], [0.9, 0.999])
    return WarmupPoly(opt, total_iters=100, warmup_iters=10, warmup_ratio=1e-6, power=0.9, plus_one=plus_one)


def test_linear_warmup_from_almost_zero() -> None:
    sched = _scheduler()
    assert sched.factor(0) == pytest.approx(1e-6)
    assert sched.factor(5) == pytest.approx(1e-6 + (1 - 1e-6) * 0.5)


def test_poly_decay_after_warmup_keeps_group_ratios() -> None:
    sched = _scheduler()
    factor = sched.step_to(50)
    assert factor == pytest.approx((1 - 50 / 100) ** 0.9)  # the public code's (1 - it / N) ** power
    assert _scheduler(plus_one=True).factor(50) == pytest.approx((1 - 50 / 101) ** 0.9)
    lrs = [g["lr"] for g in sched.optimizer.param_groups]
    assert lrs == pytest.approx([factor, 10 * factor])
    assert sched.factor(99) < sched.factor(50) < sched.factor(10) <= 1.0
