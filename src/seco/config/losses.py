"""The losses' sections of the configuration: one :class:`LossTerm` per loss of eq. 9 plus seg and reg."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

from seco.config.choices import choice

__all__ = [
    "LOSS_NAMES",
    "LiGLossConfig",
    "LiLLossConfig",
    "LossTerm",
    "LossesConfig",
    "PTCLossConfig",
    "RegLossConfig",
    "SegLossConfig",
]


@dataclass
class LossTerm:
    """One loss: its weight, its switch and the iteration it starts at."""

    weight: float = 1.0
    enabled: bool = True
    start_iter: int = 0


@dataclass
class PTCLossConfig(LossTerm):
    """ToCo's patch token contrast on the final tokens.

    ``label_grid``: ``resized_cam`` (the aux CAM resized to the token grid,
    then thresholded) or ``vote`` (majority vote of the full-size label map).
    ``crop_box``: ``pixels`` applies the crop box's pixel coordinates to the
    token grid (public code), ``tokens`` scales it to token units. ``counts``:
    ``plus_one`` divides by the pair count + 1 (public), ``exact`` by the count.
    """

    label_grid: str = choice("resized_cam", ("resized_cam", "vote"))
    crop_box: str = choice("tokens", ("pixels", "tokens"))
    counts: str = choice("exact", ("plus_one", "exact"))


@dataclass
class LiGLossConfig(LossTerm):
    """LiG (eq. 4): ``tags`` are the ``rectified`` or ``raw`` patch tags; ``classes`` (the set P_s)
    are the classes among the ``tags`` or the batch's image ``labels``."""

    tags: str = choice("rectified", ("rectified", "raw"))
    classes: str = choice("tags", ("tags", "labels"))


@dataclass
class LiLLossConfig(LossTerm):
    """LiL (eq. 8): ``formula`` ``paper`` (log-probability of the positives over the reservoir) or
    ``public`` (the public code's arithmetic, reproduced term for term)."""

    formula: str = choice("paper", ("public", "paper"))


@dataclass
class SegLossConfig(LossTerm):
    """Balanced seg CE: ``empty_kind`` ``halve`` (0.5 (bg + fg), a crop with one kind counts half, public)
    or ``drop`` (the mean of the kinds present)."""

    empty_kind: str = choice("halve", ("halve", "drop"))


@dataclass
class RegLossConfig(LossTerm):
    """Bilateral energy on the segmentation softmax.

    ``formula='public'``: the public code's gated dense energy
    ``-1e-7 / B sum_i g_i S_i . (W S)_i`` with the exact dense Gaussian kernel
    W (the public code approximates it with a C++ permutohedral filter),
    gate ``g = 1 - max prob`` (1 where the pseudo label is ignored); at
    ``scale``. ``formula='window'``: the mean Potts energy over a ``window``.
    ``kernel`` computes the public formula's dense Gaussian sum: ``blocked``
    (blocks of the pair matrix, the reference), ``sdpa`` (as attention, within
    1e-4 of it), ``lattice`` (the public code's permutohedral approximation,
    O(N), not exact) or ``auto`` (the device's fastest measured exact kernel;
    docs/performance.md).
    """

    sigma_rgb: float = 15.0
    sigma_xy: float = 100.0
    scale: float = 0.5
    window: int = 5
    formula: str = choice("public", ("public", "window"))
    kernel: str = choice("auto", ("auto", "blocked", "sdpa", "lattice"))


@dataclass
class LossesConfig:
    """Weights, switches and schedule of every loss (eq. 9 plus seg/reg).

    ``start_inclusive``: a loss with ``start_iter`` A > 0 is on from
    iteration A (true) or only after it, from A + 1 (false, public code).
    """

    cls: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    aux: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    ptc: PTCLossConfig = field(default_factory=lambda: PTCLossConfig(0.3, True, 0))
    lig: LiGLossConfig = field(default_factory=lambda: LiGLossConfig(0.5, True, 1000))
    lil: LiLLossConfig = field(default_factory=lambda: LiLLossConfig(0.5, True, 1000))
    seg: SegLossConfig = field(default_factory=lambda: SegLossConfig(0.12, True, 2000))
    reg: RegLossConfig = field(default_factory=lambda: RegLossConfig(0.05, True, 2000))
    tau_g: float = 0.1
    tau_l: float = 0.08
    start_inclusive: bool = False


LOSS_NAMES: tuple[str, ...] = tuple(name for name, kind in typing.get_type_hints(LossesConfig).items()
                                    if issubclass(kind, LossTerm))
"""The losses, in the schema's order: the sections of :class:`LossesConfig` that are a :class:`LossTerm`."""
