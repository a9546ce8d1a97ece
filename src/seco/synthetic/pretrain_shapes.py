"""The extra object classes of the pretraining set, drawn like the benchmark's (:mod:`seco.synthetic.shapes`).

None of these appears in the co-occurrence benchmark. Each drawer takes the
object's :class:`~seco.synthetic.draw.Frame` and returns its parts as
``(region, colour field)`` pairs; coordinates are ``(v, u)``, down and right, 0..1.
Colours are random per part, so only shape tells the classes apart.
"""

from __future__ import annotations

import numpy as np

from seco.synthetic.draw import Frame, box, ellipse, polygon, segment
from seco.synthetic.shapes import Drawer, Part, dark, fill

__all__ = ["EXTRA_DRAWERS", "EXTRA_SIZES"]


def star(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A five-pointed star with a round centre."""
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 0.5, 0.2)
    body = polygon(f, list(zip(0.53 + radii * np.sin(angles), 0.5 + radii * np.cos(angles))))
    return [(body, fill(f, rng)), (ellipse(f, 0.53, 0.5, 0.1, 0.1), fill(f, rng))]


def heart(f: Frame, rng: np.random.Generator) -> list[Part]:
    """Two lobes over a point."""
    lobes = ellipse(f, 0.28, 0.27, 0.27, 0.26) | ellipse(f, 0.28, 0.73, 0.27, 0.26)
    point = polygon(f, [(0.35, 0.02), (0.35, 0.98), (1.0, 0.5)])
    return [(lobes | point, fill(f, rng))]


def cross(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A tall cross with a ring around the crossing."""
    beams = box(f, 0.0, 1.0, 0.38, 0.62) | box(f, 0.2, 0.4, 0.05, 0.95)
    ring = ellipse(f, 0.3, 0.5, 0.22, 0.3) & ~ellipse(f, 0.3, 0.5, 0.15, 0.2)
    return [(beams, fill(f, rng)), (ring, dark(rng))]


def arrow(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A shaft with a head on the right and fletching on the left."""
    shaft = box(f, 0.42, 0.58, 0.1, 0.65)
    head = polygon(f, [(0.05, 0.6), (0.5, 1.0), (0.95, 0.6)])
    fletching = polygon(f, [(0.2, 0.0), (0.42, 0.15), (0.58, 0.15), (0.8, 0.0), (0.58, 0.25), (0.42, 0.25)])
    return [(shaft | head, fill(f, rng)), (fletching, fill(f, rng))]


def crescent(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A disc with an offset disc cut out."""
    return [(ellipse(f, 0.5, 0.5, 0.5, 0.5) & ~ellipse(f, 0.42, 0.7, 0.42, 0.4), fill(f, rng))]


def house(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A wall with a pitched roof, a door and a window."""
    wall = box(f, 0.45, 1.0, 0.1, 0.9)
    roof = polygon(f, [(0.0, 0.5), (0.47, 1.0), (0.47, 0.0)])
    window = box(f, 0.55, 0.72, 0.18, 0.38)
    door = box(f, 0.62, 1.0, 0.55, 0.75)
    return [(wall, fill(f, rng)), (roof, fill(f, rng)), (window, fill(f, rng)), (door, dark(rng))]


def tree(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A trunk under a round crown or a stack of two triangles."""
    trunk = box(f, 0.55, 1.0, 0.42, 0.58)
    if rng.random() < 0.5:
        crown = ellipse(f, 0.35, 0.5, 0.35, 0.48)
    else:
        crown = polygon(f, [(0.0, 0.5), (0.45, 0.9), (0.45, 0.1)]) | polygon(f, [(0.25, 0.5), (0.72, 1.0), (0.72, 0.0)])
    return [(trunk, dark(rng)), (crown, fill(f, rng))]


def car(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A side view: body, cabin with windows, two wheels."""
    body = box(f, 0.45, 0.82, 0.0, 1.0)
    cabin = polygon(f, [(0.47, 0.15), (0.08, 0.3), (0.08, 0.68), (0.47, 0.85)])
    windows = (box(f, 0.16, 0.42, 0.3, 0.47) | box(f, 0.16, 0.42, 0.52, 0.68)) & cabin
    wheels = ellipse(f, 0.8, 0.22, 0.2) | ellipse(f, 0.8, 0.78, 0.2)
    return [(body | cabin, fill(f, rng)), (windows, fill(f, rng)), (wheels, dark(rng))]


def umbrella(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A scalloped canopy on a hooked handle."""
    canopy = ellipse(f, 0.42, 0.5, 0.42, 0.5) & (f.v <= 0.42)
    canopy &= ~np.any([ellipse(f, 0.45, u, 0.07, 0.09) for u in (0.1, 0.3, 0.5, 0.7, 0.9)], axis=0)
    handle = segment(f, (0.4, 0.5), (0.92, 0.5), max(1.0, 0.07 * f.w)) | segment(f, (0.92, 0.5), (0.85, 0.33),
                                                                                max(1.0, 0.07 * f.w))
    return [(canopy, fill(f, rng)), (handle, dark(rng))]


def mushroom(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A domed, spotted cap on a stem."""
    cap = ellipse(f, 0.5, 0.5, 0.5, 0.5) & (f.v <= 0.5)
    spots = cap & np.any([ellipse(f, v, u, 0.08, 0.08) for v, u in ((0.2, 0.3), (0.3, 0.6), (0.15, 0.7))], axis=0)
    stem = box(f, 0.48, 1.0, 0.36, 0.64)
    return [(stem, fill(f, rng)), (cap, fill(f, rng)), (spots, fill(f, rng))]


def fish(f: Frame, rng: np.random.Generator) -> list[Part]:
    """An oval body, a forked tail on the right, a fin and an eye."""
    body = ellipse(f, 0.5, 0.4, 0.33, 0.4)
    tail = polygon(f, [(0.5, 0.7), (0.12, 1.0), (0.5, 0.88), (0.88, 1.0)])
    fin = polygon(f, [(0.2, 0.3), (0.0, 0.5), (0.22, 0.55)])
    eye = ellipse(f, 0.42, 0.17, 0.07)
    return [(body | tail, fill(f, rng)), (fin, fill(f, rng)), (eye, dark(rng))]


def bird(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A perched bird: body, head with a beak, a wing, a tail and legs."""
    body = ellipse(f, 0.55, 0.45, 0.25, 0.33) | ellipse(f, 0.28, 0.72, 0.16, 0.16)
    tail = polygon(f, [(0.52, 0.15), (0.35, 0.0), (0.5, 0.0), (0.7, 0.2)])
    beak = polygon(f, [(0.22, 0.85), (0.29, 1.0), (0.35, 0.85)])
    wing = polygon(f, [(0.45, 0.25), (0.4, 0.6), (0.7, 0.55)])
    legs = box(f, 0.75, 1.0, 0.38, 0.42) | box(f, 0.75, 1.0, 0.52, 0.56)
    return [(body | tail, fill(f, rng)), (wing, fill(f, rng)), (beak | legs, dark(rng))]


def cup(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A tapered cup with a ring handle on the right and a rim."""
    body = polygon(f, [(0.1, 0.02), (0.1, 0.7), (1.0, 0.6), (1.0, 0.12)])
    handle = (ellipse(f, 0.45, 0.72, 0.27, 0.26) & ~ellipse(f, 0.45, 0.72, 0.15, 0.14)) & (f.u > 0.62)
    rim = box(f, 0.05, 0.16, 0.0, 0.72)
    return [(body | handle, fill(f, rng)), (rim, fill(f, rng))]


def bottle(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A body with round shoulders, a neck, a cap and a label."""
    body = box(f, 0.42, 1.0, 0.12, 0.88) | ellipse(f, 0.42, 0.5, 0.14, 0.38)
    neck = box(f, 0.08, 0.35, 0.37, 0.63)
    cap = box(f, 0.0, 0.1, 0.34, 0.66)
    label = box(f, 0.58, 0.82, 0.12, 0.88)
    return [(body | neck, fill(f, rng)), (label, fill(f, rng)), (cap, dark(rng))]


def lamp(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A trapezoid shade on a pole with a flat base."""
    shade = polygon(f, [(0.0, 0.3), (0.0, 0.7), (0.35, 0.98), (0.35, 0.02)])
    pole = box(f, 0.35, 0.92, 0.45, 0.55)
    base = box(f, 0.9, 1.0, 0.18, 0.82)
    return [(shade, fill(f, rng)), (pole | base, dark(rng))]


def flower(f: Frame, rng: np.random.Generator) -> list[Part]:
    """Six petals round a centre, on a stem with a leaf."""
    angles = np.arange(6) * np.pi / 3 + rng.uniform(0, np.pi / 3)
    petals = np.any([ellipse(f, 0.3 + 0.17 * np.sin(a), 0.5 + 0.27 * np.cos(a), 0.13, 0.2) for a in angles], axis=0)
    centre = ellipse(f, 0.3, 0.5, 0.1, 0.15)
    stem = segment(f, (0.4, 0.5), (0.96, 0.5), max(1.0, 0.08 * f.w)) | ellipse(f, 0.75, 0.68, 0.06, 0.16)
    return [(stem, fill(f, rng)), (petals, fill(f, rng)), (centre, fill(f, rng))]


def tent(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A triangular tent with a door flap and a pole tip."""
    canvas = polygon(f, [(0.08, 0.5), (1.0, 1.0), (1.0, 0.0)])
    door = polygon(f, [(0.4, 0.5), (1.0, 0.68), (1.0, 0.32)])
    tip = box(f, 0.0, 0.12, 0.47, 0.53)
    return [(canvas, fill(f, rng)), (door | tip, dark(rng))]


def bell(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A flared bell with a ring on top and a clapper below."""
    body = polygon(f, [(0.12, 0.38), (0.12, 0.62), (0.25, 0.72), (0.7, 0.8), (0.86, 1.0),
                       (0.86, 0.0), (0.7, 0.2), (0.25, 0.28)])
    ring = ellipse(f, 0.07, 0.5, 0.07, 0.1) & ~ellipse(f, 0.07, 0.5, 0.035, 0.05)
    clapper = ellipse(f, 0.92, 0.5, 0.08, 0.1)
    return [(body, fill(f, rng)), (ring | clapper, dark(rng))]


def key(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A ring bow on the left, a shaft and two teeth."""
    bow = ellipse(f, 0.5, 0.18, 0.5, 0.18) & ~ellipse(f, 0.5, 0.18, 0.22, 0.08)
    shaft = box(f, 0.4, 0.6, 0.3, 1.0)
    teeth = box(f, 0.6, 0.9, 0.72, 0.8) | box(f, 0.6, 0.8, 0.86, 0.94)
    return [(bow, fill(f, rng)), (shaft | teeth, fill(f, rng))]


def ladder(f: Frame, rng: np.random.Generator) -> list[Part]:
    """Two rails joined by evenly spaced rungs."""
    rails = box(f, 0.0, 1.0, 0.04, 0.2) | box(f, 0.0, 1.0, 0.8, 0.96)
    count = int(rng.integers(4, 7))
    rungs = np.any([box(f, v - 0.04, v + 0.04, 0.2, 0.8) for v in np.linspace(0.1, 0.9, count)], axis=0)
    return [(rails, fill(f, rng)), (rungs, fill(f, rng))]


def hourglass(f: Frame, rng: np.random.Generator) -> list[Part]:
    """Two glass bulbs meeting at a waist between flat caps."""
    glass = polygon(f, [(0.1, 0.12), (0.1, 0.88), (0.5, 0.54), (0.5, 0.46)])
    glass |= polygon(f, [(0.9, 0.12), (0.9, 0.88), (0.5, 0.54), (0.5, 0.46)])
    caps = box(f, 0.0, 0.1, 0.0, 1.0) | box(f, 0.9, 1.0, 0.0, 1.0)
    return [(glass, fill(f, rng)), (caps, dark(rng))]


def rocket(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A body with a pointed nose, a porthole, two fins and a flame."""
    body = box(f, 0.25, 0.8, 0.32, 0.68) | polygon(f, [(0.0, 0.5), (0.27, 0.7), (0.27, 0.3)])
    fins = polygon(f, [(0.55, 0.32), (0.85, 0.05), (0.85, 0.32)]) | polygon(f, [(0.55, 0.68), (0.85, 0.95),
                                                                                 (0.85, 0.68)])
    window = ellipse(f, 0.42, 0.5, 0.08, 0.1)
    flame = polygon(f, [(0.8, 0.38), (1.0, 0.5), (0.8, 0.62)])
    return [(body, fill(f, rng)), (fins | flame, fill(f, rng)), (window, dark(rng))]


def guitar(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A waisted body with a sound hole, a neck and a head."""
    body = ellipse(f, 0.76, 0.5, 0.24, 0.48) | ellipse(f, 0.5, 0.5, 0.16, 0.34)
    hole = ellipse(f, 0.6, 0.5, 0.07, 0.14)
    neck = box(f, 0.08, 0.45, 0.43, 0.57)
    head = box(f, 0.0, 0.1, 0.36, 0.64)
    return [(body, fill(f, rng)), (neck | head, fill(f, rng)), (hole, dark(rng))]


def cactus(f: Frame, rng: np.random.Generator) -> list[Part]:
    """A rounded trunk with two bent arms, in a pot."""
    trunk = box(f, 0.1, 0.85, 0.38, 0.62) | ellipse(f, 0.1, 0.5, 0.1, 0.12)
    arms = box(f, 0.42, 0.54, 0.1, 0.4) | box(f, 0.2, 0.54, 0.1, 0.22)
    arms |= box(f, 0.52, 0.62, 0.6, 0.9) | box(f, 0.3, 0.62, 0.78, 0.9)
    pot = polygon(f, [(0.8, 0.25), (0.8, 0.75), (1.0, 0.68), (1.0, 0.32)])
    return [(trunk | arms, fill(f, rng)), (pot, fill(f, rng))]


EXTRA_DRAWERS: dict[str, Drawer] = {
    "star": star,
    "heart": heart,
    "cross": cross,
    "arrow": arrow,
    "crescent": crescent,
    "house": house,
    "tree": tree,
    "car": car,
    "umbrella": umbrella,
    "mushroom": mushroom,
    "fish": fish,
    "bird": bird,
    "cup": cup,
    "bottle": bottle,
    "lamp": lamp,
    "flower": flower,
    "tent": tent,
    "bell": bell,
    "key": key,
    "ladder": ladder,
    "hourglass": hourglass,
    "rocket": rocket,
    "guitar": guitar,
    "cactus": cactus,
}

# (height range, width range) in pixels at 96 px, before the pretraining set's scale jitter
EXTRA_SIZES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "star": ((22, 34), (22, 34)),
    "heart": ((20, 32), (22, 34)),
    "cross": ((26, 38), (18, 26)),
    "arrow": ((14, 22), (32, 46)),
    "crescent": ((22, 34), (22, 34)),
    "house": ((26, 38), (24, 36)),
    "tree": ((28, 40), (20, 30)),
    "car": ((16, 24), (32, 46)),
    "umbrella": ((26, 38), (26, 38)),
    "mushroom": ((22, 32), (22, 32)),
    "fish": ((16, 26), (30, 44)),
    "bird": ((22, 32), (24, 34)),
    "cup": ((20, 30), (22, 32)),
    "bottle": ((28, 40), (12, 18)),
    "lamp": ((28, 40), (16, 24)),
    "flower": ((28, 40), (18, 28)),
    "tent": ((22, 32), (28, 42)),
    "bell": ((24, 34), (22, 32)),
    "key": ((12, 18), (30, 44)),
    "ladder": ((30, 42), (14, 20)),
    "hourglass": ((26, 36), (16, 24)),
    "rocket": ((28, 40), (16, 24)),
    "guitar": ((32, 44), (14, 22)),
    "cactus": ((28, 40), (20, 30)),
}
