"""Image-level label files (JSON or CSV) and their resolution to class ids."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from seco.data.errors import DataError

__all__ = ["Token", "check_foreground", "is_id", "read_label_file", "resolve_labels"]

Token = int | str
_HEADER_FIRST_CELLS = frozenset({"name", "image", "file", "filename", "image_id", "id"})


def read_label_file(path: Path) -> dict[str, list[Token]]:
    """Labels per image name from ``{name: [ids or names]}`` JSON or ``name,labels`` CSV.

    In a CSV the labels of one cell are separated by ``;`` when the cell holds
    one, else by white space; further columns add labels; a header row whose
    first cell is ``name``, ``image``, ``file``, ``filename``, ``image_id`` or ``id``
    is skipped.
    """
    if not path.is_file():
        raise DataError(f"{path}: labels file does not exist")
    if path.suffix.lower() == ".json":
        return _read_json(path)
    return _read_csv(path)


def _read_json(path: Path) -> dict[str, list[Token]]:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object {{image name: [labels]}}")
    labels: dict[str, list[Token]] = {}
    for name, tokens in data.items():
        if not isinstance(tokens, list) or not all(isinstance(t, (int, str)) for t in tokens):
            raise DataError(f"{path}: entry {name!r} is not a list of class ids or names")
        labels[str(name)] = list(tokens)
    return labels


def _split_cell(cell: str) -> list[str]:
    parts = cell.split(";") if ";" in cell else cell.split()
    return [part.strip() for part in parts if part.strip()]


def _read_csv(path: Path) -> dict[str, list[Token]]:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and row[0].strip()]
    if rows and rows[0][0].strip().lower() in _HEADER_FIRST_CELLS:
        rows = rows[1:]
    return {row[0].strip(): [t for cell in row[1:] for t in _split_cell(cell)] for row in rows}


def is_id(token: Token) -> bool:
    """Whether a label token is a class id (an integer or a string of digits)."""
    return isinstance(token, int) or token.isdigit()


def resolve_labels(tokens: Sequence[Token], class_names: Sequence[str], origin: str) -> tuple[int, ...]:
    """Sorted foreground class ids of label tokens; background (id 0) is dropped.

    Raises:
        DataError: naming ``origin`` for an id out of range or an unknown name.
    """
    by_name = {name.lower(): i for i, name in enumerate(class_names)}
    ids = set()
    for token in tokens:
        if is_id(token):
            index = int(token)
            if not 0 <= index < len(class_names):
                raise DataError(f"{origin}: class id {index} out of range 0..{len(class_names) - 1}")
        else:
            index = by_name.get(str(token).strip().lower(), -1)
            if index < 0:
                raise DataError(f"{origin}: unknown class name {token!r}")
        ids.add(index)
    ids.discard(0)
    return tuple(sorted(ids))


def check_foreground(labels: tuple[int, ...], origin: str) -> None:
    """Raise :class:`DataError` naming ``origin`` if a training image has no foreground class."""
    if not labels:
        raise DataError(f"{origin}: empty label list; a training image needs at least one foreground class")
