"""Reader of a plain image folder plus a CSV or JSON file of image-level labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seco.data.errors import DataError
from seco.data.files import find_image, image_index
from seco.data.readers.label_files import Token, check_foreground, is_id, read_label_file, resolve_labels
from seco.data.records import Catalog, PngMask, Record
from seco.data.skip import BadSample, record_errors

__all__ = ["read_folder"]


def read_folder(
    root: Path,
    *,
    labels_file: Path,
    class_names: Sequence[str] = (),
    image_dir: str = "images",
    mask_dir: str = "masks",
    require_labels: bool = False,
    skip_bad: bool = False,
) -> Catalog:
    """One record per entry of ``labels_file``, images in ``root/<image_dir>``.

    Entries name an image by file name or stem. Without ``class_names`` the
    label file must use class names: the classes are then ``background``
    followed by the sorted names it uses. A mask ``root/<mask_dir>/<stem>.png``
    is used where it exists. With ``skip_bad`` an entry with an error is
    left out and listed in :attr:`Catalog.skipped` instead.
    """
    table = read_label_file(labels_file)
    if not table:
        raise DataError(f"{labels_file}: labels file lists no images")
    names = list(class_names) or _names_from_labels(table, labels_file)
    image_folder = root / image_dir
    images = image_index(image_folder)
    mask_folder = root / mask_dir
    records = []
    bad: list[BadSample] | None = [] if skip_bad else None
    for key, tokens in table.items():
        with record_errors(bad, Path(key).stem):
            image = find_image(images, key, labels_file, image_folder)
            origin = f"{labels_file}: entry {key!r}"
            labels = resolve_labels(tokens, names, origin)
            if require_labels:
                check_foreground(labels, origin)
            mask_path = mask_folder / f"{image.stem}.png"
            mask = PngMask(mask_path) if mask_path.is_file() else None
            records.append(Record(image.stem, image, labels, mask))
    return Catalog(root=root, records=records, class_names=names, skipped=bad or [])


def _names_from_labels(table: dict[str, list[Token]], labels_file: Path) -> list[str]:
    tokens = [t for entry in table.values() for t in entry]
    if any(is_id(t) for t in tokens):
        raise DataError(f"{labels_file}: labels are class ids; set data.class_names to name the classes")
    found = sorted({str(t).strip() for t in tokens} - {"background"})
    return ["background", *found]
