"""Patch-level feature view of one image (paper Fig. 6), the numbers behind ``seco explain``.

The image is cut into a ``grid x grid`` array of patches, numbered row by row
from 1. Each patch is resized to the size the student saw local patches at in
training (``method.decomposition.patch_size``) and embedded by the trained
student after the projection head: q = O(g(x)) of eq. 2, the class token the
contrast losses act on. Each patch gets a tag by the method's own rule
(:func:`seco.method.tags.patch_tags`, Sec. 3.3): from the ground-truth mask
when there is one, else from the checkpoint's CAMs for the classes its
classifier predicts, inferred as ``seco evaluate`` and ``export-masks`` infer
them (:func:`seco.evaluation.inference.inference_cams`: ``eval.cam_scales``,
``eval.cam_flip``, ``method.cam.flip_merge``, ``relu_after_resize``), and the
command says which inference that was, as the reports do. Where the checkpoint
has global-teacher prototypes (eq. 3), the cosine similarity of every patch to
every prototype is kept too: the right half of the paper's Fig. 6.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from seco.data.errors import DataError
from seco.data.files import check_class_ids, check_mask_size, read_image, read_index_png
from seco.engine.checkpoint import CheckpointError
from seco.evaluation.inference import cam_inference_record, inference_cam_config, inference_cams
from seco.evaluation.trained import Trained, load_trained
from seco.labels import IGNORE_INDEX, UNCERTAIN
from seco.method.pseudo_labels import tag_mask
from seco.method.tags import patch_tags
from seco.report.patch_view import Box, PatchView, patch_view_figure
from seco.report.tables import cam_inference_line

__all__ = ["cam_inference_note", "explain_cams", "explain_image", "find_mask", "grid_boxes",
           "image_tensor", "patch_view"]

log = logging.getLogger(__name__)


def grid_boxes(height: int, width: int, grid: int) -> list[Box]:
    """The ``grid x grid`` cells of an image, row by row; edges are spread so every pixel is in one cell."""
    if grid < 1 or grid > min(height, width):
        raise ValueError(f"a {grid} x {grid} grid does not fit a {width} x {height} image")
    ys = np.linspace(0, height, grid + 1).round().astype(int)
    xs = np.linspace(0, width, grid + 1).round().astype(int)
    return [(int(ys[r]), int(ys[r + 1]), int(xs[c]), int(xs[c + 1])) for r in range(grid) for c in range(grid)]


def _cells(tensor: Tensor, boxes: list[Box], size: int, mode: str) -> Tensor:
    """(N, C, size, size): each box of a (1, C, H, W) tensor resized to ``size``."""
    options = {"align_corners": False} if mode == "bilinear" else {}
    return torch.cat([F.interpolate(tensor[:, :, y0:y1, x0:x1], size=(size, size), mode=mode, **options)
                      for y0, y1, x0, x1 in boxes])


def image_tensor(rgb: np.ndarray, device: torch.device | str) -> Tensor:
    """(1, 3, H, W) float RGB in [0, 1] of an (H, W, 3) uint8 image, as the data sets give it to the model."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255).to(device)


@torch.no_grad()
def explain_cams(trained: Trained, image: Tensor) -> tuple[Tensor, Tensor]:
    """The (1, K, H, W) CAMs of the classes the classifier predicts (the top one at least), and those labels (1, K).

    They come from :func:`seco.evaluation.inference.inference_cams`, the one CAM
    inference of ``seco evaluate``, ``export-masks`` and the background-score
    sweep, not from the training step's ``method.cam.scales``.
    """
    net = trained.net
    logits = net(image, with_seg=False).logits
    labels = (logits > 0).float()
    labels[0, logits[0].argmax()] = 1.0
    return inference_cams(net, image, labels, trained.cfg), labels


def cam_inference_note(trained: Trained) -> str:
    """The line that says how :func:`explain_cams` inferred a checkpoint's CAMs, in the reports' words."""
    cam, record = inference_cam_config(trained.cfg), cam_inference_record(trained.cfg)
    return (f"{cam_inference_line({'cam_inference': record})}; tag thresholds {cam.high_thr:g} (class) / "
            f"{cam.low_thr:g} (background)")


@torch.no_grad()
def _cam_tag_mask(trained: Trained, image: Tensor) -> Tensor:
    """(1, H, W) tag mask from :func:`explain_cams`."""
    cam_cfg = trained.cfg.method.cam
    cam, _ = explain_cams(trained, image)
    height, width = image.shape[-2:]
    box = torch.tensor([[0, height, 0, width]], device=image.device)
    return tag_mask(cam, cam_cfg.high_thr, cam_cfg.low_thr, box)


