"""Paper Fig. 4 in miniature: sensitivity of full SeCo to phi, sigma and the reservoir capacity N (one seed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seco.atomic import atomic_write
from seco.bench.runs import run_once
from seco.bench.summary import context_classes, context_ratio
from seco.config import load_config
from seco.report.sensitivity import sensitivity_plot

__all__ = ["SWEEPS", "run_sensitivity"]

SWEEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "phi": ("method.decomposition.phi", (0.1, 0.2, 0.3, 0.4)),
    "sigma": ("method.rectification.sigma", (0.3, 0.5, 0.7)),
    "N": ("method.reservoir.capacity", (768, 1536, 3072)),
}


def run_sensitivity(seed: int, out_dir: Path, overrides: Sequence[str] = (), sweeps: Sequence[str] = tuple(SWEEPS),
                    progress: bool = True) -> dict[str, Any]:
    """Train full SeCo once per swept value; write ``sensitivity.json`` and ``sensitivity.png`` into ``out_dir``.

    The point that equals the config's own value is one shared run (folder ``default``).
    """
    base = load_config("ablations/seco", [*overrides, f"seed={seed}"])
    results: dict[str, list[dict[str, Any]]] = {}
    for name in sweeps:
        key, values = SWEEPS[name]
        default = OmegaConf.select(OmegaConf.structured(base), key)
        points = []
        for value in values:
            folder = "default" if value == default else f"{name}={value}"
            cfg = load_config("ablations/seco", [*overrides, f"seed={seed}", f"{key}={value}",
                                                 f"out_dir={out_dir / folder}"])
            doc = run_once(cfg, progress)
            points.append({"value": value, "miou_cam": doc["results"]["cam"]["miou"],
                           "miou_mask": doc["results"]["mask"]["miou"],
                           "context_fp_tp_cam": context_ratio(doc, "cam", context_classes(doc))})
        results[name] = points
    doc = {"seed": seed, "overrides": list(overrides), "sweeps": {n: SWEEPS[n][0] for n in sweeps},
           "results": results}
    atomic_write(out_dir / "sensitivity.json", json.dumps(doc, indent=2))
    sensitivity_plot(results, out_dir / "sensitivity.png")
    return doc
