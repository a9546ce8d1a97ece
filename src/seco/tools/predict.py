"""Segment a user's own images: a small predictor object and a folder walker.

>>> predictor = Predictor.from_checkpoint("runs/demo/last.pt")
>>> mask = predictor.predict(Image.open("photo.jpg"))   # (H, W) class ids

Any image Pillow reads works, of any size and mode (grayscale, palette,
RGBA are converted to RGB). Images whose longer side exceeds
``eval.max_side`` are shrunk for the network and the scores resized back,
so memory stays bounded; the mask always has the input's size.

:func:`predict_paths` never writes over an input image, keeps the inputs'
folder structure under the output folder, and refuses to replace an
existing output unless asked to; all of this is checked before anything
is written. Images whose outputs would share a name (``a.jpg`` and ``a.png``)
keep their extension in it (``a.jpg.png``, ``a.png.png``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from seco.atomic import atomic_write
from seco.config import Config
from seco.data.errors import DataError
from seco.data.files import IMAGE_SUFFIXES, read_image
from seco.data.palette import palette_image, voc_palette
from seco.errors import SecoError
from seco.evaluation.inference import seg_scores
from seco.evaluation.trained import load_trained
from seco.model import SeCoNet

__all__ = ["PredictError", "PredictJob", "Predictor", "find_images", "plan_predictions", "predict_paths"]

OUTPUT_TITLE = "seg (segmentation head)"


class PredictError(SecoError, ValueError):
    """``seco predict`` would lose a file; the message names it and says what to do."""


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
        return self.scores(image).max(0).indices.byte().cpu().numpy()

    def colorize(self, mask: np.ndarray) -> Image.Image:
        """A palette PNG image of a mask (VOC colours)."""
        return palette_image(mask)

    def overlay(self, image: Image.Image, mask: np.ndarray, alpha: float = 0.5) -> Image.Image:
        """The image blended with its coloured mask (background left clear), above a legend that
        names the output and the colour of each class present."""
        base = image.convert("RGB")
        colour = self.colorize(mask).convert("RGB")
        blended = Image.blend(base, colour, alpha)
        keep = Image.fromarray(((mask == 0) * 255).astype(np.uint8), mode="L")
        return _with_legend(Image.composite(base, blended, keep), mask, self.class_names)


def _with_legend(picture: Image.Image, mask: np.ndarray, class_names: list[str]) -> Image.Image:
    """``picture`` above a white band: the output's name, then a swatch and name per class in ``mask``."""
    font = ImageFont.load_default()
    palette = voc_palette(256)
    items = [(None, OUTPUT_TITLE)] + [(int(c), class_names[c] if c < len(class_names) else f"class {c}")
                                      for c in np.unique(mask).tolist()]
    line, swatch, pad = 12, 10, 4
    width = max(picture.width, max(int(font.getlength(text)) + swatch + 3 * pad for _, text in items))
    rows: list[list[tuple[int | None, str]]] = [[]]
    used = 0
    for item in items:
        size = int(font.getlength(item[1])) + swatch + 3 * pad
        if rows[-1] and used + size > width:
            rows.append([])
            used = 0
        rows[-1].append(item)
        used += size
    canvas = Image.new("RGB", (width, picture.height + pad + line * len(rows)), "white")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        x, y = pad, picture.height + pad + r * line
        for class_id, text in row:
            if class_id is not None:
                draw.rectangle([x, y + 1, x + swatch, y + swatch + 1], fill=tuple(int(v) for v in palette[class_id]),
                               outline="grey")
                x += swatch + pad
            draw.text((x, y), text, fill="black", font=font)
            x += int(font.getlength(text)) + 2 * pad
    return canvas


def find_images(paths: Iterable[Path]) -> Iterator[Path]:
    """Image files among ``paths``; folders are walked recursively in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")


@dataclass(frozen=True)
class PredictJob:
    """One input image and the two files it becomes; ``kept_suffix``: their names keep the image's extension,
    as another image's outputs would have its name otherwise."""

    image: Path
    mask: Path
    overlay: Path
    kept_suffix: bool = False

    @classmethod
    def into(cls, image: Path, folder: Path, kept_suffix: bool = False) -> PredictJob:
        """The job that writes ``image``'s mask and overlay into ``folder``."""
        name = image.name if kept_suffix else image.stem
        return cls(image, folder / f"{name}.png", folder / f"{name}_overlay.png", kept_suffix)


