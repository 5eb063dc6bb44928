"""Rate limits per key (a client address, a user id) on the ``limits`` library, in process or shared in Redis.

A limit is a **moving window**: at most ``per_minute`` hits of one key in any
60 s (``limits.strategies.MovingWindowRateLimiter``); a refused hit is told
the seconds until the oldest hit of the window expires.

Where the counts live (:class:`LimitStorage`):

- no ``VISION_REDIS_URL``: in this process (``limits``' memory storage), so
  behind ``--workers N`` or N servers one key gets N times the limit;
- ``VISION_REDIS_URL=redis://host:port/db``: in that Redis, shared by every
  process that names it (the moving window is one Lua script, atomic).  Each
  Redis call has a short socket timeout; when Redis fails or hangs, the limits
  fall back to this process's memory for ``retry_after_s`` (logged), so a Redis
  outage neither takes the API down nor blocks its event loop for long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.strategies import RateLimiter as RateLimiter_

__all__ = ["LimitStorage", "RateLimiter"]

log = logging.getLogger("vision.api")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class LimitStorage:
    """The counters every limiter of one API process uses: memory, or Redis with a memory fallback.

    Parameters
    ----------
    url : str, optional
        ``redis://``, ``rediss://`` or ``unix://`` URL of a Redis; ``None`` keeps the counts in this process.
    timeout_s : float
        Socket (and connect) timeout of each Redis call.
    retry_after_s : float
        How long the memory fallback is used after a Redis failure before Redis is tried again.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = 0.25,
        retry_after_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if url is not None and not url.startswith(REDIS_SCHEMES):
            raise ValueError(f"VISION_REDIS_URL must start with redis://, rediss:// or unix://, got {url[:16]!r}...")
        self.url = url
        local = MemoryStorage()
        self._local = MovingWindowRateLimiter(local)
        self._local_counter = SlidingWindowCounterRateLimiter(local)
        self._shared: MovingWindowRateLimiter | None = None
        self._shared_counter: SlidingWindowCounterRateLimiter | None = None
        if url is not None:
            storage = storage_from_string(
                url, wrap_exceptions=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
            self._shared = MovingWindowRateLimiter(storage)
            self._shared_counter = SlidingWindowCounterRateLimiter(storage)
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """``"redis"`` or ``"memory"`` (what the log and the README call it)."""
        return "redis" if self._shared is not None else "memory"

    def hit(self, item: RateLimitItem, key: str, cost: int = 1, *, counter: bool = False) -> float:
        """Count ``cost`` hits of ``key`` under ``item``: 0.0 when allowed, else the seconds to wait.

        ``counter`` (a byte quota counted in kilobytes; always the same for one
        item) uses a sliding window *counter* (two counters per key, ``limits``'
        ``SlidingWindowCounterRateLimiter``): a moving window keeps one entry per
        unit, which is right for requests and far too many for bytes.
        """
        shared = self._shared_counter if counter else self._shared
        if shared is not None and self._clock() >= self._down_until:
            try:
                return _hit(shared, item, key, cost)
            except StorageError as exc:
                with self._lock:
                    self._down_until = self._clock() + self._retry_after_s
                log.warning(
                    "rate-limit storage unreachable (%s); counting in this process for %.0f s",
                    type(exc.storage_error).__name__,
                    self._retry_after_s,
                )
        return _hit(self._local_counter if counter else self._local, item, key, cost)

    def __repr__(self) -> str:
        return f"LimitStorage({self.kind})"


def _hit(limiter: RateLimiter_, item: RateLimitItem, key: str, cost: int) -> float:
    if limiter.hit(item, key, cost=cost):
        return 0.0
    reset_at, _remaining = limiter.get_window_stats(item, key)
    return max(0.001, reset_at - time.time())


class RateLimiter:
    """``hit(key)`` -> 0.0 when allowed, else the seconds to wait.  Thread-safe.

    Parameters
    ----------
    per_minute : float
        Hits allowed per key in any 60 s; 0 disables the limiter (every hit is
        allowed).  A rate under one a minute is counted per hour (0.5 -> 30 an hour).
    storage : LimitStorage, optional
        Where the counts live (default: a new in-process one).
    name : str
        Namespace of this limiter's keys in a shared storage (``client``, ``user``).
    """

    def __init__(self, per_minute: float, storage: LimitStorage | None = None, name: str = "vision") -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        self.per_minute = per_minute
        self.storage = storage if storage is not None else LimitStorage()
        namespace = f"vision-{name}"
        self._item: RateLimitItem = (
            RateLimitItemPerMinute(round(per_minute), namespace=namespace)
            if per_minute >= 1
            else RateLimitItemPerHour(max(1, round(per_minute * 60)), namespace=namespace)
        )

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def hit(self, key: str) -> float:
        """Count a hit for ``key``: 0.0 when allowed, else seconds until the window lets one more through."""
        if not self.enabled:
            return 0.0
        return self.storage.hit(self._item, key)
