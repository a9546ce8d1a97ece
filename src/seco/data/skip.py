"""``data.on_error: skip``: a bad sample is left out, and remembered with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from seco.data.errors import DataError

__all__ = ["BadSample", "record_errors"]


@dataclass(frozen=True)
class BadSample:
    """A sample that was left out: its name and the error that named its file."""

    name: str
    reason: str

    def line(self) -> str:
        """One line of ``bad_samples.txt``: name, a tab, the reason."""
        return f"{self.name}\t{' '.join(self.reason.split())}"


@contextmanager
def record_errors(bad: list[BadSample] | None, name: str) -> Iterator[None]:
    """Run a block that reads one sample; with a ``bad`` list, a :class:`DataError` in it is appended
    there (and the rest of the block skipped) instead of raised."""
    if bad is None:
        yield
        return
    try:
        yield
    except DataError as err:
        bad.append(BadSample(name, str(err)))
