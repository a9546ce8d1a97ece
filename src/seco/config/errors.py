"""The error a bad configuration raises."""

from __future__ import annotations

from seco.errors import SecoError

__all__ = ["ConfigError"]


class ConfigError(SecoError, ValueError):
    """A configuration file or override is invalid; the message names the key."""