@torch.no_grad()
def patch_view(trained: Trained, rgb: np.ndarray, grid: int, mask: np.ndarray | None = None) -> PatchView:
    """Embed and tag the ``grid x grid`` patches of ``rgb`` (H, W, 3 uint8) with ``trained``.

    ``mask`` (H, W) holds ground-truth class ids (255 ignored); without it the
    tags come from the checkpoint's CAMs.
    """
    net, dec = trained.net, trained.cfg.method.decomposition
    device = next(net.parameters()).device
    image = image_tensor(rgb, device)
    boxes = grid_boxes(*rgb.shape[:2], grid)
    embeddings = net.embed(_cells(image, boxes, dec.patch_size, "bilinear"))
    if mask is not None:
        known = torch.from_numpy(mask.astype(np.int64)).to(device)
        source, tags_map = "ground truth", torch.where(known == IGNORE_INDEX, UNCERTAIN, known)[None]
    else:
        source, tags_map = "CAM", _cam_tag_mask(trained, image)
    cells = _cells(tags_map[:, None].float(), boxes, dec.patch_size, "nearest")[:, 0].long()
    names = list(trained.prototypes)
    similarity = np.zeros((len(boxes), 0), dtype=np.float32)
    if names:
        prototypes = F.normalize(torch.stack([trained.prototypes[n] for n in names]).float().to(device), dim=1)
        similarity = (F.normalize(embeddings.float(), dim=1) @ prototypes.T).cpu().numpy()
    return PatchView(embeddings=embeddings.float().cpu().numpy(), tags=patch_tags(cells, dec.phi).cpu().numpy(),
                     tag_source=source, similarity=similarity, prototype_names=names)


def find_mask(image: Path, mask_dir: str) -> Path | None:
    """The ground-truth mask of an image inside a VOC-layout set: ``<root>/<mask_dir>/<stem>.png`` next to
    ``<root>/<image folder>/<image>``, if it exists."""
    candidate = image.parent.parent / mask_dir / f"{image.stem}.png"
    return candidate if candidate.is_file() else None


def _read_inputs(image: Path, mask_path: Path | None, num_classes: int,
                 max_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The image (H, W, 3 uint8) and its checked mask, both shrunk to ``max_side`` (0: never)."""
    picture = Image.fromarray(read_image(image))
    mask = None
    if mask_path is not None:
        mask = read_index_png(mask_path)
        check_mask_size(mask, (picture.height, picture.width), str(mask_path))
        check_class_ids(mask, num_classes, IGNORE_INDEX, str(mask_path))
    longest = max(picture.size)
    if max_side and longest > max_side:
        size = (round(picture.width * max_side / longest), round(picture.height * max_side / longest))
        picture = picture.resize(size, Image.Resampling.BILINEAR)
        if mask is not None:
            mask = np.array(Image.fromarray(mask.astype(np.uint8)).resize(size, Image.Resampling.NEAREST))
    return np.array(picture), mask


def explain_image(image: Path, checkpoints: Mapping[str, Path], out: Path, grid: int = 4,
                  mask_path: Path | None = None, projection: str = "pca") -> Path:
    """Draw the patch view of ``image`` for each checkpoint (e.g. ``{"SeCo": ..., "baseline": ...}``) side by
    side into ``out``; returns the PNG path.

    The mask is ``mask_path`` or, when not given, found by :func:`find_mask` with
    the first checkpoint's ``data.mask_dir``; without one, tags come from CAMs
    (:func:`explain_cams`), and one line per checkpoint says how they were inferred.

    Raises:
        CheckpointError: the checkpoints were trained on different classes.
        DataError: an unreadable image or mask, a mask of another size, a grid finer than the image.
    """
    trained = {title: load_trained(path) for title, path in checkpoints.items()}
    first_title, first = next(iter(trained.items()))
    for title, other in trained.items():
        if other.class_names != first.class_names:
            raise CheckpointError(f"{checkpoints[title]} has other classes than {checkpoints[first_title]}; "
                                  "the patch views need checkpoints of one data set")
    mask_path = mask_path or find_mask(image, first.cfg.data.mask_dir)
    rgb, mask = _read_inputs(image, mask_path, len(first.class_names), first.cfg.eval.max_side)
    if grid < 1 or grid > min(rgb.shape[:2]):
        raise DataError(f"{image}: a {grid} x {grid} grid does not fit its {rgb.shape[1]} x {rgb.shape[0]} pixels")
    views = {f"{title} ({t.cfg.name}, iteration {t.iteration})": patch_view(t, rgb, grid, mask)
             for title, t in trained.items()}
    if mask is None:
        for title, t in trained.items():
            log.info("%s: %s", title, cam_inference_note(t))
    return patch_view_figure(rgb, grid_boxes(*rgb.shape[:2], grid), views, first.class_names, out,
                             projection, seed=first.cfg.seed)
