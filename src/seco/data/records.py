"""What every reader produces: one record per image, gathered in a catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from seco.data.files import read_index_png
from seco.data.skip import BadSample

__all__ = ["Catalog", "MaskSource", "PngMask", "Record"]


class MaskSource(Protocol):
    """Something that yields an image's class-index mask when asked."""

    @property
    def origin(self) -> str:
        """The file (and entry) an error about this mask should name."""
        ...

    def load(self) -> np.ndarray:
        """The ``(H, W)`` integer class-index mask."""
        ...


@dataclass(frozen=True)
class PngMask:
    """A mask stored as a palette or greyscale PNG of raw class indices."""

    path: Path

    @property
    def origin(self) -> str:
        return str(self.path)

    def load(self) -> np.ndarray:
        return read_index_png(self.path)


@dataclass(frozen=True)
class Record:
    """One image: where its pixels are, its foreground class ids, its mask and its context map, if any.

    ``context`` maps each pixel to the unlabeled context it shows (0 none, k the
    k-th name of :attr:`Catalog.contexts`); only the synthetic set has one.
    """

    name: str
    image: Path
    labels: tuple[int, ...]
    mask: MaskSource | None = None
    context: MaskSource | None = None


@dataclass(frozen=True)
class Catalog:
    """The records of one split plus what a dataset needs to know about its classes.

    ``contexts`` names the context ids of the records' context maps (id k is
    ``contexts[k - 1]``); empty when the set has none. ``skipped`` lists the
    samples a reader left out because they were bad (``data.on_error: skip``).
    """

    root: Path
    records: list[Record]
    class_names: list[str]
    cooccurrence: list[tuple[str, str]] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    skipped: list[BadSample] = field(default_factory=list)
