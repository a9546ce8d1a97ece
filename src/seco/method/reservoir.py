"""The reservoir: a FIFO tag memory pool of local-teacher keys (paper eq. 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.labels import UNCERTAIN

__all__ = ["Reservoir"]



class Reservoir(nn.Module):
    """FIFO memory of L2-normalised keys ``k`` paired with their category tags.

    Eq. 5 of the paper, ``R(x, t) = B_q ∪ B_k ∪ queue \\ {B_-q ∪ B_-k}``: each
    step the newest keys enter and the oldest leave. This object holds the
    ``queue`` part; the training step joins it with the current batch.

    Every piece of state is a registered buffer, so the pool is saved in
    checkpoints (``state_dict``) and follows ``.to(device)``:

    * ``keys`` (capacity, D): random vectors, each normalised on its own, until
      a slot is written;
    * ``tags`` (capacity,): -1 for empty slots, else the pushed tag
      (0 background, 1..K a class, -1 uncertain);
    * ``ptr``: the slot the next key goes to (the oldest entry once full);
    * ``filled``: how many slots hold a pushed key.

    Empty slots are never handed out by :meth:`snapshot`: they are neither
    positives nor negatives. Their random keys carry no information about the
    data, and as negatives they would only add noise to the InfoNCE
    denominator of LiL (eq. 8) during the first ``capacity / keys-per-step``
    steps. Keys pushed with tag -1 are real entries and do serve as negatives.
    """

    keys: Tensor
    tags: Tensor
    ptr: Tensor
    filled: Tensor

    def __init__(self, capacity: int, dim: int) -> None:
        super().__init__()
        if capacity <= 0 or dim <= 0:
            raise ValueError(f"capacity and dim must be positive, got {capacity} and {dim}")
        self.register_buffer("keys", F.normalize(torch.randn(capacity, dim), dim=1))
        self.register_buffer("tags", torch.full((capacity,), UNCERTAIN, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def capacity(self) -> int:
        """Number of slots."""
        return self.keys.shape[0]

    @property
    def valid(self) -> Tensor:
        """(capacity,) bool: slots that hold a pushed key.

        Slots fill in order from 0 and the pointer only wraps once all are
        full, so the valid slots are always the first ``filled`` ones.
        """
        return torch.arange(self.capacity, device=self.keys.device) < self.filled

    @torch.no_grad()
    def push(self, keys: Tensor, tags: Tensor) -> None:
        """Enqueue ``keys`` (n, D) with ``tags`` (n,), overwriting the oldest.

        Keys are detached and L2-normalised per vector. They are written in
        order, wrapping around the end of the buffer; when ``n`` exceeds the
        capacity only the newest ``capacity`` keys are kept.
        """
        if keys.ndim != 2 or tags.shape != keys.shape[:1]:
            raise ValueError(f"need keys (n, D) and tags (n,), got {tuple(keys.shape)} and {tuple(tags.shape)}")
        keys, tags = keys[-self.capacity :], tags[-self.capacity :]
        n = keys.shape[0]
        slots = (self.ptr + torch.arange(n, device=self.keys.device)) % self.capacity
        self.keys[slots] = F.normalize(keys.detach().to(self.keys), dim=1)
        self.tags[slots] = tags.to(self.tags)
        self.ptr.copy_((self.ptr + n) % self.capacity)
        self.filled.copy_((self.filled + n).clamp(max=self.capacity))

    def snapshot(self) -> tuple[Tensor, Tensor]:
        """The pushed ``(keys (M, D), tags (M,))``, M = ``filled``; empty slots left out.

        The entries are in slot order, not age order (LiL and the
        rectification do not depend on order). They are copies, so a later
        :meth:`push` never changes tensors that autograd saved for backward.
        """
        n = int(self.filled)
        return self.keys[:n].clone(), self.tags[:n].clone()

    def class_counts(self, num_classes: int) -> Tensor:
        """(K + 1,) long: pushed entries per tag 0 (background) .. K.

        Uncertain entries (tag -1) are not counted; they number
        ``filled - class_counts(K).sum()``.
        """
        _, tags = self.snapshot()
        return torch.bincount(tags[tags >= 0], minlength=num_classes + 1)
