"""Stopping a training run cleanly on SIGTERM (what cluster schedulers send) or SIGINT (Ctrl-C).

The first signal only sets a flag; the loop sees it between two iterations,
writes a checkpoint of the iteration it reached and raises
:class:`TrainingInterrupted`. A second SIGINT stops at once (the previous
checkpoint stays intact).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["StopSignals", "TrainingInterrupted"]

HANDLED = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after writing a checkpoint at ``iteration``.

    Not a :class:`~seco.errors.SecoError`: nothing is wrong, the run stopped
    cleanly. The command line prints the message without ``error:`` and ends
    with :attr:`exit_code`.
    """

    def __init__(self, signum: int, iteration: int, total: int, checkpoint: Path) -> None:
        self.signum, self.iteration, self.total, self.checkpoint = signum, iteration, total, checkpoint
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} at iteration {iteration} of {total}; checkpoint {checkpoint} holds "
                         "it; run the same command again to resume")

    def __reduce__(self) -> tuple[type[TrainingInterrupted], tuple[int, int, int, Path]]:
        """Rebuilt from its fields: ``seco bench scale`` passes it from a worker process to the parent."""
        return type(self), (self.signum, self.iteration, self.total, self.checkpoint)

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


class StopSignals:
    """A context that turns SIGTERM and SIGINT into a request (:attr:`signum`) the loop polls.

    Handlers are installed only in the main thread (Python's rule) and the
    previous ones are restored on exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, the last checkpoint is intact
        self.signum = self.signum or signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in HANDLED}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
