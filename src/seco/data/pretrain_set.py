"""The pretraining set as a torch Dataset, drawn on demand from a seed.

Drawing an image (a few ms) is cheaper than reading it from disk, so nothing
is cached: image ``i`` of a split is drawn from
``numpy.random.default_rng([seed, PRETRAIN_STREAM, split, i])`` every time it
is asked for. The benchmark draws from ``default_rng([seed, split, i])``, a
different seed sequence, so the two sets share no image. The training split
is as long as training needs: every step sees new images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seco.data.contexts import CONTEXTS
from seco.data.pretrain_scenes import PRETRAIN_CLASSES, render_pretrain_scene

__all__ = ["PRETRAIN_STREAM", "PretrainSet"]

PRETRAIN_STREAM = 0x5EC0_9E7
SPLITS = ("train", "val")


class PretrainSet(Dataset):
    """``length`` images of split ``split`` (``train`` or ``val``) at ``image_size`` pixels.

    Items are dicts: ``image`` (3, S, S) float in [0, 1], ``labels`` (K,)
    multi-hot over the foreground classes, ``mask`` (S, S) class ids
    (0 = background), ``context`` (S, S) ids into ``context_names`` (0 = none).
    """

    class_names: tuple[str, ...] = PRETRAIN_CLASSES
    context_names: tuple[str, ...] = ("none", *CONTEXTS)

    def __init__(self, seed: int, split: str, length: int, image_size: int = 96) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if length < 0 or image_size < 16:
            raise ValueError(f"need length >= 0 and image_size >= 16, got {length} and {image_size}")
        self.seed, self.split_id, self.length, self.image_size = seed, SPLITS.index(split), length, image_size

    @property
    def num_classes(self) -> int:
        """Classes including background, as :func:`seco.model.build_model` counts them."""
        return len(self.class_names)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"image {index} is outside the {self.length} images of this split")
        canvas = render_pretrain_scene(np.random.default_rng([self.seed, PRETRAIN_STREAM, self.split_id, index]),
                                       self.image_size)
        labels = torch.zeros(self.num_classes - 1)
        present = np.unique(canvas.label).astype(np.int64)
        labels[torch.from_numpy(present[present > 0] - 1)] = 1.0
        image = torch.from_numpy(canvas.to_uint8()).permute(2, 0, 1).float().div_(255.0)
        return {"image": image, "labels": labels, "mask": torch.from_numpy(canvas.label),
                "context": torch.from_numpy(canvas.context)}
