"""Global-teacher class prototypes with momentum updates (paper eq. 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Prototypes"]


class Prototypes(nn.Module):
    """K category prototypes ``P_l`` in the projection space of the queries ``q``.

    Buffers (saved in ``state_dict``, moved by ``.to``):

    * ``P`` (K, D): L2-normalised rows; random until a class is first seen;
    * ``initialised`` (K,) bool: whether ``P_l`` has been set from data.

    The embeddings given to :meth:`update` must come from the same projection
    head as the queries of LiG (eq. 4), not from the backbone's token space.
    """

    P: Tensor
    initialised: Tensor

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("P", F.normalize(torch.randn(num_classes, dim), dim=1))
        self.register_buffer("initialised", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, z: Tensor, labels: Tensor, momentum: float, adaptive: bool = False) -> None:
        """Eq. 3: ``P_l <- Norm(eta P_l + W_l (1 - eta) Z_l)`` from one batch.

        Args:
            z: (B, D) normalised class embeddings of whole images (global teacher).
            labels: (B, K) multi-hot image labels.
            momentum: eta.
            adaptive: also learn from multi-label images (the paper's adaptive
                updating); otherwise only single-label images count (W_l = 1).

        Weights ``W`` (B, K): a single-label image gives W = 1 to its class.
        With ``adaptive``, a multi-label image gives each of its classes
        ``W_l = softmax(cos(z, P_l))`` over its classes whose prototype is
        initialised (a random prototype would distort the softmax); a
        single-label image is the one-class case of the same softmax.

        One batch is one momentum step per class: the step uses the mean of
        ``W_bl z_b`` over the images b with ``W_bl > 0``, so the result does
        not depend on batch order and reduces to eq. 3 for a single image.

        A class whose prototype is not initialised yet is set to the
        normalised mean of its single-label embeddings in the batch, instead
        of mixing the data with its random initial vector; multi-label images
        never initialise a class.
        """
        z = z.detach().to(self.P)
        labels = labels.to(self.P).gt(0)
        single = labels & (labels.sum(dim=1, keepdim=True) == 1)
        ready = self.initialised.unsqueeze(0)
        if adaptive:
            weights = self._relevance(z, labels & ready)
        else:
            weights = (single & ready).to(z)
        self._momentum_step(z, weights, momentum)
        self._initialise(z, single & ~ready)

    def _relevance(self, z: Tensor, allowed: Tensor) -> Tensor:
        """(B, K) softmax of ``cos(z_b, P_l)`` over the ``allowed`` classes of each image, 0 elsewhere."""
        cos = (z @ self.P.T).masked_fill(~allowed, float("-inf"))
        return torch.where(allowed, cos.softmax(dim=1), torch.zeros_like(cos))

    def _momentum_step(self, z: Tensor, weights: Tensor, momentum: float) -> None:
        """Apply eq. 3 to every class with a non-zero weight in the batch."""
        count = (weights > 0).sum(dim=0)
        step = (weights.T @ z) / count.clamp(min=1).unsqueeze(1)
        moved = F.normalize(momentum * self.P + (1.0 - momentum) * step, dim=1)
        self.P.copy_(torch.where((count > 0).unsqueeze(1), moved, self.P))

    def _initialise(self, z: Tensor, fresh: Tensor) -> None:
        """Set each class with ``fresh`` images to the normalised mean of their embeddings."""
        seen = fresh.any(dim=0)
        mean = F.normalize(fresh.to(z).T @ z, dim=1)
        self.P.copy_(torch.where(seen.unsqueeze(1), mean, self.P))
        self.initialised |= seen
