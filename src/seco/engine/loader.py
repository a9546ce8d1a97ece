"""A resumable, seed-driven training stream.

Every random choice of the input pipeline is a pure function of
``(seed, epoch, index)``: the sampler draws each epoch's order from a
generator derived from the seed and the epoch, and each item's augmentation
runs in a forked RNG derived from the same triple. The stream is therefore
identical whatever the number of workers or processes, and resuming at
iteration ``i`` replays exactly the batches that follow ``i``. The global RNG
of the training loop is never reseeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from seco.errors import SecoError

__all__ = ["SeededItems", "SetSmallerThanBatch", "TrainStream", "derive_seed", "to_device"]

_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style mixing)."""
    value = 0
    for part, mult in zip(parts, _MIX * (len(parts) // 3 + 1)):
        value = ((value ^ (part & 0xFFFFFFFFFFFFFFFF)) * mult + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
        value ^= value >> 31
    return value & 0x7FFFFFFFFFFFFFFF


class SeededItems(Dataset):
    """Wrap a dataset so item ``(epoch, index)`` is augmented from its own derived seed."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, epoch, index))
            return self.dataset[index]


class _StreamSampler(Sampler):
    """Yields the ``(epoch, index)`` keys of one process's share, epoch after epoch, from a start batch.

    Each epoch's order is a permutation drawn from (seed, epoch); only its
    first ``batches_per_epoch`` whole batches are used (the rest of an epoch is
    dropped, as ``drop_last`` would), so batch ``i`` is the same whatever the
    start and the number of workers.
    """

    def __init__(self, size: int, seed: int, rank: int, world: int, batch_size: int, batches_per_epoch: int,
                 start_batch: int) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.per_epoch = batch_size * batches_per_epoch
        self.start = start_batch * batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start, self.per_epoch)
        while True:
            gen = torch.Generator().manual_seed(derive_seed(self.seed, epoch, 0x5EED))
            share = torch.randperm(self.size, generator=gen)[self.rank :: self.world][: self.per_epoch]
            for index in share[offset:].tolist():
                yield epoch, index
            epoch, offset = epoch + 1, 0


class SetSmallerThanBatch(SecoError, ValueError):
    """The smallest process share of the training set holds fewer images than one batch."""

    def __init__(self, images: int, world: int, batch_size: int) -> None:
        self.images, self.world, self.batch_size = images, world, batch_size
        self.per_process = images // world
        share = f" ({self.per_process} per process of {world})" if world > 1 else ""
        super().__init__(f"the training set has {images} images{share}, fewer than one batch of {batch_size}")

    def __reduce__(self) -> tuple[type[SetSmallerThanBatch], tuple[int, int, int]]:
        return type(self), (self.images, self.world, self.batch_size)


class TrainStream:
    """An endless iterator of training batches that can start at any iteration.

    One DataLoader serves the whole run: with ``num_workers > 0`` its workers
    persist across epochs and prefetch, and batches land in pinned memory when
    a GPU is present, so the copy to the device can overlap the step.

    Raises:
        SetSmallerThanBatch: a process's share holds less than one batch
            (judged on the smallest share, so every process agrees).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0,
                 rank: int = 0, world: int = 1, collate_fn: Any = None) -> None:
        self.items = SeededItems(dataset, seed)
        if len(self.items) // world < batch_size:
            raise SetSmallerThanBatch(len(self.items), world, batch_size)
        per_process = len(range(rank, len(self.items), world))
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers
        self.rank, self.world, self.collate_fn = rank, world, collate_fn
        self.batches_per_epoch = per_process // batch_size

    def iterate(self, start_iteration: int = 0) -> Iterator[Any]:
        """Batches for iterations ``start_iteration, start_iteration + 1, ...``."""
        sampler = _StreamSampler(len(self.items), self.seed, self.rank, self.world, self.batch_size,
                                 self.batches_per_epoch, start_iteration)
        workers = self.num_workers
        loader = DataLoader(self.items, batch_size=self.batch_size, sampler=sampler, num_workers=workers,
                            collate_fn=self.collate_fn, pin_memory=torch.cuda.is_available(),
                            persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)
        return iter(loader)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move a batch's tensors to ``device`` (names and other values stay)."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
