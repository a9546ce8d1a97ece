"""Global-teacher class prototypes with momentum updates (paper eq. 3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.method.collective import gather_from_all

__all__ = ["Prototypes"]


class Prototypes(nn.Module):
    """K category prototypes ``P_l``, updated from the class tokens Z of whole images (eq. 3).

    Buffers (saved in ``state_dict``, moved by ``.to``):

    * ``P`` (K, D): the prototypes;
    * ``initialised`` (K,) bool: whether ``P_l`` may be used by LiG.

    Three update rules (``PrototypeConfig.update``); in every one, only
    single-label images update (W_l = 1) unless ``adaptive``, and under
    torchrun the images of every process are gathered first (rank order), so
    all processes hold the same prototypes:

    * ``per_image``: eq. 3 image by image, ``P_l <- Norm(eta P_l + W_l (1 -
      eta) Z)``; the first single-label image of a class sets ``P_l = Norm(Z)``
      instead of mixing data with the random start;
    * ``batch_mean``: one step of eq. 3 per class with the mean of the batch's
      ``W_l Z`` (independent of image order); first sight as above;
    * ``public``: the public code. ``P`` starts as unnormalised Gaussian noise,
      every row counts as initialised, each single-label image adds
      ``P_l <- eta P_l + (1 - eta) Z`` without normalising, and every row is
      normalised once after the batch.

    With ``adaptive`` (the paper's update from multi-label images), an image
    gives each of its classes with an initialised prototype the weight
    ``W_l = softmax(cos(Z, P_l))`` over those classes.
    """

    P: Tensor
    initialised: Tensor

    def __init__(self, num_classes: int, dim: int, rule: str = "per_image") -> None:
        super().__init__()
        public = rule == "public"
        start = torch.randn(num_classes, dim)
        self.rule = rule
        self.register_buffer("P", start if public else F.normalize(start, dim=1))
        self.register_buffer("initialised", torch.full((num_classes,), public, dtype=torch.bool))

    @torch.no_grad()
    def update(self, z: Tensor, labels: Tensor, momentum: float, adaptive: bool = False) -> None:
        """Apply this batch's class tokens ``z`` (B, D) with multi-hot ``labels`` (B, K)."""
        z = gather_from_all(z.detach().to(self.P))
        labels = gather_from_all(labels.to(self.P)).gt(0)
        if self.rule == "batch_mean":
            self._batch_mean(z, labels, momentum, adaptive)
            return
        for image in range(z.shape[0]):
            self._one_image(z[image], labels[image], momentum, adaptive)
        if self.rule == "public":
            self.P.copy_(F.normalize(self.P, dim=1))

    @torch.no_grad()
    def similarity(self) -> Tensor:
        """Mean cosine similarity between distinct initialised prototypes (NaN with fewer than two).

        A diagnostic: near 1, LiG (eq. 4) cannot tell the classes apart.
        """
        kept = self.initialised.to(self.P)
        cos = F.normalize(self.P, dim=1) @ F.normalize(self.P, dim=1).T
        pairs = kept[:, None] * kept[None, :] * (1.0 - torch.eye(len(kept), device=kept.device))
        return (cos * pairs).sum() / pairs.sum()

    def by_class(self, names: Sequence[str]) -> dict[str, Tensor]:
        """Each initialised prototype ``P_l`` under the name of its class (``names``: the K classes, no background)."""
        return {names[i]: self.P[i] for i in self.initialised.nonzero().flatten().tolist()}

    def _weights(self, z: Tensor, labels: Tensor, adaptive: bool) -> Tensor:
        """(B, K) weights W: 1 for the class of a single-label image, the adaptive softmax for others."""
        single = labels & (labels.sum(dim=-1, keepdim=True) == 1)
        if not adaptive:
            return single.to(z)
        allowed = labels & self.initialised
        cos = (F.normalize(z, dim=-1) @ F.normalize(self.P, dim=1).T).masked_fill(~allowed, float("-inf"))
        return torch.where(allowed, cos.softmax(dim=-1), torch.zeros_like(cos))

    def _one_image(self, z: Tensor, labels: Tensor, momentum: float, adaptive: bool) -> None:
        """Eq. 3 for one image (the ``per_image`` and ``public`` rules); no host synchronisation."""
        weights = self._weights(z[None], labels[None], adaptive)[0]
        step = momentum * self.P + ((1.0 - momentum) * weights)[:, None] * z
        if self.rule == "public":
            self.P.copy_(torch.where((weights > 0)[:, None], step, self.P))
            return
        moved = torch.where((weights > 0)[:, None] & self.initialised[:, None], F.normalize(step, dim=1), self.P)
        fresh = labels & (labels.sum() == 1) & ~self.initialised
        self.P.copy_(torch.where(fresh[:, None], F.normalize(z, dim=0), moved))
        self.initialised |= fresh

    def _batch_mean(self, z: Tensor, labels: Tensor, momentum: float, adaptive: bool) -> None:
        """One eq. 3 step per class with the mean of ``W_bl z_b`` over its images; first sight initialises."""
        single = labels & (labels.sum(dim=1, keepdim=True) == 1)
        weights = self._weights(z, labels, adaptive) * self.initialised
        count = (weights > 0).sum(dim=0)
        step = (weights.T @ z) / count.clamp(min=1).unsqueeze(1)
        moved = F.normalize(momentum * self.P + (1.0 - momentum) * step, dim=1)
        self.P.copy_(torch.where((count > 0).unsqueeze(1), moved, self.P))
        fresh = single & ~self.initialised
        seen = fresh.any(dim=0)
        self.P.copy_(torch.where(seen.unsqueeze(1), F.normalize(fresh.to(z).T @ z, dim=1), self.P))
        self.initialised |= seen
