"""SeCo's losses: eq. 9 (cls, LiG, LiL) plus PTC, seg and reg.

Only losses live here; what they read is beside the step in :mod:`seco.method` (the tag rectification of
eqs. 6-7 in :mod:`seco.method.rectification`, the empty-safe mean in :mod:`seco.method.masked_mean`).
"""

from .cls import classification_loss
from .dense_energy import dense_energy_loss
from .lig import lig_classes, lig_loss
from .lil import lil_loss, lil_loss_public
from .local_energy import bilateral_energy_loss
from .ptc import ptc_loss
from .seg import balanced_seg_loss

__all__ = [
    "balanced_seg_loss",
    "bilateral_energy_loss",
    "classification_loss",
    "dense_energy_loss",
    "lig_classes",
    "lig_loss",
    "lil_loss",
    "lil_loss_public",
    "ptc_loss",
]
