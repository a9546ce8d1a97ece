"""Reading images, index masks and split lists, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from seco.data.errors import DataError

__all__ = [
    "IMAGE_SUFFIXES",
    "UNREADABLE",
    "check_class_ids",
    "check_mask_size",
    "find_image",
    "image_index",
    "mask_labels",
    "read_image",
    "read_index_png",
    "read_split_list",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"})
_INDEX_MODES = frozenset({"P", "L", "I", "I;16"})
UNREADABLE = (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


def read_image(path: Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB; any Pillow format."""
    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except UNREADABLE as err:
        raise DataError(f"{path}: unreadable or corrupt image ({err})") from err


def read_index_png(path: Path) -> np.ndarray:
    """A palette or greyscale mask as its raw ``(H, W)`` class indices (int64)."""
    try:
        with Image.open(path) as img:
            mode, values = img.mode, np.array(img, dtype=np.int64)
    except UNREADABLE as err:
        raise DataError(f"{path}: unreadable or corrupt mask ({err})") from err
    if mode not in _INDEX_MODES:
        raise DataError(f"{path}: mask has mode {mode}; expected a palette (P) or greyscale (L) PNG of class indices")
    return values


def check_mask_size(mask: np.ndarray, image_hw: tuple[int, int], origin: str) -> None:
    """Raise :class:`DataError` if ``mask`` is not the size of its image."""
    if tuple(mask.shape) != tuple(image_hw):
        raise DataError(
            f"{origin}: mask size {mask.shape[1]}x{mask.shape[0]} differs from its image size "
            f"{image_hw[1]}x{image_hw[0]} (width x height)"
        )


def check_class_ids(mask: np.ndarray, num_classes: int, ignore_index: int, origin: str) -> None:
    """Raise :class:`DataError` if ``mask`` holds a value outside ``[0, num_classes)`` and ignore."""
    values = np.unique(mask)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    if bad.size:
        raise DataError(
            f"{origin}: class id(s) {bad.tolist()} out of range; expected 0..{num_classes - 1} "
            f"or {ignore_index} (ignore)"
        )


def mask_labels(mask: np.ndarray, ignore_index: int) -> tuple[int, ...]:
    """The foreground class ids present in a checked mask."""
    values = np.unique(mask)
    return tuple(values[(values != 0) & (values != ignore_index)].tolist())


def image_index(directory: Path) -> dict[str, Path]:
    """Image files of a folder, keyed by file name and by stem (first in sorted order wins)."""
    if not directory.is_dir():
        raise DataError(f"{directory}: image folder does not exist")
    files = sorted(
        Path(entry.path)
        for entry in os.scandir(directory)
        if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES
    )
    index = {path.name: path for path in files}
    for path in files:
        index.setdefault(path.stem, path)
    return index


def find_image(index: dict[str, Path], key: str, listed_in: Path | str, folder: Path) -> Path:
    """The image a list entry names (file name or stem), or a :class:`DataError`."""
    path = index.get(Path(key).name) or index.get(Path(key).stem)
    if path is None:
        raise DataError(f"{listed_in}: entry {key!r} has no image file in {folder}")
    return path


def read_split_list(path: Path) -> list[str]:
    """Image names of a split list (first token of each line, path and suffix removed)."""
    if not path.is_file():
        raise DataError(f"{path}: split list does not exist")
    names = [Path(line.split()[0]).stem for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"{path}: split list is empty")
    return names
