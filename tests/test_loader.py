"""The training stream: the same batches whatever the start iteration and the number of workers."""

from __future__ import annotations

import itertools

import torch

from seco.config import DataConfig
from seco.data import build_dataset
from seco.engine.loader import TrainStream


def _names(stream: TrainStream, start: int, count: int) -> list[list[str]]:
    return [batch["name"] for batch in itertools.islice(stream.iterate(start), count)]


def test_resuming_anywhere_replays_the_same_batches_across_epochs(synthetic_data_cfg: DataConfig) -> None:
    synthetic_data_cfg.crop_size = 48
    data = build_dataset(synthetic_data_cfg, "train", train=True)
    stream = TrainStream(data, batch_size=5, seed=3)  # 24 images: 4 batches per epoch, 4 images dropped
    assert stream.batches_per_epoch == 4
    straight = _names(stream, 0, 10)
    assert _names(stream, 3, 7) == straight[3:]  # crosses two epoch boundaries
    assert len({n for batch in straight[:4] for n in batch}) == 20  # no image twice within an epoch
    assert straight[:4] != straight[4:8]  # each epoch has its own order
    with_workers = TrainStream(data, batch_size=5, seed=3, num_workers=2)
    first = next(with_workers.iterate(2))
    assert first["name"] == straight[2]
    assert torch.equal(first["image"], next(stream.iterate(2))["image"])  # augmentation seeded per item too
