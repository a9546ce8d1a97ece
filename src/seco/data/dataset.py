"""The one dataset class every reader feeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from seco.data.errors import DataError
from seco.data.files import check_class_ids, check_mask_size, read_image
from seco.data.palette import voc_palette
from seco.data.records import Catalog, Record
from seco.data.skip import BadSample
from seco.data.transforms import Transform
from seco.labels import IGNORE_INDEX

__all__ = ["ON_BAD", "SegDataset"]

ON_BAD = ("raise", "replace", "drop")


class SegDataset(Dataset):
    """Images, multi-hot labels and masks of one split, transformed.

    An item is a dict: ``image`` float32 ``(3, H, W)`` normalised; ``labels``
    float32 ``(num_classes - 1,)`` multi-hot over foreground classes; ``mask``
    int64 ``(H, W)`` with ``ignore_index`` where unknown (everywhere when the
    image has no mask); ``crop_box`` int64 ``[y0, y1, x0, x1]`` of the image
    content inside ``image``; ``name``; ``size`` int64 ``(h, w)`` of the original.
    With ``with_context`` and a catalog that has context maps, also ``context``
    int64 ``(H, W)`` (0 where no context shows); use it with a transform that
    keeps the geometry (evaluation). With a ``global_view`` transform, also
    ``global_view``: that transform of the whole uint8 image (the public
    code's second global view). Masks are checked (size, class ids) when their
    item is loaded.

    ``on_bad`` says what a sample whose files fail those checks does:
    ``raise`` the :class:`DataError` naming the file; ``replace`` it by the
    next good sample, so training batches stay full; or ``drop`` it, so
    evaluation counts every image once (the item is then ``{"name", "skipped"}``
    only). Either way the item's ``skipped`` lists the bad samples met.
    """

    def __init__(self, catalog: Catalog, transform: Transform, ignore_index: int = IGNORE_INDEX,
                 with_context: bool = False, global_view: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 on_bad: str = "raise") -> None:
        if on_bad not in ON_BAD:
            raise ValueError(f"on_bad must be one of {', '.join(ON_BAD)}, got {on_bad!r}")
        self.catalog = catalog
        self.transform = transform
        self.global_view = global_view
        self.with_context = with_context and bool(catalog.contexts)
        self.ignore_index = ignore_index
        self.on_bad = on_bad
        self.palette = voc_palette()

    @property
    def root(self) -> Path:
        return self.catalog.root

    @property
    def records(self) -> list[Record]:
        return self.catalog.records

    @property
    def class_names(self) -> list[str]:
        """Class names, background first."""
        return self.catalog.class_names

    @property
    def num_classes(self) -> int:
        """Number of classes including background."""
        return len(self.catalog.class_names)

    @property
    def names(self) -> list[str]:
        return [record.name for record in self.catalog.records]

    @property
    def contexts(self) -> list[str]:
        """Names of the context ids of ``context`` maps (id k is entry k - 1); empty if none."""
        return self.catalog.contexts

    @property
    def cooccurrence(self) -> list[tuple[str, str]]:
        """``(class, context or partner)`` pairs a report should examine."""
        return self.catalog.cooccurrence

    def __len__(self) -> int:
        return len(self.catalog.records)

    def load_mask(self, record: Record, image_hw: tuple[int, int]) -> np.ndarray:
        """The record's checked mask, or all ignore when it has none."""
        if record.mask is None:
            return np.full(image_hw, self.ignore_index, dtype=np.int64)
        mask = record.mask.load()
        check_mask_size(mask, image_hw, record.mask.origin)
        check_class_ids(mask, self.num_classes, self.ignore_index, record.mask.origin)
        return mask

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.on_bad == "raise":
            return self.load_item(index)
        skipped: list[BadSample] = []
        for offset in range(len(self)):
            record = self.catalog.records[(index + offset) % len(self)]
            try:
                item = self.load_item((index + offset) % len(self))
            except DataError as err:
                skipped.append(BadSample(record.name, str(err)))
                if self.on_bad == "drop":
                    return {"name": record.name, "skipped": skipped}
                continue
            item["skipped"] = skipped
            return item
        raise DataError(f"{self.root}: every one of the {len(self)} samples is bad, e.g. {skipped[0].reason}")

    def load_item(self, index: int) -> dict[str, Any]:
        """Item ``index``, or the :class:`DataError` that names its bad file."""
        record = self.catalog.records[index]
        pixels = read_image(record.image)
        image_hw = (pixels.shape[0], pixels.shape[1])
        mask = self.load_mask(record, image_hw)
        labels = torch.zeros(self.num_classes - 1, dtype=torch.float32)
        labels[[c - 1 for c in record.labels]] = 1.0
        image = torch.from_numpy(pixels).permute(2, 0, 1)
        whole = self.global_view(image) if self.global_view is not None else None
        image, mask_tensor, crop_box = self.transform(image, torch.from_numpy(mask))
        item = {
            "image": image,
            "labels": labels,
            "mask": mask_tensor,
            "crop_box": crop_box,
            "name": record.name,
            "size": torch.tensor(image_hw, dtype=torch.int64),
        }
        if whole is not None:
            item["global_view"] = whole
        if self.with_context:
            item["context"] = torch.from_numpy(self.load_context(record, image_hw))
        return item

    def load_context(self, record: Record, image_hw: tuple[int, int]) -> np.ndarray:
        """The record's checked context map, or all 0 (no context) when it has none."""
        if record.context is None:
            return np.zeros(image_hw, dtype=np.int64)
        context = record.context.load()
        check_mask_size(context, image_hw, record.context.origin)
        return context
