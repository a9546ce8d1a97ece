"""Atomic checkpoints that load with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers, strings and nested
containers: model, local teacher, reservoir, prototypes, optimizer, the
iteration, the RNG states and the resolved config. It is written to a
temporary file in the same folder and moved into place with ``os.replace``, so
an interrupted write never destroys the previous checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seco.atomic import atomic_write

__all__ = ["CheckpointError", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

LAST = "last.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or of another kind."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically to ``path`` and return the path."""
    return atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} cannot be read: {err}") from err
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a seco checkpoint (no model/config entries)")
    return state


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The run's ``last.pt`` if it exists."""
    path = Path(run_dir) / LAST
    return path if path.is_file() else None
