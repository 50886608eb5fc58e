"""An exclusive lock between processes on one machine, for shared caches.

Two test processes (``make test`` runs two), a controller and a benchmark may all fill the
same cache under ``~/.cache/watchline`` at once; the second waits for the first and then
finds the work done. ``flock`` is released by the kernel if the holder dies, so a killed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created, with its folder, if missing)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
