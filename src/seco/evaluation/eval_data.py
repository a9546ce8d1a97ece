"""What an evaluation or an export reads: the model's classes checked, the first N images, one size per batch.

Images of one batch share their size, so no image is ever padded: padding
would change the per-image min-max normalisation of CAMs and what attention
sees. Sizes come from the image headers, without decoding the pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from seco.config import Config
from seco.data import DataError, SegDataset, build_dataset, pad_collate
from seco.data.files import UNREADABLE
from seco.data.skip import BadSample
from seco.engine import dist

__all__ = ["Selection", "eval_dataset", "eval_loader", "image_batches", "same_size_batches", "select"]


def eval_dataset(cfg: Config, split: str, class_names: Sequence[str] | None = None) -> SegDataset:
    """The evaluation dataset of ``split``; with the model's ``class_names``, they must be the data's."""
    dataset = build_dataset(cfg.data, split, train=False)
    if class_names is not None and list(class_names) != list(dataset.class_names):
        where = f"data.format={cfg.data.format}" + (f", data.root={cfg.data.root}" if cfg.data.root else "")
        raise DataError(
            f"the model was trained on {len(class_names)} classes ({', '.join(class_names)}) but the data "
            f"({where}, split {split!r}) has {dataset.num_classes} ({', '.join(dataset.class_names)}); evaluate on "
            "the data the model was trained on (drop --config and data.* overrides) or train a model for this data"
        )
    return dataset


@dataclass(frozen=True)
class Selection:
    """The first ``count`` of the ``total`` images of a split, and this process's share of them."""

    indices: list[int]
    count: int
    total: int

    @property
    def limited(self) -> bool:
        return self.count < self.total

    def label(self, split: str) -> str:
        """``val`` or ``val, first 20 of 445 images``: what every progress line and heading says."""
        return f"{split}, first {self.count} of {self.total} images" if self.limited else split


def select(dataset: SegDataset, max_images: int) -> Selection:
    """The first ``max_images`` images (all for 0), shared round-robin among torchrun processes."""
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    return Selection(list(range(dist.rank(), count, dist.world_size())), count, len(dataset))


def _image_size(dataset: SegDataset, index: int) -> tuple[int, int] | None:
    try:
        with Image.open(dataset.records[index].image) as image:
            return image.size
    except UNREADABLE:
        return None  # its own batch: loading it raises (or skips) with the file's name


def same_size_batches(dataset: SegDataset, indices: Sequence[int], batch_size: int) -> list[list[int]]:
    """``indices`` in batches of at most ``batch_size`` images of one size, in order of first appearance."""
    groups: dict[object, list[int]] = {}
    for index in indices:
        size = _image_size(dataset, index)
        groups.setdefault(size if size is not None else ("unreadable", index), []).append(index)
    return [group[i : i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]


def eval_loader(dataset: SegDataset, selection: Selection, batch_size: int, num_workers: int) -> DataLoader:
    """Batches of same-size images of ``selection`` (padded collate, which then pads nothing)."""
    batches = same_size_batches(dataset, selection.indices, batch_size)
    return DataLoader(dataset, batch_sampler=batches, collate_fn=pad_collate, num_workers=num_workers)


def image_batches(loader: DataLoader, bar: tqdm, skipped: list[BadSample] | None = None) -> Iterator[dict[str, Any]]:
    """The batches of ``loader`` that hold at least one image.

    ``bar`` counts samples, the skipped ones too, and is closed at the end;
    the skipped samples are added to ``skipped`` when it is given (and the
    bar shows their count).
    """
    for batch in loader:
        bar.update(len(batch["name"]) + len(batch["skipped"]))
        if batch["skipped"] and skipped is not None:
            skipped.extend(batch["skipped"])
            bar.set_postfix(skipped=len(skipped), refresh=False)
        if batch["name"]:
            yield batch
    bar.close()
