"""Benchmarks that ship with the package: paper Table 2 in miniature, the Fig. 4 sensitivity sweep and the
scale benchmark for one GPU.

The names below load on first use, so the command line can read
:mod:`seco.bench.scale_settings` without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["SWEEPS", "VARIANTS", "run_ablation", "run_sensitivity"]

_HOME = {"SWEEPS": "sensitivity", "VARIANTS": "ablation", "run_ablation": "ablation",
         "run_sensitivity": "sensitivity"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'seco.bench' has no attribute {name!r}")
    return getattr(import_module(f"seco.bench.{_HOME[name]}"), name)
