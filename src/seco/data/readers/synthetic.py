"""Reading the synthetic benchmark's own files: its classes, contexts, co-occurring pairs and context masks.

The benchmark is a VOC-layout folder (:mod:`seco.synthetic.benchmark` writes it) with a few files more; this
module reads them, so a generated set is read like any VOC folder plus its context maps.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from seco.data.errors import DataError
from seco.data.readers.voc import read_voc
from seco.data.records import Catalog, PngMask

__all__ = ["CONTEXT_DIR", "SYNTHETIC_LABELS", "read_classes", "read_contexts", "read_cooccurrence", "read_synthetic"]

CONTEXT_DIR = "ContextMasks"
SYNTHETIC_LABELS = "class_labels.json"


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: file missing from the synthetic set")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_classes(root: Path) -> list[str]:
    """Class names of a generated set, background first."""
    return _lines(Path(root) / "classes.txt")


def read_contexts(root: Path) -> list[str]:
    """Context names of a generated set; context id ``k`` is entry ``k - 1``."""
    return _lines(Path(root) / "contexts.txt")


def read_cooccurrence(root: Path) -> list[tuple[str, str]]:
    """The ``(class, context or partner)`` pairs a report should examine."""
    path = Path(root) / "cooccurrence.json"
    if not path.is_file():
        raise DataError(f"{path}: file missing from the synthetic set")
    return [(a, b) for a, b in json.loads(path.read_text())]


def read_synthetic(root: Path, split: str, require_labels: bool, labels_file: Path | None, skip_bad: bool) -> Catalog:
    """The records of ``split`` of a generated set, each with its context mask, and the set's pairs and contexts."""
    catalog = read_voc(root, split, class_names=read_classes(root), require_labels=require_labels,
                       labels_file=labels_file or root / SYNTHETIC_LABELS, skip_bad=skip_bad)
    records = [dataclasses.replace(r, context=PngMask(root / CONTEXT_DIR / f"{r.name}.png")) for r in catalog.records]
    return dataclasses.replace(catalog, records=records, cooccurrence=read_cooccurrence(root),
                               contexts=read_contexts(root))
