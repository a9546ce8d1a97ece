"""The base class of every error a user can cause and fix (it imports nothing of seco, so every layer may use it)."""

from __future__ import annotations

__all__ = ["SecoError"]


class SecoError(Exception):
    """An error the user can fix: a config key, a file, a data set, a checkpoint, a run folder, a missing extra.

    Its message is one line that names the file or the config key at fault
    and the way out. The ``seco`` command line catches this one type, prints
    ``seco <command>: error: <message>`` and exits with status 1, without a
    traceback; any other exception is a bug and keeps its traceback.

    Each subclass lives with the code that raises it (``ConfigError`` in
    :mod:`seco.config`, ``DataError`` in :mod:`seco.data`, ...) and keeps the
    built-in base that callers catch (``class DataError(SecoError,
    ValueError)``, so ``except ValueError`` still holds). A subclass whose
    ``__init__`` takes other arguments than the message defines
    ``__reduce__``: ``seco bench scale`` passes a run's error from its worker
    process to the parent, and an error that does not unpickle there breaks
    the whole pool.

    :class:`~seco.engine.stop.TrainingInterrupted` is not one: it is a clean
    stop on a signal after a checkpoint, which the command line prints
    without ``error:`` and ends with the signal's exit status (128 + its
    number).
    """
