"""Reader of the PASCAL VOC 2012 folder layout (also used for the synthetic set)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seco.data.errors import DataError
from seco.data.files import (
    check_class_ids,
    find_image,
    image_index,
    mask_labels,
    read_index_png,
    read_split_list,
)
from seco.data.readers.label_files import check_foreground, read_label_file, resolve_labels
from seco.data.records import Catalog, PngMask, Record
from seco.data.skip import BadSample, record_errors
from seco.labels import IGNORE_INDEX

__all__ = ["read_voc", "read_voc_images"]


def read_voc(
    root: Path,
    split: str,
    *,
    class_names: Sequence[str],
    image_dir: str = "JPEGImages",
    mask_dir: str = "SegmentationClass",
    labels_file: Path | None = None,
    require_labels: bool = False,
    ignore_index: int = IGNORE_INDEX,
    skip_bad: bool = False,
) -> Catalog:
    """Records of ``root/ImageSets/Segmentation/<split>.txt``.

    Images live in ``root/<image_dir>`` and masks (optional when a labels file
    is given) in ``root/<mask_dir>/<name>.png``. Image-level labels come from
    ``labels_file`` or, without one, from the classes present in each mask
    (read now). With ``skip_bad`` an entry with an error is left out and
    listed in :attr:`Catalog.skipped` instead.

    Raises:
        DataError: missing split list, an entry without image, an unknown label,
            an empty label list when ``require_labels``.
    """
    list_path = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    names = read_split_list(list_path)
    image_folder = root / image_dir
    images = image_index(image_folder)
    mask_folder = root / mask_dir
    table = read_label_file(labels_file) if labels_file is not None else None
    records = []
    bad: list[BadSample] | None = [] if skip_bad else None
    for name in names:
        with record_errors(bad, name):
            image = find_image(images, name, list_path, image_folder)
            mask_path = mask_folder / f"{name}.png"
            mask = PngMask(mask_path) if mask_path.is_file() else None
            if table is not None:
                if name not in table:
                    raise DataError(f"{labels_file}: no labels for image {name!r} listed in {list_path}")
                origin = f"{labels_file}: entry {name!r}"
                labels = resolve_labels(table[name], class_names, origin)
            else:
                origin = str(mask_path)
                labels = _labels_from_mask(mask_path, len(class_names), ignore_index)
            if require_labels:
                check_foreground(labels, origin)
            records.append(Record(name, image, labels, mask))
    return Catalog(root=root, records=records, class_names=list(class_names), skipped=bad or [])


def read_voc_images(root: Path, split: str, *, class_names: Sequence[str], image_dir: str = "JPEGImages") -> Catalog:
    """The images of ``root/ImageSets/Segmentation/<split>.txt`` without labels or masks.

    For a test split (VOC2012 test), whose images have neither; the records
    carry no labels, so only the segmentation head can predict them.

    Raises:
        DataError: missing split list or an entry without an image file.
    """
    list_path = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    names = read_split_list(list_path)
    image_folder = root / image_dir
    images = image_index(image_folder)
    records = [Record(name, find_image(images, name, list_path, image_folder), ()) for name in names]
    return Catalog(root=root, records=records, class_names=list(class_names))


def _labels_from_mask(mask_path: Path, num_classes: int, ignore_index: int) -> tuple[int, ...]:
    if not mask_path.is_file():
        raise DataError(f"{mask_path}: mask file missing and no labels file gives the image's labels")
    mask = read_index_png(mask_path)
    check_class_ids(mask, num_classes, ignore_index, str(mask_path))
    return mask_labels(mask, ignore_index)
