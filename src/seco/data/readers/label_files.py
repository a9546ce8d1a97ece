"""Image-level label files (JSON, CSV or the IRN/ToCo/SeCo ``.npy``) and their resolution to class ids."""

from __future__ import annotations

import codecs
import csv
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seco.data.errors import DataError

__all__ = ["Token", "check_foreground", "is_id", "read_label_file", "resolve_labels"]

Token = int | str
_HEADER_FIRST_CELLS = frozenset({"name", "image", "file", "filename", "image_id", "id"})


def read_label_file(path: Path) -> dict[str, list[Token]]:
    """Labels per image name from ``{name: [ids or names]}`` JSON, ``name,labels`` CSV or ``.npy``.

    In a CSV the labels of one cell are separated by ``;`` when the cell holds
    one, else by white space; further columns add labels; a header row whose
    first cell is ``name``, ``image``, ``file``, ``filename``, ``image_id`` or ``id``
    is skipped. A ``.npy`` file is the ``cls_labels.npy`` of the IRN, ToCo and
    SeCo repositories (see :func:`read_npy_labels`).
    """
    if not path.is_file():
        raise DataError(f"{path}: labels file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".npy":
        return read_npy_labels(path)
    return _read_csv(path)


def _numpy_global(name: str) -> Any:
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray
    return getattr(multiarray, name)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain containers only: any other global is refused, so a crafted
    file cannot run code (what ``np.load(allow_pickle=True)`` would allow)."""

    _ALLOWED = {
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_global("_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_global("_reconstruct"),
        ("numpy.core.multiarray", "scalar"): lambda: _numpy_global("scalar"),
        ("numpy._core.multiarray", "scalar"): lambda: _numpy_global("scalar"),
        ("_codecs", "encode"): lambda: codecs.encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return self._ALLOWED[(module, name)]()


def _image_name(key: Any) -> str:
    """IRN stores ``2007_000032`` as the integer 2007000032; ToCo and SeCo keep the string."""
    if not isinstance(key, (int, np.integer)):
        return str(key)
    text = str(int(key))
    return f"{text[:4]}_{text[4:]}" if len(text) == 10 else text


def read_npy_labels(path: Path) -> dict[str, list[Token]]:
    """The VOC/COCO ``cls_labels.npy`` of IRN, ToCo and SeCo: a pickled dict {image id: multi-hot vector}.

    The vector's entry ``i`` is foreground class ``i + 1``. Integer ids such
    as 2007000032 (IRN) mean image ``2007_000032``. The file is read with a
    restricted unpickler that builds NumPy arrays and nothing else, never
    with ``np.load(allow_pickle=True)``, which would run any code a file holds.
    """
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(handle)
            data = _ArrayUnpickler(handle).load() if dtype.hasobject else None
    except (ValueError, EOFError, pickle.UnpicklingError, AttributeError, TypeError) as err:
        raise DataError(f"{path}: not a readable cls_labels.npy ({err})") from None
    if data is None:
        raise DataError(f"{path}: holds a plain {dtype} array without image names; expected the pickled "
                        "dict {image id: multi-hot vector} of IRN/ToCo/SeCo (cls_labels.npy)")
    table = data.item() if isinstance(data, np.ndarray) and data.shape == () else data
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a dict {{image id: multi-hot vector}}, found {type(table).__name__}")
    labels: dict[str, list[Token]] = {}
    for key, vector in table.items():
        values = np.asarray(vector)
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
            raise DataError(f"{path}: entry {_image_name(key)!r} is not a vector of 0/1 class flags")
        labels[_image_name(key)] = [int(i) + 1 for i in np.flatnonzero(values > 0.5)]
    return labels


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
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and row[0].strip()]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file; labels files are CSV, JSON or a cls_labels.npy "
                        "(the suffix picks the reader)") from None
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
