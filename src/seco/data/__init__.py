"""Data sets for SeCo: one record type, one dataset class, one transform pipeline.

Readers (synthetic, VOC, COCO, folder) turn a folder on disk into a
:class:`Catalog` of :class:`Record` objects; :class:`SegDataset` loads and
transforms them; :func:`build_dataset` picks the reader a config names.
"""

from seco.data.build import build_dataset, build_image_set, build_transform, default_class_names, read_catalog
from seco.data.cache import cache_dir, ensure_synthetic, synthetic_dir
from seco.data.classes import COCO_CLASSES, VOC_CLASSES
from seco.data.collate import pad_collate
from seco.data.contexts import CONTEXTS
from seco.data.dataset import SegDataset
from seco.data.errors import DataError
from seco.data.palette import voc_palette
from seco.data.readers.coco import read_coco
from seco.data.readers.folder import read_folder
from seco.data.readers.voc import read_voc
from seco.data.records import Catalog, MaskSource, PngMask, Record
from seco.data.scenes import CLASSES as SYNTHETIC_CLASSES
from seco.data.synthetic import (
    make_synthetic,
    read_classes,
    read_contexts,
    read_cooccurrence,
)
from seco.data.transforms import EvalTransform, TrainTransform, Transform

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
