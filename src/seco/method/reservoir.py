"""The reservoir: a FIFO tag memory pool of local-teacher keys (paper eq. 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.labels import UNCERTAIN
from seco.method.collective import gather_from_all

__all__ = ["Reservoir", "unit_keys"]

UNIT_TOLERANCE = 1e-3
"""A key whose norm is within this of 1 is taken as already normalised and stored bit for bit."""


def unit_keys(keys: Tensor) -> Tensor:
    """(n, D) keys of unit length: rows already unit (within :data:`UNIT_TOLERANCE`) kept as they are, bit for
    bit, the others L2-normalised.

    Normalising a unit vector again moves it by about an ulp. The public LiL
    drops every key whose shifted logit is exactly 0, including both copies of
    a query's own key (this step's key and the copy just pushed), so the
    queued copy must be the very tensor the step used (issue 25).
    """
    unit = (keys.norm(dim=1, keepdim=True) - 1.0).abs() <= UNIT_TOLERANCE
    return torch.where(unit, keys, F.normalize(keys, dim=1))


class Reservoir(nn.Module):
    """FIFO memory of L2-normalised keys ``k`` paired with their category tags.

    Eq. 5 of the paper, ``R(x, t) = B_q ∪ B_k ∪ queue \\ {B_-q ∪ B_-k}``: each
    step the newest keys enter and the oldest leave. This object holds the
    ``queue`` part; the training step joins it with the current batch.

    Every piece of state is a registered buffer, so the pool is saved in
    checkpoints (``state_dict``) and follows ``.to(device)``:

    * ``keys`` (capacity, D);
    * ``tags`` (capacity,): 0 background, 1..K a class, -1 uncertain or empty;
    * ``ptr``: the slot the next key goes to (the oldest entry once full);
    * ``filled``: how many slots :meth:`snapshot` hands out.

    ``init='empty'`` (ReservoirConfig.init): the pool starts empty and empty
    slots are never handed out: random keys carry no information and would
    only add noise to LiL's denominator for the first ``capacity /
    keys-per-step`` steps. ``init='public'``: the public code's queue, full
    from the start of random keys tagged background, normalised across
    entries (each of the D columns has unit norm, so each key has norm about
    ``sqrt(D / capacity)``).
    """

    keys: Tensor
    tags: Tensor
    ptr: Tensor
    filled: Tensor

    def __init__(self, capacity: int, dim: int, init: str = "empty") -> None:
        super().__init__()
        if capacity <= 0 or dim <= 0:
            raise ValueError(f"capacity and dim must be positive, got {capacity} and {dim}")
        public = init == "public"
        self.register_buffer("keys", F.normalize(torch.randn(capacity, dim), dim=0 if public else 1))
        self.register_buffer("tags", torch.full((capacity,), 0 if public else UNCERTAIN, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.tensor(capacity if public else 0, dtype=torch.long))
        self._held = capacity if public else 0  # ``filled`` known on the host: no sync per step
        self.register_load_state_dict_post_hook(lambda module, _keys: module._sync_held())

    def _sync_held(self) -> None:
        self._held = int(self.filled)

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

        Under torchrun the keys and tags of every process are gathered first
        (rank order), so the reservoir is global and the same in every
        process. Keys are detached and stored as :func:`unit_keys` gives them:
        the step's own normalised keys unchanged, bit for bit, any other key
        L2-normalised. They are written in order, wrapping around the end of the buffer; when more keys
        than the capacity arrive only the newest ``capacity`` are kept.
        """
        if keys.ndim != 2 or tags.shape != keys.shape[:1]:
            raise ValueError(f"need keys (n, D) and tags (n,), got {tuple(keys.shape)} and {tuple(tags.shape)}")
        keys = gather_from_all(unit_keys(keys.detach().to(self.keys)))
        tags = gather_from_all(tags.to(self.tags))
        self.keys, self.tags, self.ptr, self.filled = self._pushed(keys, tags)
        self._held = min(self._held + keys.shape[0], self.capacity)

    def _pushed(self, keys: Tensor, tags: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """New ``(keys, tags, ptr, filled)`` buffers after writing unit ``keys`` with ``tags``."""
        keys, tags = keys[-self.capacity :], tags[-self.capacity :]
        n = keys.shape[0]
        slots = (self.ptr + torch.arange(n, device=self.keys.device)) % self.capacity
        new_keys, new_tags = self.keys.index_copy(0, slots, keys), self.tags.index_copy(0, slots, tags)
        return new_keys, new_tags, (self.ptr + n) % self.capacity, (self.filled + n).clamp(max=self.capacity)

    def snapshot(self) -> tuple[Tensor, Tensor]:
        """The held ``(keys (M, D), tags (M,))``, M = ``filled``; empty slots left out.

        The entries are in slot order, not age order (LiL and the
        rectification do not depend on order). The buffers are replaced, never
        written in place, by :meth:`push`, so tensors autograd saved stay valid.
        """
        return self.keys[: self._held], self.tags[: self._held]

    @torch.no_grad()
    def snapshot_public(self, keys: Tensor, tags: Tensor) -> tuple[Tensor, Tensor]:
        """What :meth:`snapshot` would return after ``push(keys, tags)``, without pushing: the public
        code's variant of :meth:`snapshot` (``lil.formula: public``).

        The public code's LiL reads the queue after the current keys entered it
        (so they appear twice among its keys: as this step's keys and in the queue,
        bit-identical: see :func:`unit_keys`).
        """
        keys = gather_from_all(unit_keys(keys.detach().to(self.keys)))
        tags = gather_from_all(tags.to(self.tags))
        new_keys, new_tags, _, _ = self._pushed(keys, tags)
        held = min(self._held + keys.shape[0], self.capacity)
        return new_keys[:held], new_tags[:held]

    def class_counts(self, num_classes: int) -> Tensor:
        """(K + 1,) long: pushed entries per tag 0 (background) .. K.

        Uncertain entries (tag -1) are not counted; they number
        ``filled - class_counts(K).sum()``.
        """
        _, tags = self.snapshot()
        return torch.bincount(tags[tags >= 0], minlength=num_classes + 1)
