"""From a :class:`~seco.config.DataConfig` to a dataset: pick the reader, the transform."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seco.config import DataConfig
from seco.data.classes import COCO_CLASSES, SYNTHETIC_CLASSES, VOC_CLASSES
from seco.data.dataset import SegDataset
from seco.data.errors import DataError
from seco.data.readers.coco import read_coco
from seco.data.readers.folder import read_folder
from seco.data.readers.synthetic import read_synthetic
from seco.data.readers.voc import read_voc, read_voc_images
from seco.data.records import Catalog
from seco.data.transforms import EvalTransform, GlobalView, TrainTransform, Transform

__all__ = ["build_dataset", "build_image_set", "build_transform", "default_class_names", "fill_split", "read_catalog"]

def build_transform(cfg: DataConfig, train: bool) -> Transform:
    """The training augmentation (rescale, flip, padded crop) or the plain image."""
    if train:
        return TrainTransform(cfg.crop_size, cfg.scale_range)
    return EvalTransform()


def _root(cfg: DataConfig) -> Path:
    if not cfg.root:
        raise DataError(f"data.root is not set; format {cfg.format!r} needs the folder of the data set")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root={cfg.root}: no such folder; set data.root to the folder of your {cfg.format} "
                        "data set")
    return root


def fill_split(template: str, split: str) -> str:
    """``template`` with every ``{split}`` replaced by the split name."""
    return template.replace("{split}", split)


def _under(root: Path, template: str, split: str) -> Path | None:
    """``root/template`` with ``{split}`` filled in (absolute templates stay); None if empty."""
    return root / fill_split(template, split) if template else None


def _synthetic_root(cfg: DataConfig) -> Path:
    """The generated set's folder, generated on first use. :mod:`seco.synthetic` writes in this package's formats
    and so imports it; this package reaches the generator only here, when a synthetic set is asked for."""
    from seco.synthetic.cache import ensure_synthetic

    return ensure_synthetic(cfg)


def _read_synthetic(cfg: DataConfig, split: str, train: bool) -> Catalog:
    root = _synthetic_root(cfg)
    return read_synthetic(root, split, require_labels=train, labels_file=_under(root, cfg.labels_file, split),
                          skip_bad=cfg.on_error == "skip")


def _read_files(cfg: DataConfig, split: str, train: bool) -> Catalog:
    root = _root(cfg)
    image_dir, mask_dir = fill_split(cfg.image_dir, split), fill_split(cfg.mask_dir, split)
    labels_file = _under(root, cfg.labels_file, split)
    skip_bad = cfg.on_error == "skip"
    if cfg.format == "coco" and cfg.annotations:
        return read_coco(
            root, annotations=root / fill_split(cfg.annotations, split), image_dir=image_dir,
            class_names=cfg.class_names, require_labels=train, skip_bad=skip_bad,
        )
    if cfg.format in ("voc", "coco"):
        return read_voc(
            root, split, class_names=default_class_names(cfg), image_dir=image_dir,
            mask_dir=mask_dir, labels_file=labels_file, require_labels=train, skip_bad=skip_bad,
        )
    if cfg.format == "folder":
        if labels_file is None:
            raise DataError(f"{root}: format 'folder' needs data.labels_file (CSV, JSON or cls_labels.npy)")
        return read_folder(
            root, labels_file=labels_file, class_names=cfg.class_names, image_dir=image_dir,
            mask_dir=mask_dir, require_labels=train, skip_bad=skip_bad,
        )
    raise DataError(f"unknown data.format {cfg.format!r}; expected synthetic, voc, coco or folder")


def default_class_names(cfg: DataConfig) -> list[str]:
    """``cfg.class_names`` if given, else the format's own table (background first).

    Known without reading the data set, so a model can be sized before the
    data exist on disk (benchmarks, GPU smoke runs); ``folder`` has no table.
    """
    if cfg.class_names:
        return list(cfg.class_names)
    tables = {"voc": VOC_CLASSES, "coco": COCO_CLASSES, "synthetic": SYNTHETIC_CLASSES}
    if cfg.format not in tables:
        raise DataError(f"data.format {cfg.format!r} has no built-in class list; set data.class_names")
    return list(tables[cfg.format])


def read_catalog(cfg: DataConfig, split: str, train: bool) -> Catalog:
    """The records and classes of ``split`` in the format ``cfg.format`` names.

    ``train`` demands at least one foreground label per image. Co-occurrence
    pairs come from the synthetic set itself or else from ``cfg.cooccurrence``.
    With ``cfg.on_error == "skip"`` bad entries are left out and listed in
    ``Catalog.skipped``.
    """
    if cfg.format == "synthetic":
        return _read_synthetic(cfg, split, train)
    catalog = _read_files(cfg, split, train)
    return dataclasses.replace(catalog, cooccurrence=[(a, b) for a, b in cfg.cooccurrence])


def build_dataset(cfg: DataConfig, split: str, train: bool, global_view: bool = False) -> SegDataset:
    """The dataset of ``split``: training transforms when ``train``; else the plain images with
    their context maps, if the set has them. ``global_view`` adds the public code's second global
    view of each image at the crop size (:class:`~seco.data.transforms.GlobalView`).

    With ``cfg.on_error == "skip"`` a bad sample is replaced by the next good
    one in training (full batches) and dropped in evaluation.
    """
    on_bad = "raise" if cfg.on_error == "raise" else ("replace" if train else "drop")
    view = GlobalView(cfg.crop_size) if global_view else None
    return SegDataset(read_catalog(cfg, split, train), build_transform(cfg, train), with_context=not train,
                      global_view=view, on_bad=on_bad)


def build_image_set(cfg: DataConfig, split: str, class_names: list[str]) -> SegDataset:
    """The plain images of ``split`` of a VOC-layout set (``voc``, ``coco`` with PNG masks, ``synthetic``),
    without labels or masks: a test split such as VOC2012 test. ``class_names`` size the label vectors."""
    if cfg.format not in ("voc", "coco", "synthetic") or (cfg.format == "coco" and cfg.annotations):
        raise DataError(f"data.format {cfg.format!r} has no VOC layout (ImageSets/Segmentation/<split>.txt "
                        "and an image folder); test images need one")
    root = _synthetic_root(cfg) if cfg.format == "synthetic" else _root(cfg)
    return SegDataset(read_voc_images(root, split, class_names=class_names, image_dir=fill_split(cfg.image_dir, split)),
                      EvalTransform())
