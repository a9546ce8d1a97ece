"""Train and eval transforms of an (image, mask) pair.

Images leave the pipeline as float RGB in [0, 1]; the model normalises them
(``model.pixel_mean`` / ``pixel_std``), so every part of the method sees the
plain colours. Randomness comes from torch's global generator, which the
training stream forks per item from the seed, so the stream is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as TF

from seco.labels import IGNORE_INDEX

__all__ = ["EvalTransform", "GlobalView", "Transform", "TrainTransform", "random_crop", "to_unit"]

Transform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(uint8 image (3, H, W), int64 mask (H, W)) -> (float image, int64 mask, crop_box)``."""


def to_unit(image: Tensor) -> Tensor:
    """A uint8 image as float in [0, 1]; a float image unchanged."""
    return image.float() / 255.0 if image.dtype == torch.uint8 else image


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def random_crop(image: Tensor, mask: Tensor, size: int, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """A ``size`` square crop at a random offset; where it leaves the image, image 0 (black) and mask ignore.

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
    """The image as float in [0, 1]; the crop box is the whole image."""

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        height, width = image.shape[-2:]
        crop_box = torch.tensor([0, height, 0, width], dtype=torch.int64)
        return to_unit(image), mask, crop_box


class TrainTransform:
    """Random rescale, horizontal flip, then a padded random crop (recipe: 0.5-2.0, flip, 448)."""

    def __init__(self, crop_size: int, scale_range: Sequence[float], ignore_index: int = IGNORE_INDEX) -> None:
        self.crop_size = crop_size
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.ignore_index = ignore_index

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        scale = _uniform(*self.scale_range)
        height, width = image.shape[-2:]
        target = [max(1, round(height * scale)), max(1, round(width * scale))]
        image = TF.resize(to_unit(image), target, InterpolationMode.BILINEAR, antialias=True)
        mask = TF.resize(mask[None], target, InterpolationMode.NEAREST)[0]
        if float(torch.rand(())) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        return random_crop(image, mask, self.crop_size, self.ignore_index)


class GlobalView:
    """The second global view of the public code, made from the whole image (before rescale and crop).

    A random resized crop to ``size`` (scale 0.4-1, bicubic), then a
    horizontal flip (p 0.5), colour jitter (brightness 0.4, contrast 0.4,
    saturation 0.2, hue 0.1; p 0.8), grayscale (p 0.2), Gaussian blur (sigma
    0.1-2, p 0.1) and solarisation (threshold 128, p 0.2), on the uint8 image
    as the public code does with PIL. Returns float RGB in [0, 1].
    """

    def __init__(self, size: int) -> None:
        self.pipeline = v2.Compose([
            v2.RandomResizedCrop(size, scale=(0.4, 1.0), interpolation=InterpolationMode.BICUBIC, antialias=True),
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.RandomApply([v2.GaussianBlur(kernel_size=13, sigma=(0.1, 2.0))], p=0.1),
            v2.RandomSolarize(threshold=128, p=0.2),
        ])

    def __call__(self, image: Tensor) -> Tensor:
        """``image``: uint8 (3, H, W) -> float (3, size, size) in [0, 1]."""
        return to_unit(self.pipeline(image))
