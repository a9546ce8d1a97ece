"""The one checkpoint type of both training loops, written atomically and loaded with ``weights_only=True``.

A :class:`Checkpoint` is what a run writes to ``RUN/last.pt``: the network,
the optimizer, the iteration, the RNG states and the resolved config, plus
what its loop alone has. ``kind`` names the loop: ``"train"``
(:mod:`seco.engine.train`: the method's state (local teacher, reservoir,
prototypes), the class names and the version) or ``"pretrain"``
(:mod:`seco.pretrain.train`: its settings and the optional class-token head).
On disk it is a plain dict of tensors, numbers, strings and nested containers
with those names as keys and a ``"kind"`` entry; a file written before that
entry existed is a pretraining one when it holds ``"settings"``. A file is
written to a temporary file in the same folder and moved into place with
``os.replace``, so an interrupted write never destroys the previous one.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from seco.atomic import atomic_write
from seco.errors import SecoError

__all__ = ["KINDS", "LAST", "Checkpoint", "CheckpointError", "Kind", "load_weights", "weight_mismatches"]

LAST = "last.pt"
ZIP_MAGIC = b"PK\x03\x04"

Kind = Literal["train", "pretrain"]
KINDS: dict[str, tuple[str, ...]] = {  # the entries each kind writes, besides "kind"
    "train": ("model", "state", "optimizer", "iteration", "rng", "config", "class_names", "version"),
    "pretrain": ("model", "cls_head", "optimizer", "iteration", "config", "settings", "rng"),
}
REQUIRED: dict[str, tuple[str, ...]] = {"train": ("model", "config", "class_names"), "pretrain": ("model", "config")}


class CheckpointError(SecoError, RuntimeError):
    """A checkpoint file is missing, unreadable or of another kind."""


@dataclass(eq=False)  # tensors have no single truth value to compare by
class Checkpoint:
    """One run's ``last.pt``: enough to resume it exactly, or to load its network for inference.

    Every field but ``kind``, ``model`` and ``config`` has an empty default,
    so a checkpoint for inference only (network, config, class names) is one
    too. The fields a kind does not write stay at their defaults.
    """

    kind: Kind
    model: dict[str, torch.Tensor]
    config: dict[str, Any]
    iteration: int = 0
    optimizer: dict[str, Any] = field(default_factory=dict)
    rng: Any = None
    """train: ``{"torch", "generator"[, "cuda"]}`` states; pretrain: torch's state tensor."""
    class_names: list[str] = field(default_factory=list)
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    """train: the method's state dict (local teacher, reservoir, prototypes)."""
    version: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    """pretrain: the :class:`~seco.pretrain.settings.PretrainSettings` it ran with."""
    cls_head: dict[str, torch.Tensor] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The dict written to disk: the entries of :data:`KINDS` for this kind and ``"kind"``."""
        return {**{name: getattr(self, name) for name in KINDS[self.kind]}, "kind": self.kind}

    @classmethod
    def from_dict(cls, stored: Any, origin: str = "checkpoint") -> Checkpoint:
        """Read a dict written by :meth:`to_dict` or by a version from before ``"kind"`` existed.

        Raises:
            CheckpointError: naming ``origin`` when ``stored`` is no seco checkpoint.
        """
        if not isinstance(stored, dict):
            raise CheckpointError(f"{origin} is not a seco checkpoint (no model/config entries)")
        kind = stored.get("kind", "pretrain" if isinstance(stored.get("settings"), dict) else "train")
        if kind not in KINDS:
            raise CheckpointError(f"{origin} is a checkpoint of kind {kind!r}, which seco does not know "
                                  f"({' or '.join(KINDS)}); it was written by a newer version of seco")
        missing = [name for name in REQUIRED[kind] if name not in stored]
        if missing:
            raise CheckpointError(f"{origin} is not a seco checkpoint (no {'/'.join(missing)} entries)")
        values = {name: stored[name] for name in KINDS[kind] if name in stored}
        return cls(kind=kind, **{**values, "iteration": int(values.get("iteration", 0))})

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` atomically to ``path`` and return the path."""
        state = self.to_dict()
        return atomic_write(path, lambda handle: torch.save(state, handle))

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
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
                stored = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # torch raises many types for a damaged file
            raise _unreadable(path, err) from None
        return cls.from_dict(stored, str(path))


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
