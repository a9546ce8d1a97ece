"""The one exception type of the data package."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """A data set on disk is unusable; the message names the file and the problem."""
