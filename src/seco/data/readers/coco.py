"""Reader of MS COCO instance annotations, with masks rendered on the fly."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO

from seco.data.errors import DataError
from seco.data.files import find_image, image_index
from seco.data.records import Catalog, Record
from seco.data.skip import BadSample, record_errors
from seco.labels import IGNORE_INDEX

__all__ = ["CocoMask", "CocoMasks", "read_coco"]


class CocoMasks:
    """One instances file: contiguous class ids (1..K in sorted category-id order) and masks."""

    def __init__(self, path: Path, ignore_index: int = IGNORE_INDEX) -> None:
        if not path.is_file():
            raise DataError(f"{path}: annotations file does not exist")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.coco = COCO(str(path))
        except (AssertionError, ValueError, KeyError, TypeError) as err:
            raise DataError(f"{path}: not a COCO instances file ({err})") from err
        self.path = path
        self.ignore_index = ignore_index
        self.category_ids = sorted(self.coco.getCatIds())
        self.class_of = {cat: i + 1 for i, cat in enumerate(self.category_ids)}

    def category_names(self) -> list[str]:
        """Category names in contiguous-id order (without background)."""
        return [self.coco.cats[cat]["name"] for cat in self.category_ids]

    def _annotations(self, image_id: int, crowd: bool) -> list[dict[str, Any]]:
        return [a for a in self.coco.imgToAnns[image_id] if bool(a.get("iscrowd", 0)) == crowd]

    def labels(self, image_id: int) -> tuple[int, ...]:
        """Foreground class ids of an image's non-crowd annotations."""
        return tuple(sorted({self.class_of[a["category_id"]] for a in self._annotations(image_id, False)}))

    def render(self, image_id: int) -> np.ndarray:
        """The class-index mask: larger objects painted first, crowd regions left as ignore."""
        info = self.coco.imgs[image_id]
        mask = np.zeros((info["height"], info["width"]), dtype=np.int64)
        objects = sorted(self._annotations(image_id, False), key=lambda a: -a.get("area", 0.0))
        with warnings.catch_warnings():
            # pycocotools' RLE decoder predates NumPy 2's __array__(copy=...) protocol
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            for ann in objects:
                mask[self.coco.annToMask(ann) > 0] = self.class_of[ann["category_id"]]
            for ann in self._annotations(image_id, True):
                mask[(self.coco.annToMask(ann) > 0) & (mask == 0)] = self.ignore_index
        return mask


@dataclass(frozen=True, eq=False)
class CocoMask:
    """The mask of one image of a :class:`CocoMasks` file."""

    masks: CocoMasks
    image_id: int

    @property
    def origin(self) -> str:
        return f"{self.masks.path} (image id {self.image_id})"

    def load(self) -> np.ndarray:
        return self.masks.render(self.image_id)


def read_coco(
    root: Path,
    *,
    annotations: Path,
    image_dir: str,
    class_names: Sequence[str] = (),
    require_labels: bool = False,
    ignore_index: int = IGNORE_INDEX,
    skip_bad: bool = False,
) -> Catalog:
    """Records of every image of an instances file, images in ``root/<image_dir>``.

    Class names come from the file's categories unless ``class_names`` is given.
    With ``require_labels`` (training) images without a non-crowd annotation
    are left out, as WSSS training lists do. With ``skip_bad`` an image
    without its file is left out and listed in :attr:`Catalog.skipped`.
    """
    masks = CocoMasks(annotations, ignore_index)
    names = list(class_names) or ["background", *masks.category_names()]
    if len(names) != len(masks.category_ids) + 1:
        raise DataError(
            f"{annotations}: {len(masks.category_ids)} categories, but {len(names) - 1} foreground "
            "class names were given"
        )
    image_folder = root / image_dir
    images = image_index(image_folder)
    records = []
    bad: list[BadSample] | None = [] if skip_bad else None
    for image_id in sorted(masks.coco.imgs):
        labels = masks.labels(image_id)
        if require_labels and not labels:
            continue
        file_name = masks.coco.imgs[image_id]["file_name"]
        with record_errors(bad, Path(file_name).stem):
            image = find_image(images, file_name, annotations, image_folder)
            records.append(Record(image.stem, image, labels, CocoMask(masks, image_id)))
    return Catalog(root=root, records=records, class_names=names, skipped=bad or [])
