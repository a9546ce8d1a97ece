"""Switches: string fields whose allowed values are declared on the field itself.

``flip_merge: str = choice("max", ("max", "sum"))`` declares a switch;
:func:`switch_choices` walks a section of the schema and finds every one, so
:func:`seco.config.validate.validate` checks each switch without a list of
them kept elsewhere.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

__all__ = ["choice", "switch_choices"]

_CHOICES = "choices"
"""The key of a field's metadata that holds its allowed values."""


def choice(default: str, allowed: tuple[str, ...]) -> Any:
    """A dataclass field that holds one of ``allowed``, ``default`` unless set.

    Raises:
        ValueError: when ``default`` is not among ``allowed`` (a mistake in the schema itself).
    """
    if default not in allowed:
        raise ValueError(f"default {default!r} is not one of {', '.join(allowed)}")
    return dataclasses.field(default=default, metadata={_CHOICES: allowed})


def switch_choices(schema: type) -> dict[str, tuple[str, ...]]:
    """Dotted key -> allowed values of every :func:`choice` field of the dataclass ``schema`` and its sections.

    ``switch_choices(Config)["method.losses.reg.kernel"]`` is ``("auto", "blocked", "sdpa", "lattice")``.
    """
    types = typing.get_type_hints(schema)
    found: dict[str, tuple[str, ...]] = {}
    for spec in dataclasses.fields(schema):
        if _CHOICES in spec.metadata:
            found[spec.name] = spec.metadata[_CHOICES]
        elif dataclasses.is_dataclass(types[spec.name]):
            found.update({f"{spec.name}.{key}": allowed for key, allowed in switch_choices(types[spec.name]).items()})
    return found
