"""Unlabeled context bands of the synthetic benchmark: water, rails and sky.

A context is background (class 0) in the segmentation mask; its pixels are
recorded in the canvas' context layer so a report can measure how much false
activation lands on it.
"""

from __future__ import annotations

import numpy as np

from seco.synthetic.draw import Canvas, ellipse, pixel_frame, smooth_noise

__all__ = ["CONTEXTS", "paint_rails", "paint_sky", "paint_water"]

CONTEXTS: tuple[str, ...] = ("water", "rails", "sky")
WATER, RAILS, SKY = 1, 2, 3


def paint_sky(canvas: Canvas, rng: np.random.Generator, bottom: float) -> None:
    """A blue gradient with soft clouds over rows ``[0, bottom)``."""
    size = canvas.size
    f = pixel_frame(size)
    region = np.broadcast_to(f.v < bottom, (size, size))
    zenith = np.array([rng.uniform(0.2, 0.45), rng.uniform(0.45, 0.7), rng.uniform(0.8, 1.0)], np.float32)
    horizon = np.clip(zenith + rng.uniform(0.15, 0.35), 0.0, 1.0)
    t = np.clip(f.v / bottom, 0.0, 1.0)[..., None]
    field = zenith + (horizon - zenith) * t + 0.03 * smooth_noise(rng, size, 5, 3)
    field = np.broadcast_to(field, (size, size, 3)).copy()
    for _ in range(int(rng.integers(0, 4))):
        cloud = ellipse(f, rng.uniform(0, bottom), rng.uniform(0, size), rng.uniform(2, 6) * size / 96,
                        rng.uniform(6, 16) * size / 96)
        field[cloud] = 0.3 * field[cloud] + 0.7 * rng.uniform(0.85, 1.0)
    canvas.paint(region, field, context=SKY)


def paint_water(canvas: Canvas, rng: np.random.Generator, top: float) -> None:
    """Blue-green water with horizontal ripples from a wavy shoreline at ``top`` down."""
    size = canvas.size
    f = pixel_frame(size)
    scale = size / 96
    shore = top + rng.uniform(0.5, 2.0) * scale * np.sin(2 * np.pi * f.u / (rng.uniform(20, 50) * scale)
                                                      + rng.uniform(0, 2 * np.pi))
    region = f.v >= shore
    base = np.array([rng.uniform(0.02, 0.2), rng.uniform(0.25, 0.5), rng.uniform(0.45, 0.75)], np.float32)
    wavelength = rng.uniform(3.5, 7.0) * scale
    wobble = 0.2 * np.sin(2 * np.pi * f.u / (rng.uniform(10, 25) * scale))
    ripple = np.sin(2 * np.pi * (f.v / wavelength + wobble))
    field = base + 0.09 * ripple[..., None] + 0.03 * smooth_noise(rng, size, 6, 3)
    canvas.paint(region, field, context=WATER)


def paint_rails(canvas: Canvas, rng: np.random.Generator, top: float, height: float) -> float:
    """A gravel bed with sleepers and two steel rails; returns the row trains stand on."""
    size = canvas.size
    f = pixel_frame(size)
    scale = size / 96
    bed = np.broadcast_to((f.v >= top) & (f.v < top + height), (size, size))
    gravel = rng.uniform(0.3, 0.5) + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    field = gravel + rng.normal(0.0, 0.08, (size, size, 3)).astype(np.float32)
    canvas.paint(bed, field, context=RAILS)
    spacing = rng.uniform(5.0, 8.0) * scale
    sleepers = bed & (f.v >= top + 0.15 * height) & (f.v < top + 0.85 * height)
    sleepers = sleepers & ((f.u % spacing) < 0.45 * spacing)
    wood = np.array([rng.uniform(0.3, 0.45), rng.uniform(0.18, 0.28), rng.uniform(0.05, 0.15)], np.float32)
    canvas.paint(sleepers, wood, context=RAILS)
    thickness = max(1.0, 2.0 * scale)
    steel = np.float32(rng.uniform(0.65, 0.85))
    for row in (top + 0.3 * height, top + 0.7 * height):
        rail = np.broadcast_to(np.abs(f.v - row) < thickness / 2 + 0.01, (size, size))
        canvas.paint(rail, np.full(3, steel, np.float32), context=RAILS)
    return top + 0.45 * height
