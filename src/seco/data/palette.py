"""The PASCAL VOC colour palette used for every mask written or drawn."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["palette_image", "voc_palette"]


def voc_palette(n: int = 256) -> np.ndarray:
    """The VOC colour map: ``(n, 3)`` uint8, index 0 black, index 255 the ignore colour.

    Bit ``k`` of a class id goes to bit ``7 - k // 3`` of the red, green or blue
    channel (``k % 3``), the scheme of the VOC development kit.
    """
    ids = np.arange(n)
    colours = np.zeros((n, 3), dtype=np.int64)
    for shift in range(8):
        for channel in range(3):
            bit = (ids >> (3 * shift + channel)) & 1
            colours[:, channel] |= bit << (7 - shift)
    return colours.astype(np.uint8)


def palette_image(mask: np.ndarray) -> Image.Image:
    """An (H, W) array of class ids 0..255 as a VOC-palette ``P`` image (what VOC's PNG masks are)."""
    image = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="P")
    image.putpalette(voc_palette(256).tobytes())
    return image
