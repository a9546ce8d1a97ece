"""Where the synthetic benchmark lives: a given root or a cache folder, built once, atomically."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from seco.atomic import atomic_directory
from seco.config import DataConfig, SyntheticConfig
from seco.data.errors import DataError
from seco.synthetic.benchmark import MARKER, make_synthetic, settings

__all__ = ["cache_dir", "ensure_synthetic", "make_command", "synthetic_dir"]


def cache_dir() -> Path:
    """``$SECO_CACHE`` if set, else ``~/.cache/seco``."""
    return Path(os.environ.get("SECO_CACHE") or Path.home() / ".cache" / "seco").expanduser()


def synthetic_dir(cfg: SyntheticConfig) -> Path:
    """The cache folder of one generator setting (a short hash of :func:`settings`)."""
    digest = hashlib.sha256(json.dumps(settings(cfg), sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / f"synthetic-{digest}"


def make_command(root: Path, cfg: SyntheticConfig) -> str:
    """The ``seco make-synthetic`` command line that writes the set ``cfg`` describes to ``root``."""
    return (f"seco make-synthetic {root} --seed {cfg.seed} --n-train {cfg.n_train} --n-val {cfg.n_val} "
            f"--image-size {cfg.image_size}")


def _differences(stored: dict, wanted: dict) -> str:
    keys = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
    return ", ".join(f"{k} {stored.get(k)} (config: {wanted.get(k)})" for k in keys)


def ensure_synthetic(data_cfg: DataConfig, workers: int = 1) -> Path:
    """The folder of the synthetic set, generating it first if it is not there.

    With ``data_cfg.root`` set, the set must be there already (made by ``seco
    make-synthetic``), or the folder must exist and be empty: a root that does
    not exist is more likely a typo than a wish for a new set. A complete set
    made with other settings is used as is, with a one-line warning. Without
    a root the set lives in a cache folder named by the settings. Generation
    writes to a temporary folder next to the target and renames it into
    place, so an interrupted run never leaves a half-written set. ``workers``
    processes draw the images (:func:`~seco.synthetic.benchmark.make_synthetic`).
    """
    target = Path(data_cfg.root).expanduser() if data_cfg.root else synthetic_dir(data_cfg.synthetic)
    marker = target / MARKER
    if marker.is_file():
        stored, wanted = json.loads(marker.read_text()), settings(data_cfg.synthetic)
        if stored != wanted:
            print(f"warning: {target} holds a synthetic set generated with other settings "
                  f"({_differences(stored, wanted)}); using it as is", file=sys.stderr)
        return target
    if data_cfg.root and not target.exists():
        raise DataError(f"data.root={data_cfg.root}: no synthetic set there; write one with "
                        f"`{make_command(target, data_cfg.synthetic)}`, or leave data.root empty to use the cache")
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target}: folder is not empty but holds no complete synthetic set ({MARKER} "
                        "missing); remove it or set another data.root")
    try:
        with atomic_directory(target) as staging:
            make_synthetic(staging, data_cfg.synthetic, workers)
    except OSError:
        if not marker.is_file():  # another process finished the same set first
            raise
    return target
