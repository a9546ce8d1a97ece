"""One training process per run folder: a lock file that names the process holding it.

Two processes training into one folder (two shells, or two benchmark
processes given the same variant and seed) would overwrite each other's
checkpoints and logs. :func:`run_folder_lock` makes the second one stop with
an error that names the first; a lock left by a process that no longer runs
(killed with SIGKILL, a power cut) is taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from seco.errors import SecoError

__all__ = ["LOCK", "RunFolderBusy", "run_folder_lock"]

LOCK = ".seco.lock"


class RunFolderBusy(SecoError, FileExistsError):
    """Another live process holds the run folder's lock."""


def _alive(holder: str) -> bool:
    """Whether the ``host:pid`` holder still runs; a holder on another host is taken to run."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname():
        return bool(holder)
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir/.seco.lock`` for the duration; raise :class:`RunFolderBusy` if a live process holds it.

    The folder is created if needed (and removed again if it is still empty
    on the way out, so a run that failed before writing anything leaves no
    trace). The lock is removed on every exit, errors included.
    """
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    me = f"{socket.gethostname()}:{os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = path.read_text().strip()
            except FileNotFoundError:  # released in between
                continue
            if _alive(holder):
                host = holder.rpartition(":")[0]
                unchecked = "" if host == socket.gethostname() else f" on host {host}, which cannot be checked " \
                    "from here"
                raise RunFolderBusy(f"{run_dir} is in use by process {holder}{unchecked} (lock file {path}); wait "
                                    "for it, or choose another out_dir. Delete the lock file only if that process "
                                    "is gone") from None
            path.unlink(missing_ok=True)  # stale: its process no longer runs
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(me)
        break
    else:
        raise RunFolderBusy(f"could not take the lock {path}: another process keeps taking it")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()
