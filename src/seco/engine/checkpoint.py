"""Atomic checkpoints that load with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers, strings and nested
containers: model, local teacher, reservoir, prototypes, optimizer, the
iteration, the RNG states and the resolved config. It is written to a
temporary file in the same folder and moved into place with ``os.replace``, so
an interrupted write never destroys the previous checkpoint.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seco.atomic import atomic_write

__all__ = ["CheckpointError", "latest_checkpoint", "load_checkpoint", "load_weights", "save_checkpoint",
           "weight_mismatches"]

LAST = "last.pt"
ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or of another kind."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically to ``path`` and return the path."""
    return atomic_write(path, lambda handle: torch.save(state, handle))


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    """Why ``path`` did not load, in words that never suggest loading it unsafely."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        is_zip = handle.read(4) == ZIP_MAGIC
    if size == 0:
        why = "is empty (0 bytes): it was cut off while being written or copied"
    elif not is_zip:
        why = f"is not a PyTorch checkpoint ({size} bytes that are not the zip archive torch.save writes)"
    elif zipfile.is_zipfile(path) and isinstance(err, pickle.UnpicklingError):
        why = ("holds objects other than tensors, numbers, strings and plain containers; seco loads "
               "checkpoints only with weights_only=True and refuses it")
    else:
        why = f"is damaged ({size} bytes; its zip archive cannot be read, e.g. truncated by an interrupted copy)"
    return CheckpointError(f"checkpoint {path} {why}; use a last.pt written by seco train, or copy it again")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``).

    Raises:
        CheckpointError: naming the file when it is missing, empty, damaged,
            not a PyTorch file, or not a seco checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing on foreign files
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise _unreadable(path, err) from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a seco checkpoint (no model/config entries)")
    return state


def weight_mismatches(module: nn.Module, weights: Mapping[str, torch.Tensor]) -> list[str]:
    """Where ``weights`` does not fit ``module``: missing, unexpected and differently shaped entries."""
    own = module.state_dict()
    problems = [f"{key}: {tuple(weights[key].shape)} stored, {tuple(own[key].shape)} expected"
                for key in own if key in weights and weights[key].shape != own[key].shape]
    problems += [f"{key}: missing" for key in own if key not in weights]
    problems += [f"{key}: not in this model" for key in weights if key not in own]
    return problems


def load_weights(module: nn.Module, weights: Mapping[str, torch.Tensor], origin: str, advice: str) -> None:
    """``module.load_state_dict(weights)``, or one :class:`CheckpointError` naming ``origin``, the first
    mismatched entries and ``advice`` (what to do) when they do not fit."""
    problems = weight_mismatches(module, weights)
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CheckpointError(f"{origin} does not fit the model: {'; '.join(problems[:3])}{more}. {advice}")
    module.load_state_dict(weights)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The run's ``last.pt`` if it exists."""
    path = Path(run_dir) / LAST
    return path if path.is_file() else None
