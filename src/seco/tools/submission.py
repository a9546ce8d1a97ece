"""PASCAL VOC 2012 test-server submission (the paper's Table 1 "Test" column).

The evaluation server takes a tar archive holding::

    results/VOC2012/Segmentation/comp6_test_cls/<image id>.png

one indexed (mode ``P``) PNG per test image, at the image's own size, whose
pixel values are class ids 0-20 with the VOC colour palette. ``comp6`` is the
competition for methods trained with data beyond VOC (here the ImageNet
pretraining of the backbone). The predictions are those of the "Val"
column: the segmentation head at ``eval.seg_scales`` with flips, refined by
the dense CRF when ``eval.crf`` is true (as the VOC config sets, like the
paper).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from seco.atomic import atomic_write
from seco.config import Config
from seco.data import build_image_set, pad_collate
from seco.data.palette import palette_image
from seco.engine.progress import progress_bar
from seco.evaluation.crf import CRFPool
from seco.evaluation.inference import seg_scores
from seco.evaluation.trained import Trained
from seco.model import SeCoNet

__all__ = ["ARCHIVE_NAME", "SUBMISSION_DIR", "Submission", "export_voc_test"]

SUBMISSION_DIR = PurePosixPath("results/VOC2012/Segmentation/comp6_test_cls")
ARCHIVE_NAME = "results.tar.gz"


@dataclass
class Submission:
    """What :func:`export_voc_test` wrote: the PNG folder, their count and the archive, if asked for."""

    folder: Path
    count: int
    archive: Path | None


def _write_png(path: Path, labels: np.ndarray) -> None:
    atomic_write(path, lambda handle: palette_image(labels).save(handle, format="PNG"))


def _seg_items(net: SeCoNet, loader: DataLoader, cfg: Config,
               bar: tqdm) -> Iterator[tuple[str, np.ndarray, torch.Tensor]]:
    """``(name, rgb uint8 (h, w, 3), probabilities (C, h, w))`` per image, padding cut off."""
    device = next(net.parameters()).device
    for batch in loader:
        images = batch["image"].to(device)
        probs = seg_scores(net, images, list(cfg.eval.seg_scales), cfg.eval.flip)
        rgb8 = (images * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        for i, name in enumerate(batch["name"]):
            h, w = batch["size"][i].tolist()
            yield name, rgb8[i, :h, :w], probs[i, :, :h, :w]
        bar.update(1)
    bar.close()


@torch.no_grad()
def export_voc_test(trained: Trained, split: str, out: Path, archive: bool = False,
                    progress: bool = True) -> Submission:
    """Write the server layout under ``out`` for every image of ``split``; with ``archive`` also
    ``out/results.tar.gz`` holding exactly the PNGs written now (ready to upload).

    ``split`` needs only its list and images (``ImageSets/Segmentation/<split>.txt``), no labels or masks.
    """
    cfg, net = trained.cfg, trained.net.eval()
    dataset = build_image_set(cfg.data, split, trained.class_names)
    loader = DataLoader(dataset, batch_size=cfg.eval.batch_size, collate_fn=pad_collate,
                        num_workers=cfg.data.num_workers)
    folder = out / SUBMISSION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    items = _seg_items(net, loader, cfg, progress_bar(f"export {split} (VOC test server)", progress,
                                                      total=len(loader)))
    names = []
    if cfg.eval.crf:
        with CRFPool(workers=cfg.eval.crf_workers) as pool:
            on_host = ((name, rgb, probs.float().cpu().numpy()) for name, rgb, probs in items)
            for name, labels in pool.imap(on_host):
                _write_png(folder / f"{name}.png", labels)
                names.append(name)
    else:
        for name, _, probs in items:
            _write_png(folder / f"{name}.png", probs.max(0).indices.byte().cpu().numpy())
            names.append(name)
    tar_path = _archive(out, names) if archive else None
    return Submission(folder=folder, count=len(names), archive=tar_path)


def _archive(out: Path, names: list[str]) -> Path:
    """``out/results.tar.gz`` with ``results/VOC2012/.../<name>.png`` for each name, in order."""

    def write(handle: BinaryIO) -> None:
        with tarfile.open(fileobj=handle, mode="w:gz") as tar:
            for name in names:
                member = SUBMISSION_DIR / f"{name}.png"
                tar.add(out / member, arcname=str(member))

    return atomic_write(out / ARCHIVE_NAME, write)
