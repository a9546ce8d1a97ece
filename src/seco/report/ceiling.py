"""Weak runs as a fraction of their fully supervised counterpart (paper Table 5, "Ratio").

Every evaluation records in ``meta`` the run's ``supervision`` (``weak`` or
``full``) and its ``setting``: the data set, backbone and schedule that make
two runs counterparts (see :func:`run_setting`). ``seco compare`` pairs each
weak run with the first full run given on its command line whose setting is
the same, and reports, for every result block both evaluated (``seg``,
``seg_crf``), weak mIoU / full mIoU. Runs without these fields (evaluated
before they existed) count as weak runs without a known setting and are
paired with nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from seco.config import Config, to_dict
from seco.report.tables import BLOCK_TITLES, markdown_table, percent

__all__ = ["ceiling_section", "run_setting"]


def run_setting(cfg: Config) -> str:
    """A readable key of what a full-supervision counterpart must share with a weak run.

    The data set (format, folders, split, classes, generator settings), the
    whole model section but the source of its pretrained weights, and the
    schedule (iterations, batch size); a short hash covers every field, the
    readable part names the main ones.
    """
    data = to_dict(cfg.data)
    identity = {
        "data": {k: data[k] for k in ("format", "root", "train_split", "image_dir", "mask_dir", "labels_file",
                                      "annotations", "class_names", "crop_size", "scale_range")},
        "model": {k: v for k, v in to_dict(cfg.model).items() if k not in ("pretrained", "weights")},
        "schedule": {"iterations": cfg.train.iterations, "batch_size": cfg.train.batch_size},
    }
    if cfg.data.format == "synthetic":
        identity["data"]["synthetic"] = data["synthetic"]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return (f"{cfg.data.format}:{cfg.data.train_split}, {cfg.model.name}, "
            f"{cfg.train.iterations} it x {cfg.train.batch_size} ({digest})")


def _supervision(doc: Mapping[str, Any]) -> str:
    return doc.get("meta", {}).get("supervision", "weak")


def _setting(doc: Mapping[str, Any]) -> str | None:
    return doc.get("meta", {}).get("setting")


def ceiling_section(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """The Markdown section of weak/full mIoU ratios for ``runs`` (name -> metrics.json, in command-line
    order); empty when there is no full run or no weak run."""
    full = {name: doc for name, doc in runs.items() if _supervision(doc) == "full"}
    weak = {name: doc for name, doc in runs.items() if _supervision(doc) != "full"}
    if not full or not weak:
        return ""
    rows = []
    for name, doc in weak.items():
        setting = _setting(doc)
        partner = next((f for f, fdoc in full.items() if setting is not None and _setting(fdoc) == setting), None)
        if partner is None:
            rows.append([name, "none with the same setting", "-", "-", "-", "-"])
            continue
        shared = [b for b in doc["results"] if b in full[partner]["results"]]
        for block in shared:
            ours, ceiling = doc["results"][block]["miou"], full[partner]["results"][block]["miou"]
            fraction = percent(ours / ceiling) if ours is not None and ceiling else "n/a"
            rows.append([name, partner, BLOCK_TITLES.get(block, block), percent(ours), percent(ceiling), fraction])
    settings = sorted({s for s in map(_setting, runs.values()) if s is not None})
    table = markdown_table(["weak run", "full counterpart", "output", "mIoU (%)", "full mIoU (%)",
                            "fraction of full (%)"], rows)
    return "\n".join([
        "## Fraction of the fully supervised counterpart (paper Table 5)", "",
        "Each weak run is paired with the first full-supervision run given whose setting (data, backbone, "
        "schedule) is the same; the fraction is weak mIoU / full mIoU of the same output.", "",
        table, "", "Settings: " + "; ".join(f"`{s}`" for s in settings), "",
    ])
