"""Where the synthetic benchmark lives: a given root or a cache folder, built once, atomically."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from seco.atomic import atomic_directory
from seco.config import DataConfig, SyntheticConfig
from seco.data.errors import DataError
from seco.data.synthetic import MARKER, make_synthetic, settings

__all__ = ["cache_dir", "ensure_synthetic", "synthetic_dir"]


def cache_dir() -> Path:
    """``$SECO_CACHE`` if set, else ``~/.cache/seco``."""
    return Path(os.environ.get("SECO_CACHE") or Path.home() / ".cache" / "seco").expanduser()


def synthetic_dir(cfg: SyntheticConfig) -> Path:
    """The cache folder of one generator setting (a short hash of :func:`settings`)."""
    digest = hashlib.sha256(json.dumps(settings(cfg), sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / f"synthetic-{digest}"


def ensure_synthetic(data_cfg: DataConfig) -> Path:
    """The folder of the synthetic set, generating it first if it is not there.

    ``data_cfg.root`` wins when set (a complete set found there is used as is,
    with a warning if it was made with other settings); otherwise a cache
    folder named by the settings. Generation writes to a temporary folder next
    to the target and renames it into place, so an interrupted run never
    leaves a half-written set.
    """
    target = Path(data_cfg.root).expanduser() if data_cfg.root else synthetic_dir(data_cfg.synthetic)
    marker = target / MARKER
    if marker.is_file():
        if json.loads(marker.read_text()) != settings(data_cfg.synthetic):
            warnings.warn(f"{marker}: synthetic set was generated with other settings; using it as is",
                          stacklevel=2)
        return target
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target}: folder is not empty but holds no complete synthetic set ({MARKER} "
                        "missing); remove it or set another data.root")
    try:
        with atomic_directory(target) as staging:
            make_synthetic(staging, data_cfg.synthetic)
    except OSError:
        if not marker.is_file():  # another process finished the same set first
            raise
    return target
