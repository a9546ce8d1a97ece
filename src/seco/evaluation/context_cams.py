"""The side-by-side CAM figure of two runs: which images it shows and each run's CAM of their class.

The images are fixed by the data alone, so every comparison on a data set
shows the same ones: for each co-occurring pair of the data set in turn
(first the classes on an unlabeled context, boat on water, train on rails,
plane in sky; then the partner classes, rider with horse, ...), the first
image of the evaluation split that is labelled with the class and shows its
context (any image of the class when the data do not annotate the context,
as VOC does not annotate water or railroad), until ``count`` images are found. The CAMs are the runs' own
evaluation CAMs (:func:`seco.evaluation.inference.inference_cams`: the
checkpoint's ``eval.cam_scales`` and flips), the same maps their mIoU scores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seco.data import SegDataset, voc_palette
from seco.engine.checkpoint import LAST
from seco.evaluation.eval_data import eval_dataset
from seco.evaluation.inference import inference_cams
from seco.evaluation.trained import Trained, load_trained
from seco.report.plots import save_figure
from seco.report.report import CompareError
from seco.report.side_by_side import ContextRow, side_by_side_figure

__all__ = ["DEFAULT_ROWS", "FIGURE", "Pick", "context_region", "context_rows", "pick_images", "runs_side_by_side",
           "write_side_by_side"]

DEFAULT_ROWS = 4
FIGURE = "side_by_side.png"


@dataclass(frozen=True)
class Pick:
    """An image of the split (``index``), the class whose CAM is drawn and the context it co-occurs with."""

    index: int
    class_id: int
    context_name: str


def _ordered_pairs(dataset: SegDataset) -> list[tuple[str, str]]:
    """The data set's pairs, those whose context is unlabeled background first."""
    names = dataset.class_names
    pairs = [(c, ctx) for c, ctx in dataset.cooccurrence if c in names]
    return [p for p in pairs if p[1] not in names] + [p for p in pairs if p[1] in names]


def context_region(item: Mapping[str, torch.Tensor], dataset: SegDataset, context_name: str) -> np.ndarray:
    """Where ``context_name`` lies in a loaded item: its context-map id, or the mask of a partner class."""
    names = dataset.class_names
    if context_name in names:
        return item["mask"].numpy() == names.index(context_name)
    if context_name in dataset.contexts and "context" in item:
        return item["context"].numpy() == dataset.contexts.index(context_name) + 1
    return np.zeros(tuple(item["mask"].shape), dtype=bool)


def _candidates(dataset: SegDataset, class_id: int, context_name: str) -> Iterator[int]:
    """Indices of the images labelled with ``class_id`` (and with the partner, when the context is a class)."""
    names = dataset.class_names
    partner = names.index(context_name) if context_name in names else None
    for index, record in enumerate(dataset.records):
        if class_id in record.labels and (partner is None or partner in record.labels):
            yield index


def pick_images(dataset: SegDataset, count: int) -> list[Pick]:
    """Up to ``count`` distinct images, one per pair in turn (see the module docstring)."""
    pairs = _ordered_pairs(dataset)
    searches = {pair: _candidates(dataset, dataset.class_names.index(pair[0]), pair[1]) for pair in pairs}
    picks: list[Pick] = []
    used: set[int] = set()
    while searches and len(picks) < count:
        for pair in list(searches):
            found = _next_showing(dataset, searches[pair], pair[1], used)
            if found is None:
                del searches[pair]
                continue
            used.add(found)
            picks.append(Pick(found, dataset.class_names.index(pair[0]), pair[1]))
            if len(picks) == count:
                break
    return picks


def _annotated(dataset: SegDataset, context_name: str) -> bool:
    """Whether the data say where ``context_name`` lies: a class, or a context of the set's context maps."""
    return context_name in dataset.class_names or (dataset.with_context and context_name in dataset.contexts)


def _next_showing(dataset: SegDataset, candidates: Iterator[int], context_name: str, used: set[int]) -> int | None:
    """The next candidate not yet used whose context region is not empty, when the data annotate the context
    (VOC's water or railroad are not: any image of the class will do); a bad sample is passed over."""
    annotated = _annotated(dataset, context_name)
    for index in candidates:
        if index in used:
            continue
        item = dataset[index]
        if "image" in item and (not annotated or context_region(item, dataset, context_name).any()):
            return index
    return None


@torch.no_grad()
def context_rows(models: Mapping[str, Trained], count: int = DEFAULT_ROWS) -> list[ContextRow]:
    """The figure's rows: the picked images of the first model's ``eval.split`` and every model's CAM there."""
    first = next(iter(models.values()))
    dataset = eval_dataset(first.cfg, first.cfg.eval.split, first.class_names)
    rows = []
    for pick in pick_images(dataset, count):
        item = dataset[pick.index]
        cams = {}
        for name, trained in models.items():
            device = next(trained.net.parameters()).device
            image, labels = item["image"][None].to(device), item["labels"][None].to(device)
            cams[name] = inference_cams(trained.net, image, labels, trained.cfg)[0, pick.class_id - 1].cpu().numpy()
        rgb = (item["image"] * 255).round().byte().permute(1, 2, 0).numpy()
        rows.append(ContextRow(item["name"], rgb, item["mask"].numpy(), pick.class_id, pick.context_name,
                               context_region(item, dataset, pick.context_name), cams))
    return rows


def write_side_by_side(models: Mapping[str, Trained], path: Path, count: int = DEFAULT_ROWS) -> Path | None:
    """The figure of :mod:`seco.report.side_by_side` for ``models`` (by column title) at ``path``; None when
    no image of the split shows a co-occurring pair. Models of other classes are a :class:`CompareError`."""
    first_name, first = next(iter(models.items()))
    for name, trained in models.items():
        if trained.class_names != first.class_names:
            raise CompareError(f"{name} and {first_name} were trained on different classes "
                               f"({', '.join(trained.class_names)} / {', '.join(first.class_names)}); "
                               "the side-by-side figure needs runs of one data set")
    rows = context_rows(models, count)
    if not rows:
        return None
    split = first.cfg.eval.split
    title = f"CAMs side by side: {' and '.join(models)} ({split}, {len(rows)} images with a co-occurring context)"
    return save_figure(side_by_side_figure(rows, first.class_names, voc_palette(256), title=title), path)


def runs_side_by_side(runs: Mapping[str, Path], path: Path, count: int = DEFAULT_ROWS) -> Path | None:
    """:func:`write_side_by_side` of the run folders ``runs`` (by column title), from their ``last.pt``."""
    return write_side_by_side({name: load_trained(Path(folder) / LAST) for name, folder in runs.items()}, path, count)
