"""Which losses are on at a given iteration (the data set's loss schedule).

Each loss has a weight, an on/off switch and a start iteration in
``method.losses``; for VOC the official schedule is cls+aux+PTC first, LiG
and LiL after 1k iterations, seg and reg after 2k. The public code switches a
loss on when ``n_iter > start`` (``losses.start_inclusive: false``); with
``start_inclusive: true`` it is on from ``n_iter = start``. A start of 0 means
from the first iteration either way.
"""

from __future__ import annotations

from seco.config import LOSS_NAMES, LossesConfig, LossTerm

__all__ = ["LOSS_NAMES", "active_weights", "enabled_weights", "first_iteration", "loss_starts", "loss_title"]

PAPER_SPELLING = {"ptc": "PTC", "lig": "LiG", "lil": "LiL"}
"""The losses whose title is not their config name (the paper's spelling)."""


def loss_title(name: str) -> str:
    """How progress lines name loss ``name``: the paper's spelling (``LiG``), else the config name."""
    return PAPER_SPELLING.get(name, name)


def enabled_weights(losses: LossesConfig) -> dict[str, float]:
    """Weights of the losses that are enabled with a positive weight, whatever their start."""
    terms: dict[str, LossTerm] = {name: getattr(losses, name) for name in LOSS_NAMES}
    return {name: term.weight for name, term in terms.items() if term.enabled and term.weight > 0}


def first_iteration(losses: LossesConfig, name: str) -> int:
    """The first iteration at which loss ``name`` is on (if enabled)."""
    start = getattr(losses, name).start_iter
    return start if losses.start_inclusive or start == 0 else start + 1


def active_weights(losses: LossesConfig, iteration: int) -> dict[str, float]:
    """Weights of the losses that are enabled and started at ``iteration``."""
    return {name: weight for name, weight in enabled_weights(losses).items()
            if iteration >= first_iteration(losses, name)}


def loss_starts(losses: LossesConfig, iterations: int) -> dict[int, list[str]]:
    """The iterations below ``iterations`` where the schedule switches losses on, with their titles
    (``{150: ["LiG", "LiL", "PTC"]}``).

    Derived from :func:`active_weights`, so it is the schedule the step
    follows. Iteration 0 lists the losses on from the start; under
    ``start_inclusive: false`` a loss is announced at ``start_iter + 1``, where it switches on.
    """
    starts = sorted({0} | {first_iteration(losses, n) for n in LOSS_NAMES})
    events: dict[int, list[str]] = {}
    for start in (s for s in starts if s < iterations):
        before = set(active_weights(losses, start - 1)) if start > 0 else set()
        new = set(active_weights(losses, start)) - before
        if new:
            events[start] = sorted((loss_title(n) for n in new), key=str.lower)
    return events
