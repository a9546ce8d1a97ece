"""Segment a user's own images: a small predictor object and a folder walker.

>>> predictor = Predictor.from_checkpoint("runs/demo/last.pt")
>>> mask = predictor.predict(Image.open("photo.jpg"))   # (H, W) class ids

Any image Pillow reads works, of any size and mode (grayscale, palette,
RGBA are converted to RGB). Images whose longer side exceeds
``eval.max_side`` are shrunk for the network and the scores resized back,
so memory stays bounded; the mask always has the input's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from seco.config import Config
from seco.data.files import IMAGE_SUFFIXES, read_image
from seco.data.palette import palette_image
from seco.engine.inference import seg_scores
from seco.engine.restore import load_trained
from seco.model import SeCoNet

__all__ = ["Predictor", "find_images", "predict_paths"]


class Predictor:
    """The segmentation head at ``eval.seg_scales`` with flips, on any image."""

    def __init__(self, net: SeCoNet, cfg: Config, class_names: list[str]) -> None:
        self.net = net.eval()
        self.cfg = cfg
        self.class_names = class_names
        self.device = next(net.parameters()).device

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, device: str = "auto") -> Predictor:
        trained = load_trained(checkpoint, device=device)
        return cls(trained.net, trained.cfg, trained.class_names)

    @torch.no_grad()
    def scores(self, image: Image.Image) -> torch.Tensor:
        """Class probabilities (C, H, W) at the image's own size."""
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].to(self.device)
        height, width = x.shape[-2:]
        longest = max(height, width)
        if self.cfg.eval.max_side and longest > self.cfg.eval.max_side:
            scale = self.cfg.eval.max_side / longest
            x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
        probs = seg_scores(self.net, x, list(self.cfg.eval.seg_scales), self.cfg.eval.flip)
        if probs.shape[-2:] != (height, width):
            probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
        return probs[0]

    def predict(self, image: Image.Image) -> np.ndarray:
        """(H, W) uint8 class ids."""
        return self.scores(image).argmax(0).byte().cpu().numpy()

    def colorize(self, mask: np.ndarray) -> Image.Image:
        """A palette PNG image of a mask (VOC colours)."""
        return palette_image(mask)

    def overlay(self, image: Image.Image, mask: np.ndarray, alpha: float = 0.5) -> Image.Image:
        """The image blended with its coloured mask (background left clear)."""
        base = image.convert("RGB")
        colour = self.colorize(mask).convert("RGB")
        blended = Image.blend(base, colour, alpha)
        keep = Image.fromarray(((mask == 0) * 255).astype(np.uint8), mode="L")
        return Image.composite(base, blended, keep)


def find_images(paths: Iterable[Path]) -> Iterator[Path]:
    """Image files among ``paths``; folders are walked recursively in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")


def predict_paths(predictor: Predictor, paths: Iterable[Path], out_dir: Path) -> list[Path]:
    """Write ``<stem>.png`` (palette mask) and ``<stem>_overlay.png`` per image; return the mask paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in find_images(paths):
        image = Image.fromarray(read_image(path))
        mask = predictor.predict(image)
        target = out_dir / f"{path.stem}.png"
        predictor.colorize(mask).save(target)
        predictor.overlay(image, mask).save(out_dir / f"{path.stem}_overlay.png")
        written.append(target)
    return written
