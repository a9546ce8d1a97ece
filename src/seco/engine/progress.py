"""Progress bars that stay readable in a terminal and in CI logs."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(desc: str, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar; refreshed at most every 10 s when stderr is not a terminal (log files)."""
    interactive = sys.stderr.isatty()
    return tqdm(desc=desc, disable=not enabled, dynamic_ncols=interactive,
                mininterval=0.1 if interactive else 10.0, **kwargs)
