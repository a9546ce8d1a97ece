"""The pretraining set as a torch Dataset, drawn on demand from a seed.

Drawing an image (a few ms) is cheaper than reading it from disk, so nothing
is cached: image ``i`` of a split is drawn from
``numpy.random.default_rng([seed, PRETRAIN_STREAM, split, i])`` every time it
is asked for. The benchmark draws from ``default_rng([seed, split, i])``, a
different seed sequence, so the two sets share no image. The training split
is as long as training needs: every step sees new images.

Every ``mosaic_every``-th batch is made of mosaics: 2x2 grids of four scenes
drawn at half size, each tile labelled with its own classes (``tile_labels``),
so that pretraining can classify each quadrant from its own tokens
(:func:`seco.pretrain.train.tile_cross_entropy`). Image-level labels still,
only of smaller images: a token can no longer score a class that sits in
another tile, which is what makes the class maps local.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seco.synthetic.contexts import CONTEXTS
from seco.synthetic.pretrain_scenes import PRETRAIN_CLASSES, render_pretrain_scene

__all__ = ["PRETRAIN_STREAM", "PretrainSet"]

PRETRAIN_STREAM = 0x5EC0_9E7
SPLITS = ("train", "val")
MOSAIC = 2
"""Tiles per side of a mosaic."""


def _tile(layers: list[np.ndarray], grid: int) -> torch.Tensor:
    """Lay ``grid * grid`` equal arrays (row by row) out as one ``grid x grid`` mosaic."""
    rows = [np.concatenate(layers[r * grid:(r + 1) * grid], axis=1) for r in range(grid)]
    return torch.from_numpy(np.ascontiguousarray(np.concatenate(rows, axis=0)))


class PretrainSet(Dataset):
    """``length`` images of split ``split`` (``train`` or ``val``) at ``image_size`` pixels.

    Items are dicts: ``image`` (3, S, S) float in [0, 1], ``labels`` (K,)
    multi-hot over the foreground classes, ``tile_labels`` (G*G, K) the same
    per tile of a G x G mosaic, row by row (G = 1: one tile, the image),
    ``mask`` (S, S) class ids (0 = background), ``context`` (S, S) ids into
    ``context_names`` (0 = none). Item ``i`` belongs to batch ``i // batch_size``;
    with ``mosaic_every`` N > 0 every N-th batch (N-1, 2N-1, ...) is of 2x2 mosaics.
    """

    class_names: tuple[str, ...] = PRETRAIN_CLASSES
    context_names: tuple[str, ...] = ("none", *CONTEXTS)

    def __init__(self, seed: int, split: str, length: int, image_size: int = 96, mosaic_every: int = 0,
                 batch_size: int = 1) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if length < 0 or image_size < 16:
            raise ValueError(f"need length >= 0 and image_size >= 16, got {length} and {image_size}")
        if mosaic_every < 0 or batch_size < 1 or (mosaic_every and image_size % MOSAIC):
            raise ValueError(f"need mosaic_every >= 0, batch_size >= 1 and, with mosaics, an image size divisible "
                             f"by {MOSAIC}; got {mosaic_every}, {batch_size} and {image_size}")
        self.seed, self.split_id, self.length, self.image_size = seed, SPLITS.index(split), length, image_size
        self.mosaic_every, self.batch_size = mosaic_every, batch_size

    @property
    def num_classes(self) -> int:
        """Classes including background, as :func:`seco.model.build_model` counts them."""
        return len(self.class_names)

    def __len__(self) -> int:
        return self.length

    def grid(self, index: int) -> int:
        """Tiles per side of item ``index``: ``MOSAIC`` in every ``mosaic_every``-th batch, else 1."""
        every = self.mosaic_every
        return MOSAIC if every and (index // self.batch_size) % every == every - 1 else 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"image {index} is outside the {self.length} images of this split")
        stream = [self.seed, PRETRAIN_STREAM, self.split_id, index]
        grid = self.grid(index)
        if grid == 1:
            tiles = [render_pretrain_scene(np.random.default_rng(stream), self.image_size)]
        else:
            tiles = [render_pretrain_scene(np.random.default_rng([*stream, tile]), self.image_size // grid)
                     for tile in range(grid * grid)]
        tile_labels = torch.stack([self._labels(tile.label) for tile in tiles])
        image = _tile([tile.to_uint8() for tile in tiles], grid).permute(2, 0, 1).float().div_(255.0)
        return {"image": image, "labels": tile_labels.amax(0), "tile_labels": tile_labels,
                "mask": _tile([tile.label for tile in tiles], grid),
                "context": _tile([tile.context for tile in tiles], grid)}

    def _labels(self, mask: np.ndarray) -> torch.Tensor:
        labels = torch.zeros(self.num_classes - 1)
        present = np.unique(mask).astype(np.int64)
        labels[torch.from_numpy(present[present > 0] - 1)] = 1.0
        return labels
