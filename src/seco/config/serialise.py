"""A configuration as a dict, as YAML text and as a file; the keys two configurations differ in."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seco.atomic import atomic_write
from seco.config.errors import ConfigError
from seco.config.projection import projection_width
from seco.config.schema import Config
from seco.config.validate import validate

__all__ = ["config_diff", "config_from_dict", "config_yaml", "dotted_leaves", "save_config", "to_dict"]


def to_dict(cfg: Config) -> dict[str, Any]:
    """A plain nested dict of the config (for JSON, YAML and checkpoints)."""
    return dataclasses.asdict(cfg)


def config_yaml(cfg: Config) -> str:
    """The resolved config as YAML text."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically); ``load_config(path)`` reads it back."""
    atomic_write(path, config_yaml(cfg))


def dotted_leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf of a nested dict (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    leaves: dict[str, Any] = {}
    for key, value in tree.items():
        leaves.update(dotted_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


def config_diff(stored: dict[str, Any], cfg: Config) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose value differs between a stored config dict and ``cfg``: ``{key: (stored, now)}``.

    ``stored`` is :func:`to_dict` output, for example a checkpoint's config;
    keys it lacks (an older version) count at their defaults. A ``model.proj_dim``
    of 0 on one side and the encoder's width on the other is no difference: both
    build the same projection (a run saved before the VOC config left it unset).
    """
    try:
        filled = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(Config), stored))
    except OmegaConfBaseException:
        filled = stored
    old, new = dotted_leaves(filled), dotted_leaves(to_dict(cfg))
    missing = object()
    diff = {key: (old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())
            if old.get(key, missing) != new.get(key, missing)}
    if "model.proj_dim" in diff:
        width = projection_width(old)
        if width is not None and width == projection_width(new):
            del diff["model.proj_dim"]
    return diff


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a validated :class:`Config` from :func:`to_dict` output (checkpoints)."""
    try:
        cfg: Config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), data))  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        raise ConfigError(f"invalid stored config: {err}") from err
    validate(cfg)
    return cfg
