"""The error a bad configuration raises."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""
