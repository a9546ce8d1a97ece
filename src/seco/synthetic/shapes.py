"""The object classes of the synthetic benchmark, drawn inside a unit box.

Each drawer takes a :class:`~seco.synthetic.draw.Frame` (the object's box) and
returns the object's parts as ``(region, colour field)`` pairs, painted in order
under one class id. Coordinates are ``(v, u)``: down and right, 0..1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seco.synthetic.draw import Frame, box, ellipse, polygon, random_colour, segment, texture

__all__ = ["DRAWERS", "Drawer", "Part", "dark", "fill"]

Part = tuple[np.ndarray, np.ndarray]
Drawer = Callable[[Frame, np.random.Generator], list[Part]]


def fill(f: Frame, rng: np.random.Generator) -> np.ndarray:
    """A textured field around a random colour (the usual fill of an object part)."""
    return texture(rng, f.size, random_colour(rng))


def dark(rng: np.random.Generator) -> np.ndarray:
    """A random dark colour (wheels, masts, legs)."""
    return rng.uniform(0.05, 0.3, 3).astype(np.float32)


def boat(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A hull (wide deck, narrow keel) with a mast and one or two triangular sails."""
    hull = polygon(f, [(0.6, 0.0), (0.6, 1.0), (1.0, 0.8), (1.0, 0.18)])
    mast = box(f, 0.02, 0.62, 0.47, 0.53)
    sail = polygon(f, [(0.04, 0.55), (0.56, 0.55), (0.56, 0.94)])
    if rng.random() < 0.5:
        sail |= polygon(f, [(0.12, 0.45), (0.56, 0.45), (0.56, 0.1)])
    return [(hull, fill(f, rng)), (mast, dark(rng)), (sail, fill(f, rng))]


def train(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A long carriage with a slanted nose, a row of windows and wheels at the bottom."""
    body = polygon(f, [(0.05, 0.0), (0.05, 0.78), (0.35, 1.0), (0.82, 1.0), (0.82, 0.0)])
    count = int(rng.integers(3, 6))
    starts = np.linspace(0.05, 0.7, count)
    windows = np.any([box(f, 0.2, 0.45, s, s + 0.55 / count) for s in starts], axis=0)
    stripe = box(f, 0.58, 0.66, 0.0, 1.0) & body
    centres = np.linspace(0.12, 0.85, int(rng.integers(3, 5)))
    wheels = np.any([ellipse(f, 0.86, c, 0.14) for c in centres], axis=0)
    return [(body, fill(f, rng)), (windows, fill(f, rng)), (stripe, fill(f, rng)), (wheels, dark(rng))]


def plane(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A plane seen from above: fuselage, swept wings and a tail plane (nose to the right)."""
    fuselage = ellipse(f, 0.5, 0.5, 0.11, 0.5)
    wings = polygon(f, [(0.02, 0.38), (0.02, 0.48), (0.45, 0.66), (0.55, 0.66),
                        (0.98, 0.48), (0.98, 0.38), (0.55, 0.5), (0.45, 0.5)])
    tail = polygon(f, [(0.26, 0.02), (0.26, 0.1), (0.45, 0.2), (0.55, 0.2),
                       (0.74, 0.1), (0.74, 0.02), (0.55, 0.08), (0.45, 0.08)])
    cockpit = ellipse(f, 0.5, 0.86, 0.06, 0.07)
    return [(wings | tail, fill(f, rng)), (fuselage, fill(f, rng)), (cockpit, dark(rng))]


def horse(f: Frame, rng: np.random.Generator) -> list[Part]:
    """Body, four legs, a raised neck and head, and a tail (head to the right)."""
    body = ellipse(f, 0.42, 0.5, 0.2, 0.32)
    legs = np.any([box(f, 0.45, 1.0, u, u + 0.07) for u in (0.22, 0.32, 0.62, 0.72)], axis=0)
    neck = polygon(f, [(0.32, 0.68), (0.04, 0.82), (0.12, 0.93), (0.45, 0.82)])
    head = ellipse(f, 0.1, 0.9, 0.1, 0.1)
    tail = segment(f, (0.3, 0.2), (0.72, 0.05), 0.1 * f.h)
    mane = segment(f, (0.05, 0.8), (0.3, 0.68), 0.06 * f.h)
    return [(body | legs | neck | head | tail, fill(f, rng)), (mane, dark(rng))]


def rider(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A person: head, torso with arms, and two legs."""
    head = ellipse(f, 0.1, 0.5, 0.1)
    torso = box(f, 0.2, 0.6, 0.22, 0.78)
    arms = segment(f, (0.25, 0.25), (0.5, 0.02), 0.12 * f.w)
    arms |= segment(f, (0.25, 0.75), (0.5, 0.98), 0.12 * f.w)
    legs = box(f, 0.58, 1.0, 0.26, 0.46) | box(f, 0.58, 1.0, 0.54, 0.74)
    return [(head, fill(f, rng)), (torso | arms, fill(f, rng)), (legs, fill(f, rng))]


def chair(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A side view: backrest on the left, seat and two legs."""
    back = box(f, 0.0, 0.6, 0.0, 0.2)
    seat = box(f, 0.5, 0.63, 0.0, 1.0)
    legs = box(f, 0.6, 1.0, 0.02, 0.16) | box(f, 0.6, 1.0, 0.84, 0.98)
    return [(back | seat, fill(f, rng)), (legs, dark(rng))]


def sofa(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A front view: backrest, seat block, armrests, cushions and short feet."""
    back = box(f, 0.05, 0.5, 0.08, 0.92)
    seat = box(f, 0.45, 0.86, 0.0, 1.0)
    arms = box(f, 0.28, 0.86, 0.0, 0.14) | box(f, 0.28, 0.86, 0.86, 1.0)
    cushions = np.any([box(f, 0.47, 0.6, u, u + 0.22) for u in (0.17, 0.39, 0.61)], axis=0)
    feet = box(f, 0.86, 1.0, 0.04, 0.12) | box(f, 0.86, 1.0, 0.88, 0.96)
    return [(back | seat | arms, fill(f, rng)), (cushions, fill(f, rng)), (feet, dark(rng))]


def ball(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A disc with a curved seam."""
    disc = ellipse(f, 0.5, 0.5, 0.5)
    seam = disc & ellipse(f, 0.5, 0.05, 0.5, 0.35) & ~ellipse(f, 0.5, 0.05, 0.4, 0.27)
    return [(disc, fill(f, rng)), (seam, dark(rng))]


def kite(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A diamond with two spars and a zig-zag tail."""
    diamond = polygon(f, [(0.0, 0.5), (0.28, 0.98), (0.72, 0.5), (0.28, 0.02)])
    spars = (segment(f, (0.0, 0.5), (0.72, 0.5), 1.0) | segment(f, (0.28, 0.02), (0.28, 0.98), 1.0)) & diamond
    knots = [(0.72, 0.5), (0.82, 0.35), (0.91, 0.62), (1.0, 0.45)]
    tail = np.any([segment(f, a, b, max(1.0, 0.04 * f.w)) for a, b in zip(knots, knots[1:])], axis=0)
    return [(diamond, fill(f, rng)), (spars | tail, dark(rng))]


DRAWERS: dict[str, Drawer] = {
    "boat": boat,
    "train": train,
    "plane": plane,
    "rider": rider,
    "horse": horse,
    "chair": chair,
    "sofa": sofa,
    "ball": ball,
    "kite": kite,
}
