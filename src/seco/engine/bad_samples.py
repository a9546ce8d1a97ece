"""The list of bad samples a run left out (``data.on_error: skip``), kept in ``bad_samples.txt``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from seco.atomic import atomic_write
from seco.data.skip import BadSample

__all__ = ["BAD_SAMPLES", "BadSampleLog", "evaluation_list"]

BAD_SAMPLES = "bad_samples.txt"


def evaluation_list(split: str) -> str:
    """The file name of an evaluation's list, apart from the training run's own ``bad_samples.txt``."""
    return f"bad_samples_{split}.txt"


class BadSampleLog:
    """Bad samples by name, written to ``path`` as :meth:`BadSample.line` lines whenever one is new.

    With ``keep`` the lines already in ``path`` (an earlier part of a resumed
    run) are read first; otherwise a stale list is removed.
    """

    def __init__(self, path: Path, keep: bool = False) -> None:
        self.path = path
        self.lines: dict[str, str] = {}
        if keep and path.is_file():
            self.lines = {line.partition("\t")[0]: line for line in path.read_text().splitlines()}
        elif path.is_file():
            path.unlink()

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, samples: Iterable[BadSample]) -> bool:
        """Record ``samples``; rewrite the file and return True when one of them was new."""
        new = {s.name: s.line() for s in samples if s.name not in self.lines}
        if new:
            self.lines.update(new)
            atomic_write(self.path, "".join(f"{line}\n" for line in self.lines.values()))
        return bool(new)
