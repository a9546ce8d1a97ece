"""Shared fixtures: a tiny generated synthetic set and a tiny hand-made VOC folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seco.config import Config, DataConfig, SyntheticConfig, load_config
from seco.data import voc_palette
from seco.synthetic.benchmark import make_synthetic
from support import TINY_SYNTHETIC, tiny_overrides


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic set of 24 train and 8 val images at 96 px (generated once per session)."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic") / "set", TINY_SYNTHETIC)


@pytest.fixture
def synthetic_data_cfg(synthetic_root: Path) -> DataConfig:
    """A data config that reads :func:`synthetic_root` (a fresh copy per test)."""
    settings = SyntheticConfig(**vars(TINY_SYNTHETIC))
    return DataConfig(format="synthetic", root=str(synthetic_root), synthetic=settings)


def write_palette_png(path: Path, mask: np.ndarray) -> None:
    """Save ``mask`` as a VOC-palette PNG of raw class indices."""
    img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    img.putpalette(voc_palette().tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def write_image(path: Path, hw: tuple[int, int], seed: int) -> None:
    """Save a random RGB image of size ``hw`` (format from the suffix)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    """A VOC folder: train = a (palette mask: 15 person, 12 dog), b (greyscale mask: 1, ignore border);
    val = c (background only). Images are JPEG (a, c) and PNG (b)."""
    root = tmp_path / "VOC"
    write_image(root / "JPEGImages" / "a.jpg", (20, 24), 0)
    write_image(root / "JPEGImages" / "b.png", (16, 18), 1)
    write_image(root / "JPEGImages" / "c.jpg", (12, 14), 2)
    mask_a = np.zeros((20, 24), np.uint8)
    mask_a[2:8, 3:9], mask_a[10:18, 12:20] = 15, 12
    write_palette_png(root / "SegmentationClass" / "a.png", mask_a)
    mask_b = np.full((16, 18), 255, np.uint8)
    mask_b[1:-1, 1:-1] = 0
    mask_b[4:10, 4:10] = 1
    (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask_b).save(root / "SegmentationClass" / "b.png")
    write_palette_png(root / "SegmentationClass" / "c.png", np.zeros((12, 14), np.uint8))
    lists = root / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("a\nb\n")
    (lists / "val.txt").write_text("c\n")
    return root


@pytest.fixture
def tiny_cfg(synthetic_root: Path, tmp_path: Path) -> Config:
    """The synthetic config shrunk to a tiny model and a few iterations."""
    return load_config("synthetic", tiny_overrides(synthetic_root, tmp_path / "run"))


@pytest.fixture(scope="session")
def tiny_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of the tiny model trained 2 iterations on :func:`synthetic_root` (read it, do not write)."""
    from seco.engine.train import train

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    train(load_config("synthetic", tiny_overrides(synthetic_root, out, iterations=2)), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_run: Path) -> Path:
    """``last.pt`` of :func:`tiny_run` (read it, do not write)."""
    return tiny_run / "last.pt"
