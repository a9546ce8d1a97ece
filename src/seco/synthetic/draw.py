"""Vectorised rasterisation on a square pixel grid: canvas, frames, primitives, textures.

Every primitive returns a boolean ``(S, S)`` region, computed by broadcasting a
column of row coordinates against a row of column coordinates (pixel centres);
nothing loops over pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "Canvas",
    "Frame",
    "box",
    "ellipse",
    "frame",
    "pixel_frame",
    "polygon",
    "random_colour",
    "segment",
    "smooth_noise",
    "texture",
]

Point = tuple[float, float]


class Canvas:
    """An RGB image in ``[0, 1]`` under construction, with its class and context layers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.image = np.zeros((size, size, 3), dtype=np.float32)
        self.label = np.zeros((size, size), dtype=np.uint8)
        self.context = np.zeros((size, size), dtype=np.uint8)

    def paint(self, region: np.ndarray, colour: np.ndarray, label: int = 0, context: int = 0) -> None:
        """Cover ``region`` with ``colour`` (an RGB triple or an ``(S, S, 3)`` field)."""
        self.image[region] = colour[region] if colour.ndim == 3 else colour
        self.label[region] = label
        self.context[region] = context

    def to_uint8(self) -> np.ndarray:
        """The image as ``(S, S, 3)`` uint8."""
        return (np.clip(self.image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class Frame:
    """The grid seen from a box: ``v`` runs down and ``u`` right, both 0..1 across the box."""

    v: np.ndarray
    u: np.ndarray
    h: float
    w: float
    size: int


@lru_cache(maxsize=8)
def _centres(size: int) -> np.ndarray:
    return np.arange(size, dtype=np.float32) + 0.5


def frame(size: int, y0: float, x0: float, h: float, w: float, flip: bool = False) -> Frame:
    """A box of height ``h`` and width ``w`` with top-left ``(y0, x0)``, mirrored if ``flip``."""
    centres = _centres(size)
    v = ((centres - y0) / h)[:, None]
    u = ((centres - x0) / w)[None, :]
    return Frame(v=v, u=1.0 - u if flip else u, h=h, w=w, size=size)


def pixel_frame(size: int) -> Frame:
    """The identity frame: ``v`` and ``u`` are pixel coordinates."""
    return frame(size, 0.0, 0.0, 1.0, 1.0)


def ellipse(f: Frame, cv: float, cu: float, rv: float, ru: float | None = None) -> np.ndarray:
    """An axis-aligned ellipse; ``ru`` defaults to the value that makes a circle in pixels."""
    ru = rv * f.h / f.w if ru is None else ru
    return ((f.v - cv) / rv) ** 2 + ((f.u - cu) / ru) ** 2 <= 1.0


def box(f: Frame, v0: float, v1: float, u0: float, u1: float) -> np.ndarray:
    """An axis-aligned rectangle ``[v0, v1] x [u0, u1]``."""
    return ((f.v >= v0) & (f.v <= v1)) & ((f.u >= u0) & (f.u <= u1))


def polygon(f: Frame, points: Sequence[Point]) -> np.ndarray:
    """A filled polygon of ``(v, u)`` vertices (even-odd rule)."""
    inside = np.zeros((f.v.shape[0], f.u.shape[1]), dtype=bool)
    for (v0, u0), (v1, u1) in zip(points, [*points[1:], points[0]]):
        if v0 == v1:
            continue
        crosses = (f.v > v0) != (f.v > v1)
        u_cross = u0 + (f.v - v0) * (u1 - u0) / (v1 - v0)
        inside ^= crosses & (f.u < u_cross)
    return inside


def segment(f: Frame, p0: Point, p1: Point, width: float) -> np.ndarray:
    """A stroke from ``p0`` to ``p1`` (frame units), ``width`` pixels wide."""
    dv, du = (p1[0] - p0[0]) * f.h, (p1[1] - p0[1]) * f.w
    pv, pu = (f.v - p0[0]) * f.h, (f.u - p0[1]) * f.w
    t = np.clip((pv * dv + pu * du) / max(dv * dv + du * du, 1e-9), 0.0, 1.0)
    return (pv - t * dv) ** 2 + (pu - t * du) ** 2 <= (width / 2.0) ** 2


@lru_cache(maxsize=32)
def _interpolation(size: int, cells: int) -> np.ndarray:
    """``(size, cells)`` weights that linearly interpolate a coarse grid to ``size`` pixels."""
    pos = np.clip((_centres(size) / size) * (cells - 1), 0, cells - 1)
    low = np.minimum(pos.astype(int), cells - 2)
    weights = np.zeros((size, cells), dtype=np.float32)
    rows = np.arange(size)
    weights[rows, low] = 1.0 - (pos - low)
    weights[rows, low + 1] = pos - low
    return weights


def smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Zero-mean, unit-scale low-frequency noise ``(S, S, channels)`` from a ``cells``-square grid."""
    coarse = rng.standard_normal((cells, cells, channels)).astype(np.float32)
    weights = _interpolation(size, cells)
    return (weights @ coarse.transpose(2, 0, 1) @ weights.T).transpose(1, 2, 0)


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in ``[0.05, 0.95]``."""
    return rng.uniform(0.05, 0.95, 3).astype(np.float32)


def texture(rng: np.random.Generator, size: int, colour: np.ndarray) -> np.ndarray:
    """An ``(S, S, 3)`` colour field around ``colour``: flat, stripes, checks or blotches.

    Pixel grain is left to the scene, which adds it once over the whole image.
    """
    kind = rng.integers(4)
    second = np.clip(colour + rng.uniform(-0.35, 0.35, 3), 0.0, 1.0).astype(np.float32)
    f = pixel_frame(size)
    if kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(3.0, 8.0) * size / 96
        phase = (f.v * np.cos(angle) + f.u * np.sin(angle)) / period
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * phase)
    elif kind == 2:
        cell = max(2.0, rng.uniform(3.0, 7.0) * size / 96)
        mix = ((f.v // cell + f.u // cell) % 2).astype(np.float32)
    elif kind == 3:
        mix = np.clip(0.5 + 0.6 * smooth_noise(rng, size, int(rng.integers(4, 9)))[..., 0], 0, 1)
    else:
        mix = np.zeros((size, size), dtype=np.float32)
    return colour + (second - colour) * mix[..., None]
