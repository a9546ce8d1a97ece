"""One image of the pretraining set: the miniature of ImageNet for the tiny ViT.

The paper starts from a ViT pretrained on ImageNet, whose features already
know objects apart from their surroundings. This set plays that part for the
synthetic benchmark: many object classes (the benchmark's nine and the extra
ones of :mod:`seco.synthetic.pretrain_shapes`), one to three per image at varied
scales, placed anywhere over a background whose kind, contexts (water, rails,
sky) and distractors are drawn without looking at the classes. A context
therefore predicts no class here, while in the benchmark it predicts boat,
train or plane; and rider/horse, chair/sofa appear independently.
"""

from __future__ import annotations

import numpy as np

from seco.synthetic.contexts import paint_rails, paint_sky, paint_water
from seco.synthetic.draw import Canvas
from seco.synthetic.pretrain_shapes import EXTRA_DRAWERS, EXTRA_SIZES
from seco.synthetic.scenes import (
    SIZES,
    Item,
    make_group,
    paint_background,
    paint_distractors,
    paint_item,
    photometric_jitter,
    place,
)
from seco.synthetic.shapes import DRAWERS

__all__ = ["PRETRAIN_CLASSES", "render_pretrain_scene"]

PRETRAIN_DRAWERS = {**DRAWERS, **EXTRA_DRAWERS}
PRETRAIN_SIZES = {**SIZES, **EXTRA_SIZES}
PRETRAIN_CLASSES: tuple[str, ...] = ("background", *PRETRAIN_DRAWERS)

OBJECT_COUNTS = (1, 2, 3)
OBJECT_COUNT_P = (0.4, 0.35, 0.25)
SCALE_RANGE = (0.7, 1.4)
SQUARE = frozenset({"ball"})
P_SKY = 0.35
P_WATER = 0.2
P_RAILS = 0.2


def _contexts(canvas: Canvas, rng: np.random.Generator) -> None:
    """Sky from the top, then water from a shoreline down or a rail bed, each at its own rate.

    Their extents are drawn as freely: a context may fill the whole image.
    """
    size = canvas.size
    if rng.random() < P_SKY:
        paint_sky(canvas, rng, rng.uniform(0.25, 1.0) * size)
    ground = rng.random()
    if ground < P_WATER:
        paint_water(canvas, rng, rng.uniform(0.0, 0.75) * size)
    elif ground < P_WATER + P_RAILS:
        top = rng.uniform(0.3, 0.85) * size
        paint_rails(canvas, rng, top, min(rng.uniform(0.15, 0.3) * size, size - top))


def _item(rng: np.random.Generator, name: str, scale: float) -> Item:
    """An object box of the class's typical size times a random scale, never wider than 90 % of the image."""
    (h0, h1), (w0, w1) = PRETRAIN_SIZES[name]
    jitter = scale * rng.uniform(*SCALE_RANGE)
    h = rng.uniform(h0, h1) * jitter
    w = h if name in SQUARE else rng.uniform(w0, w1) * jitter
    limit = 0.9 * 96 * scale
    return Item(name, 0.0, 0.0, min(h, limit), min(w, limit), bool(rng.random() < 0.5))


def render_pretrain_scene(rng: np.random.Generator, size: int) -> Canvas:
    """Draw one pretraining image with its class mask (ids index ``PRETRAIN_CLASSES``) and context layer.

    The classes are drawn uniformly without replacement; an object that finds
    no free place is left out, so the mask, not the draw, says which are present.
    """
    scale = size / 96
    canvas = Canvas(size)
    paint_background(canvas, rng)
    _contexts(canvas, rng)
    paint_distractors(canvas, rng, scale)
    count = int(rng.choice(OBJECT_COUNTS, p=OBJECT_COUNT_P))
    classes = rng.choice(np.arange(1, len(PRETRAIN_CLASSES)), size=count, replace=False)
    taken: list[tuple[float, ...]] = []
    for class_id in classes.tolist():
        name = PRETRAIN_CLASSES[class_id]
        group = make_group(name, [_item(rng, name, scale)])
        if place(rng, group, (0.0, size - group.h), size, taken):
            paint_item(canvas, rng, group.items[0], PRETRAIN_DRAWERS[name], class_id)
    photometric_jitter(canvas, rng)
    return canvas
