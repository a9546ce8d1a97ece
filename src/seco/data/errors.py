"""The one exception type of the data package."""

from __future__ import annotations

from seco.errors import SecoError

__all__ = ["DataError"]


class DataError(SecoError, ValueError):
    """A data set on disk is unusable; the message names the file and the problem."""
