"""Which losses are on at a given iteration (the data set's loss schedule).

Each loss has a weight, an on/off switch and a start iteration in
``method.losses``; for VOC the official schedule is cls+aux+PTC first, LiG
and LiL from 1k iterations, seg and reg from 2k.
"""

from __future__ import annotations

from seco.config import LossesConfig, LossTerm

__all__ = ["LOSS_NAMES", "active_weights"]

LOSS_NAMES = ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")


def active_weights(losses: LossesConfig, iteration: int) -> dict[str, float]:
    """Weights of the losses that are enabled and started at ``iteration``."""
    weights = {}
    for name in LOSS_NAMES:
        term: LossTerm = getattr(losses, name)
        if term.enabled and term.weight > 0 and iteration >= term.start_iter:
            weights[name] = term.weight
    return weights