def _inputs(paths: Iterable[Path], out_dir: Path) -> Iterator[tuple[Path, Path]]:
    """``(image, output folder)`` pairs: a folder's images keep their path below it; the output folder, when it
    lies inside an input folder, is not walked (its masks are not inputs)."""
    out = out_dir.resolve()
    for path in paths:
        if not path.is_dir():
            for image in find_images([path]):
                yield image, out_dir
            continue
        inside = out != path.resolve() and out.is_relative_to(path.resolve())
        for image in find_images([path]):
            if inside and image.resolve().is_relative_to(out):
                continue
            yield image, out_dir / image.relative_to(path).parent


def _sharing_a_name(jobs: Iterable[PredictJob]) -> set[Path]:
    """The images some of whose outputs are another image's outputs too."""
    writers: dict[Path, set[Path]] = {}
    for job in jobs:
        for target in (job.mask, job.overlay):
            writers.setdefault(target.resolve(), set()).add(job.image)
    return {image for images in writers.values() if len(images) > 1 for image in images}


def plan_predictions(paths: Iterable[Path], out_dir: Path, overwrite: bool = False) -> list[PredictJob]:
    """The files ``predict_paths`` would write, checked before any is written.

    An image whose outputs would share a name with another's (``a.jpg`` and
    ``a.png``, or ``a.png`` and ``a_overlay.jpg``) keeps its extension in them.

    Raises:
        PredictError: an output would replace an input image, two inputs
            would still write one output (the same file name given from two
            folders), or an output exists (without ``overwrite``).
    """
    inputs: dict[Path, tuple[Path, Path]] = {}
    for image, folder in _inputs(paths, out_dir):
        inputs.setdefault(image.resolve(), (image, folder))
    seen = set(inputs)
    clash = _sharing_a_name(PredictJob.into(image, folder) for image, folder in inputs.values())
    jobs = [PredictJob.into(image, folder, image in clash) for image, folder in inputs.values()]
    writers: dict[Path, Path] = {}
    for job in jobs:
        for target in (job.mask, job.overlay):
            if target.resolve() in seen:
                raise PredictError(f"{target} is one of the input images; predict never writes over an input: "
                                   "choose another --out")
            other = writers.setdefault(target.resolve(), job.image)
            if other != job.image:
                raise PredictError(f"{other} and {job.image} would both be written to {target}; predict them "
                                   "into different --out folders, give their common folder (its sub-folders are "
                                   "kept), or rename one")
    existing = [t for job in jobs for t in (job.mask, job.overlay) if t.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise PredictError(f"{existing[0]} exists{more}; pass --overwrite to replace the predictions there, or "
                           "choose another --out")
    return jobs


def _save_png(image: Image.Image, path: Path) -> None:
    atomic_write(path, lambda handle: image.save(handle, format="PNG"))


def predict_paths(predictor: Predictor, paths: Iterable[Path], out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write ``<stem>.png`` (palette mask) and ``<stem>_overlay.png`` per image under ``out_dir`` (``<name>.png``
    and ``<name>_overlay.png`` where names would clash), each in the sub-folder its image has below the folder
    given; return the masks written.

    Everything is checked first (:func:`plan_predictions`); each file is written atomically.
    """
    written: list[Path] = []
    jobs = plan_predictions(paths, out_dir, overwrite)
    for job in jobs:
        try:
            image = Image.fromarray(read_image(job.image))
        except DataError as err:
            raise DataError(f"{err}; {len(written)} of {len(jobs)} images were predicted into {out_dir} "
                            "before it") from None
        mask = predictor.predict(image)
        _save_png(predictor.colorize(mask), job.mask)
        _save_png(predictor.overlay(image, mask), job.overlay)
        written.append(job.mask)
    return written
