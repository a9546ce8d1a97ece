"""Benchmarks that ship with the package: paper Table 2 in miniature and the Fig. 4 sensitivity sweep."""

from seco.bench.ablation import VARIANTS, run_ablation
from seco.bench.sensitivity import SWEEPS, run_sensitivity

__all__ = ["SWEEPS", "VARIANTS", "run_ablation", "run_sensitivity"]
