"""Train and eval transforms of an (image, mask) pair, and (de)normalisation.

Randomness comes from torch's global generator, so a seeded DataLoader (its
workers are seeded from the loader's generator) is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from seco.labels import IGNORE_INDEX

__all__ = ["EvalTransform", "Transform", "TrainTransform", "denormalize", "normalize", "random_crop"]

Transform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(uint8 image (3, H, W), int64 mask (H, W)) -> (float image, int64 mask, crop_box)``."""


def _channels(values: Sequence[float], like: Tensor) -> Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).view(3, 1, 1)


def normalize(image: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """A uint8 or ``[0, 1]`` float image, normalised per channel."""
    image = image.float() / 255.0 if image.dtype == torch.uint8 else image
    return (image - _channels(mean, image)) / _channels(std, image)


def denormalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Undo :func:`normalize` on ``(3, H, W)`` or ``(B, 3, H, W)``; floats in ``[0, 1]``."""
    return (images * _channels(std, images) + _channels(mean, images)).clamp(0.0, 1.0)


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def random_crop(image: Tensor, mask: Tensor, size: int, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """A ``size`` square crop at a random offset; where it leaves the image, image 0 and mask ignore.

    Returns the crop and ``crop_box = [y0, y1, x0, x1]``, the image content inside it.
    """
    height, width = image.shape[-2:]
    top = int(torch.randint(min(0, height - size), max(0, height - size) + 1, ()))
    left = int(torch.randint(min(0, width - size), max(0, width - size) + 1, ()))
    y0, y1 = max(0, -top), min(size, height - top)
    x0, x1 = max(0, -left), min(size, width - left)
    out_image = image.new_zeros((image.shape[0], size, size))
    out_mask = mask.new_full((size, size), ignore_index)
    out_image[:, y0:y1, x0:x1] = image[:, top + y0 : top + y1, left + x0 : left + x1]
    out_mask[y0:y1, x0:x1] = mask[top + y0 : top + y1, left + x0 : left + x1]
    return out_image, out_mask, torch.tensor([y0, y1, x0, x1], dtype=torch.int64)


class EvalTransform:
    """Normalisation only; the crop box is the whole image."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = list(mean), list(std)

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        height, width = image.shape[-2:]
        crop_box = torch.tensor([0, height, 0, width], dtype=torch.int64)
        return normalize(image, self.mean, self.std), mask, crop_box


class TrainTransform(EvalTransform):
    """Random rescale, horizontal flip, normalisation, then a padded random crop."""

    def __init__(
        self,
        crop_size: int,
        scale_range: Sequence[float],
        mean: Sequence[float],
        std: Sequence[float],
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(mean, std)
        self.crop_size = crop_size
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.ignore_index = ignore_index

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        scale = _uniform(*self.scale_range)
        height, width = image.shape[-2:]
        target = [max(1, round(height * scale)), max(1, round(width * scale))]
        image = TF.resize(image.float() / 255.0, target, InterpolationMode.BILINEAR, antialias=True)
        mask = TF.resize(mask[None], target, InterpolationMode.NEAREST)[0]
        if float(torch.rand(())) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        image = normalize(image, self.mean, self.std)
        return random_crop(image, mask, self.crop_size, self.ignore_index)
