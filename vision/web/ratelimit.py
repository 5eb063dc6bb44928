"""Token-bucket rate limits per key (a client address, a user id), in bounded memory.

Each key has a bucket of ``burst`` tokens refilled at ``per_minute / 60`` per
second; a request takes one token or is refused with the seconds until the
next token.  At most ``max_keys`` buckets are kept (least recently used
evicted), so a flood of distinct keys costs bounded memory; an evicted key
starts again with a full bucket, which only matters for keys idle long enough
to be evicted.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """``hit(key)`` -> 0.0 when allowed, else the seconds to wait.  Thread-safe.

    Parameters
    ----------
    per_minute : float
        Sustained rate; 0 disables the limiter (every hit is allowed).
    burst : int, optional
        Bucket size (default: ``per_minute``, at least 1).
    max_keys : int
        Buckets kept in memory.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int | None = None,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 0 or max_keys < 1:
            raise ValueError("per_minute must be >= 0 and max_keys >= 1")
        self.per_minute = per_minute
        self.burst = max(1, int(burst if burst is not None else per_minute))
        self.max_keys = max_keys
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def hit(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when allowed, else seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self._rate
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait
