"""``seco check-data``: read every sample of a split once, in parallel, and list the bad ones.

A sample is bad when its image does not decode, its mask or context map is
unreadable, of another size than its image or holds a class id out of range,
or its list entry or labels are wrong. Finding them takes minutes before a run
instead of failing hours into it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

from torch.utils.data import DataLoader, Dataset

from seco.config import Config
from seco.data import EvalTransform, SegDataset, read_catalog
from seco.data.skip import BadSample
from seco.engine.progress import progress_bar

__all__ = ["DataCheck", "check_split"]


@dataclass
class DataCheck:
    """What :func:`check_split` found: ``checked`` samples listed, of which ``bad`` are bad."""

    split: str
    checked: int
    bad: list[BadSample]
    seconds: float


class _Checks(Dataset):
    """Item ``i``: the bad samples met when loading sample ``i`` (an empty list when it is fine)."""

    def __init__(self, dataset: SegDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> list[BadSample]:
        return self.dataset[index]["skipped"]


def _concat(lists: Sequence[list[BadSample]]) -> list[BadSample]:
    return [bad for found in lists for bad in found]


def check_split(cfg: Config, split: str, workers: int, progress: bool = True, chunk: int = 16) -> DataCheck:
    """Load every sample of ``split`` (as evaluation reads it) in ``workers`` processes; collect the bad ones.

    The split is read as training reads it when it is ``data.train_split``
    (then every image needs a foreground label).
    """
    start = time.perf_counter()
    data_cfg = dataclasses.replace(cfg.data, on_error="skip")
    catalog = read_catalog(data_cfg, split, train=split == cfg.data.train_split)
    dataset = SegDataset(catalog, EvalTransform(), with_context=True, on_bad="drop")
    loader = DataLoader(_Checks(dataset), batch_size=chunk, collate_fn=_concat, num_workers=workers)
    bad = list(catalog.skipped)
    with progress_bar(f"check {split}", progress, total=len(dataset) + len(catalog.skipped),
                      initial=len(catalog.skipped), unit="img") as bar:
        for found in loader:
            bad += found
            bar.update(min(chunk, bar.total - bar.n))
            if bad:
                bar.set_postfix(bad=len(bad), refresh=False)
    return DataCheck(split, len(dataset) + len(catalog.skipped), bad, time.perf_counter() - start)
