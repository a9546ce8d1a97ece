"""Export pseudo masks (CAM + PAR) in the VOC layout for a second-stage segmenter."""

from __future__ import annotations

from pathlib import Path

import torch

from seco.data.palette import palette_image
from seco.engine.progress import progress_bar
from seco.evaluation.eval_data import eval_dataset, eval_loader, image_batches, select
from seco.evaluation.inference import predict_scores
from seco.evaluation.trained import Trained
from seco.method.par import build_par

__all__ = ["export_masks"]


@torch.no_grad()
def export_masks(trained: Trained, split: str, out: Path, progress: bool = True) -> int:
    """Write ``out/SegmentationClass/<name>.png`` (palette) and ``out/ImageSets/Segmentation/<split>.txt``.

    The masks are the "mask" output of :mod:`seco.evaluation.inference`: CAM
    scores with the background threshold, refined by PAR, for the first
    ``eval.max_images`` images (0: all), in batches of one image size.
    Returns the count.
    """
    cfg, net = trained.cfg, trained.net
    dataset = eval_dataset(cfg, split, trained.class_names)
    device = next(net.parameters()).device
    par = build_par(cfg.method.par, device)
    masks_dir = out / "SegmentationClass"
    masks_dir.mkdir(parents=True, exist_ok=True)
    selection = select(dataset, cfg.eval.max_images)
    loader = eval_loader(dataset, selection, cfg.eval.batch_size, cfg.data.num_workers)
    names = []
    bar = progress_bar(f"export {selection.label(split)}", progress, total=len(selection.indices))
    for batch in image_batches(loader, bar):
        images = batch["image"].to(device)
        probs = predict_scores(net, images, batch["labels"].to(device), par, cfg, ("mask",))["mask"]
        labels = probs.max(1).indices.byte().cpu().numpy()
        for i, name in enumerate(batch["name"]):
            h, w = batch["size"][i].tolist()
            palette_image(labels[i, :h, :w]).save(masks_dir / f"{name}.png")
            names.append(name)
    lists = out / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return len(names)
