"""The list of bad samples a run left out (``data.on_error: skip``), kept in ``bad_samples.txt``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from seco.atomic import atomic_write
from seco.data.skip import BadSample

__all__ = ["BAD_SAMPLES", "BadSampleLog"]

BAD_SAMPLES = "bad_samples.txt"


class BadSampleLog:
    """Bad samples by name, written to ``path`` as ``name<TAB>reason`` lines whenever one is new.

    With ``keep`` the names already listed in ``path`` (an earlier part of a
    resumed run) are read first; otherwise a stale list is removed.
    """

    def __init__(self, path: Path, keep: bool = False) -> None:
        self.path = path
        self.reasons: dict[str, str] = {}
        if keep and path.is_file():
            for line in path.read_text().splitlines():
                name, _, reason = line.partition("\t")
                self.reasons[name] = reason
        elif path.is_file():
            path.unlink()

    def __len__(self) -> int:
        return len(self.reasons)

    def add(self, samples: Iterable[BadSample]) -> bool:
        """Record ``samples``; rewrite the file and return True when one of them was new."""
        new = {s.name: s.line().partition("\t")[2] for s in samples if s.name not in self.reasons}
        if new:
            self.reasons.update(new)
            atomic_write(self.path, "".join(f"{name}\t{reason}\n" for name, reason in self.reasons.items()))
        return bool(new)
