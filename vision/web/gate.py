"""The CPU gate: at most ``workers`` CPU-heavy steps at once, each request under a deadline.

``service`` holds ``gate()`` around decoding, AKAZE, matching and tagging.  A
request sets its deadline once (:meth:`CpuGate.deadline`, thread-local: the
flow runs on one worker thread); a step that would have to wait for a slot
past the deadline raises :class:`DeadlineExceeded` instead of queueing, so a
backlog turns into fast "try again" answers rather than minutes of waiting.
Gate holds must not nest (a semaphore is not re-entrant).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CpuGate", "DeadlineExceeded"]


class DeadlineExceeded(Exception):
    """The request's deadline passed while it waited for a CPU slot."""


class CpuGate:
    """``with gate():`` around CPU-heavy work; ``with gate.deadline(s):`` around a whole request."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._slots = threading.BoundedSemaphore(workers)
        self._local = threading.local()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Give the work done on this thread inside the block ``seconds`` to get its CPU slots."""
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._local.deadline = previous

    def __call__(self) -> CpuGate:
        return self

    def __enter__(self) -> CpuGate:
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            self._slots.acquire()
            return self
        left = deadline - time.monotonic()
        if left <= 0 or not self._slots.acquire(timeout=left):
            raise DeadlineExceeded("the request ran out of time waiting for a CPU slot (server busy)")
        return self

    def __exit__(self, *exc: object) -> None:
        self._slots.release()
