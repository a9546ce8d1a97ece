"""Writes that never leave a half-written file or folder behind.

Everything a run leaves on disk (checkpoints, metrics, reports, the generated
synthetic set, pretrained weights) is first written next to its target under a
temporary name and then moved into place with ``os.replace``, which is atomic
on one file system. An interrupted write leaves the previous version intact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_directory", "atomic_write"]


def atomic_write(path: str | os.PathLike[str], content: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``content`` to ``path`` atomically and return the path.

    ``content`` is text (UTF-8), bytes, or a function that writes into the
    binary handle it is given (for example ``lambda f: torch.save(state, f)``).
    The data is flushed and fsynced before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder that replaces ``target`` when the block succeeds.

    The staging folder sits next to ``target``; on an error it is removed and
    ``target`` is left untouched. ``target`` must not exist yet or be empty.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, 0o755)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
