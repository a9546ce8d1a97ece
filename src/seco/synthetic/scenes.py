"""Composition of one synthetic scene: object groups, their contexts, distractors, noise.

The rates below make the benchmark's co-occurrence problem: boats, trains and
planes nearly always sit on their (unlabeled) context, which rarely appears
without them; riders nearly always sit on a horse; chairs and sofas usually
stand side by side. Balls and kites are free controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seco.data.classes import SYNTHETIC_CLASSES as CLASSES
from seco.synthetic.contexts import paint_rails, paint_sky, paint_water
from seco.synthetic.draw import (
    Canvas,
    ellipse,
    frame,
    pixel_frame,
    polygon,
    random_colour,
    segment,
    smooth_noise,
    texture,
)
from seco.synthetic.shapes import DRAWERS, Drawer

__all__ = [
    "CLASSES", "COOCCURRENCE", "Group", "Item", "make_group", "paint_background", "paint_distractors",
    "paint_item", "photometric_jitter", "place", "render_scene",
]

COOCCURRENCE: tuple[tuple[str, str], ...] = (
    ("boat", "water"), ("train", "rails"), ("plane", "sky"),
    ("rider", "horse"), ("horse", "rider"), ("chair", "sofa"), ("sofa", "chair"),
)

GROUP_COUNTS = (1, 2, 3)
GROUP_COUNT_P = (0.4, 0.4, 0.2)
GROUP_KINDS = ("boat", "train", "plane", "equestrian", "furniture", "ball", "kite")
GROUND = {"boat": "water", "train": "rails"}
P_ON_CONTEXT = 0.95
P_DECOY_GROUND = 0.04
P_DECOY_SKY = 0.02
EQUESTRIAN_P = {"both": 0.65, "horse": 0.28, "rider": 0.07}
FURNITURE_P = {"both": 0.8, "chair": 0.1, "sofa": 0.1}
MAX_OVERLAP = 0.1

# (height range, width range) in pixels at 96 px; scaled with the image
SIZES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "boat": ((24, 38), (26, 42)),
    "train": ((15, 22), (34, 46)),
    "plane": ((24, 36), (30, 45)),
    "horse": ((22, 32), (30, 44)),
    "rider": ((26, 38), (11, 17)),
    "chair": ((24, 34), (15, 22)),
    "sofa": ((20, 28), (32, 45)),
    "ball": ((16, 30), (16, 30)),
    "kite": ((28, 40), (18, 28)),
}


@dataclass
class Item:
    """One object of a group: class name and box (relative to the group until placed)."""

    name: str
    y0: float
    x0: float
    h: float
    w: float
    flip: bool


@dataclass
class Group:
    """Objects placed together; ``h`` and ``w`` are the extent of their boxes."""

    kind: str
    items: list[Item]
    h: float
    w: float


def _item(rng: np.random.Generator, name: str, scale: float) -> Item:
    (h0, h1), (w0, w1) = SIZES[name]
    h = rng.uniform(h0, h1) * scale
    w = h if name == "ball" else rng.uniform(w0, w1) * scale
    return Item(name, 0.0, 0.0, h, w, bool(rng.random() < 0.5))


def make_group(kind: str, items: list[Item]) -> Group:
    """Shift ``items`` so their joint box starts at (0, 0)."""
    top, left = min(i.y0 for i in items), min(i.x0 for i in items)
    for i in items:
        i.y0, i.x0 = i.y0 - top, i.x0 - left
    return Group(kind, items, max(i.y0 + i.h for i in items), max(i.x0 + i.w for i in items))


def _choose(rng: np.random.Generator, probs: dict[str, float]) -> str:
    keys = list(probs)
    return keys[int(rng.choice(len(keys), p=np.array([probs[k] for k in keys])))]


def _equestrian(rng: np.random.Generator, scale: float) -> Group:
    variant = _choose(rng, EQUESTRIAN_P)
    if variant != "both":
        return make_group("equestrian", [_item(rng, variant, scale)])
    mount = _item(rng, "horse", scale)
    person = _item(rng, "rider", scale)
    person.h, person.w = mount.h * rng.uniform(0.85, 1.05), mount.w * rng.uniform(0.3, 0.4)
    person.y0 = mount.h * 0.5 - person.h
    person.x0 = mount.w * rng.uniform(0.3, 0.55) - person.w / 2
    return make_group("equestrian", [mount, person])


def _furniture(rng: np.random.Generator, scale: float) -> Group:
    variant = _choose(rng, FURNITURE_P)
    if variant != "both":
        return make_group("furniture", [_item(rng, variant, scale)])
    couch, seat = _item(rng, "sofa", scale), _item(rng, "chair", scale)
    seat.y0 = couch.h - seat.h + rng.uniform(-2, 2) * scale
    touch = rng.uniform(1, 3) * scale
    seat.x0 = couch.w - touch if rng.random() < 0.5 else touch - seat.w
    return make_group("furniture", [couch, seat])


def _build(rng: np.random.Generator, kind: str, scale: float) -> Group:
    if kind == "equestrian":
        return _equestrian(rng, scale)
    if kind == "furniture":
        return _furniture(rng, scale)
    return make_group(kind, [_item(rng, kind, scale)])


def _sample_kinds(rng: np.random.Generator) -> list[str]:
    count = int(rng.choice(GROUP_COUNTS, p=GROUP_COUNT_P))
    pool, kinds = list(GROUP_KINDS), []
    for _ in range(count):
        kind = pool.pop(int(rng.integers(len(pool))))
        kinds.append(kind)
        if kind in GROUND:
            pool = [k for k in pool if k not in GROUND]
    return kinds


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether boxes ``(y0, y1, x0, x1)`` share more than ``MAX_OVERLAP`` of the smaller one."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[2], b[2]))
    smaller = min((a[1] - a[0]) * (a[3] - a[2]), (b[1] - b[0]) * (b[3] - b[2]))
    return inter > MAX_OVERLAP * smaller


def place(rng: np.random.Generator, group: Group, rows: tuple[float, float], size: int,
          taken: list[tuple[float, ...]], tries: int = 25) -> bool:
    """Put ``group`` with its top in ``rows`` where it overlaps no taken box; False if none found."""
    low, high = rows[0], max(rows[0], rows[1])
    for _ in range(tries):
        y, x = rng.uniform(low, high), rng.uniform(0.0, max(0.0, size - group.w))
        candidate = (y, y + group.h, x, x + group.w)
        if not any(_overlaps(candidate, other) for other in taken):
            taken.append(candidate)
            for i in group.items:
                i.y0, i.x0 = i.y0 + y, i.x0 + x
            return True
    return False


def paint_background(canvas: Canvas, rng: np.random.Generator) -> None:
    """Cover the canvas with a random, half-strength texture plus low-frequency colour noise."""
    base = random_colour(rng)
    field = 0.5 * texture(rng, canvas.size, base) + 0.5 * base
    field += 0.12 * smooth_noise(rng, canvas.size, int(rng.integers(3, 7)), 3)
    canvas.paint(np.ones((canvas.size, canvas.size), bool), field)


def paint_distractors(canvas: Canvas, rng: np.random.Generator, scale: float) -> None:
    """Blobs, bars, strokes and elongated ellipses that belong to no class."""
    size = canvas.size
    f = pixel_frame(size)
    for _ in range(int(rng.integers(0, 4))):
        cy, cx = rng.uniform(0, size, 2)
        radius = rng.uniform(4, 13) * scale
        kind = rng.integers(4)
        if kind == 0:
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 9))))
            radii = radius * rng.uniform(0.5, 1.0, angles.size)
            region = polygon(f, list(zip(cy + radii * np.sin(angles), cx + radii * np.cos(angles))))
        elif kind == 1:
            angle = rng.uniform(0, np.pi)
            sin, cos = np.sin(angle), np.cos(angle)
            long, short = radius, radius * rng.uniform(0.2, 0.5)
            corners = [(-long, -short), (-long, short), (long, short), (long, -short)]
            region = polygon(f, [(cy + a * sin + b * cos, cx + a * cos - b * sin) for a, b in corners])
        elif kind == 2:
            end = (cy + rng.uniform(-2, 2) * radius, cx + rng.uniform(-2, 2) * radius)
            region = segment(f, (cy, cx), end, rng.uniform(1.5, 3.5) * scale)
        else:
            region = ellipse(f, cy, cx, radius * rng.uniform(0.25, 0.5), radius)
        canvas.paint(region, texture(rng, size, random_colour(rng)))


def _contexts(canvas: Canvas, rng: np.random.Generator, groups: list[Group]) -> dict[str, tuple[float, float]]:
    """Paint the context bands of bound groups (and rare decoys without them).

    Returns the range of rows each bound group's top may take; other groups go anywhere.
    """
    size, scale = canvas.size, canvas.size / 96
    bound = {g.kind: g for g in groups if g.kind in (*GROUND, "plane") and rng.random() < P_ON_CONTEXT}
    rows: dict[str, tuple[float, float]] = {}
    plane = bound.get("plane")
    if plane is not None or rng.random() < P_DECOY_SKY:
        bottom = max(rng.uniform(0.3, 0.45) * size, (plane.h + 4 * scale) if plane else 0.0)
        paint_sky(canvas, rng, bottom)
        if plane is not None:
            rows["plane"] = (1.0, bottom - plane.h - 1.0)
    ground = next((g for kind, g in bound.items() if kind in GROUND), None)
    context = GROUND[ground.kind] if ground else ("water", "rails")[int(rng.integers(2))]
    if ground is None and rng.random() >= P_DECOY_GROUND:
        return rows
    if context == "water":
        top = rng.uniform(0.52, 0.7) * size
        paint_water(canvas, rng, top)
        if ground is not None:
            rows["boat"] = (max(0.0, top - 0.75 * ground.h), size - ground.h)
    else:
        top = rng.uniform(0.55, 0.72) * size
        line = paint_rails(canvas, rng, top, min(rng.uniform(0.2, 0.27) * size, size - top))
        if ground is not None:
            rows["train"] = (line - ground.h, line - ground.h)
    return rows


def render_scene(rng: np.random.Generator, size: int) -> Canvas:
    """Draw one image with its class mask and context layer."""
    scale = size / 96
    canvas = Canvas(size)
    paint_background(canvas, rng)
    groups = [_build(rng, kind, scale) for kind in _sample_kinds(rng)]
    rows = _contexts(canvas, rng, groups)
    paint_distractors(canvas, rng, scale)
    taken: list[tuple[float, ...]] = []
    for group in sorted(groups, key=lambda g: g.kind not in rows):
        if place(rng, group, rows.get(group.kind, (0.0, size - group.h)), size, taken):
            for item in group.items:
                paint_item(canvas, rng, item, DRAWERS[item.name], CLASSES.index(item.name))
    photometric_jitter(canvas, rng)
    return canvas


def paint_item(canvas: Canvas, rng: np.random.Generator, item: Item, drawer: Drawer, label: int) -> None:
    """Draw a placed ``item`` with ``drawer``, all its parts under class id ``label``."""
    f = frame(canvas.size, item.y0, item.x0, item.h, item.w, item.flip)
    for region, colour in drawer(f, rng):
        canvas.paint(region, colour, label=label)


def photometric_jitter(canvas: Canvas, rng: np.random.Generator) -> None:
    """A global contrast and brightness change, then pixel grain over the whole image."""
    canvas.image = canvas.image * rng.uniform(0.85, 1.15) + rng.uniform(-0.08, 0.08)
    canvas.image += rng.normal(0.0, 0.02, canvas.image.shape).astype(np.float32)
