"""Batching items whose images may differ in size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from seco.labels import IGNORE_INDEX

__all__ = ["pad_collate", "train_collate"]


def _split_skipped(batch: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The items that hold an image (without their ``skipped`` entry) and every skipped sample."""
    skipped = [bad for item in batch for bad in item.get("skipped", ())]
    kept = [{k: v for k, v in item.items() if k != "skipped"} for item in batch if "image" in item]
    return kept, skipped


def train_collate(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate`` of the items, plus ``skipped``: the bad samples left out to make them."""
    kept, skipped = _split_skipped(batch)
    return {**default_collate(kept), "skipped": skipped}


def pad_collate(batch: Sequence[dict[str, Any]], ignore_index: int = IGNORE_INDEX) -> dict[str, Any]:
    """Stack items; pad images (with 0), masks (with ``ignore_index``) and context maps (with 0,
    none) at the bottom and right.

    Each item's ``size`` and ``crop_box`` stay as they were, so callers can cut
    the padding off again. Dropped bad samples (items without an image) are
    left out and listed in ``skipped``; ``name`` is empty when all were.
    """
    batch, skipped = _split_skipped(batch)
    if not batch:
        return {"name": [], "skipped": skipped}
    height = max(item["image"].shape[-2] for item in batch)
    width = max(item["image"].shape[-1] for item in batch)

    def pad(tensor: torch.Tensor, value: float) -> torch.Tensor:
        return F.pad(tensor, (0, width - tensor.shape[-1], 0, height - tensor.shape[-2]), value=value)

    batched = {
        "image": torch.stack([pad(item["image"], 0.0) for item in batch]),
        "mask": torch.stack([pad(item["mask"], ignore_index) for item in batch]),
        "labels": torch.stack([item["labels"] for item in batch]),
        "crop_box": torch.stack([item["crop_box"] for item in batch]),
        "size": torch.stack([item["size"] for item in batch]),
        "name": [item["name"] for item in batch],
        "skipped": skipped,
    }
    if "context" in batch[0]:
        batched["context"] = torch.stack([pad(item["context"], 0) for item in batch])
    return batched
