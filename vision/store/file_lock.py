"""An exclusive lock between processes on one file (``fcntl.flock``), for the local store's compare-and-swap.

``os.replace`` makes each pointer write atomic, but "read the pointer, decide,
write" is three steps: two processes can both read the old pointer and the
slower one then writes an older reference over the newer one.  Holding a
``flock`` on a per-user lock file across the three steps makes them one.  The
kernel drops the lock when its holder exits, even after ``kill -9``, so a
crashed writer never leaves a user locked.  Every acquisition opens its own
file descriptor, so threads of one process exclude each other too.

Where ``fcntl`` does not exist (Windows) the lock is only between the threads
of one process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["exclusive"]

_FALLBACK = threading.Lock()


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing, never removed) for the block.

    Raises ``OSError`` when the file cannot be created or opened (the caller
    maps it to its store error).
    """
    if fcntl is None:  # pragma: no cover - not POSIX
        with _FALLBACK:
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
