"""Data sets for SeCo: one record type, one dataset class, one transform pipeline.

Readers (:mod:`seco.data.readers`: synthetic, VOC, COCO, folder) turn a folder on disk into a
:class:`Catalog` of :class:`Record` objects; :class:`SegDataset` loads and
transforms them; :func:`build_dataset` picks the reader a config names.
The synthetic benchmark's generator lives in :mod:`seco.synthetic`; its names
(``make_synthetic``, ``ensure_synthetic``, ...) stay importable from here.
"""

from typing import Any

from seco.data.build import build_dataset, build_image_set, build_transform, default_class_names, read_catalog
from seco.data.classes import COCO_CLASSES, SYNTHETIC_CLASSES, VOC_CLASSES
from seco.data.collate import pad_collate
from seco.data.dataset import SegDataset
from seco.data.errors import DataError
from seco.data.palette import voc_palette
from seco.data.readers.coco import read_coco
from seco.data.readers.folder import read_folder
from seco.data.readers.synthetic import read_classes, read_contexts, read_cooccurrence
from seco.data.readers.voc import read_voc
from seco.data.records import Catalog, MaskSource, PngMask, Record
from seco.data.transforms import EvalTransform, TrainTransform, Transform

_SYNTHETIC = {"CONTEXTS": "contexts", "cache_dir": "cache", "ensure_synthetic": "cache", "make_synthetic": "benchmark",
              "synthetic_dir": "cache"}

__all__ = [
    "CONTEXTS",
    "COCO_CLASSES",
    "Catalog",
    "DataError",
    "EvalTransform",
    "MaskSource",
    "PngMask",
    "Record",
    "SYNTHETIC_CLASSES",
    "SegDataset",
    "TrainTransform",
    "Transform",
    "VOC_CLASSES",
    "build_dataset",
    "build_image_set",
    "build_transform",
    "cache_dir",
    "default_class_names",
    "ensure_synthetic",
    "make_synthetic",
    "pad_collate",
    "read_catalog",
    "read_classes",
    "read_coco",
    "read_contexts",
    "read_cooccurrence",
    "read_folder",
    "read_voc",
    "synthetic_dir",
    "voc_palette",
]


def __getattr__(name: str) -> Any:
    """The synthetic generator's names, loaded on first use: :mod:`seco.synthetic` imports this package."""
    if name in _SYNTHETIC:
        import importlib

        return getattr(importlib.import_module(f"seco.synthetic.{_SYNTHETIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
