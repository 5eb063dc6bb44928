"""Process memory: give freed heap back to the system, and read the resident set size.

glibc keeps freed memory in its arenas; after a request that decoded a large
photo (tens of megabytes of pixels, a coefficient buffer) the process would
stay that large while idle.  ``malloc_trim(0)`` returns the free top of every
arena to the kernel.  Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache

__all__ = ["release_memory", "rss_bytes"]


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory() -> bool:
    """Return the free heap to the system (``malloc_trim(0)``); False where that is unavailable."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (default this process) from ``/proc/<pid>/statm``; 0 without ``/proc``."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
