"""Storage quotas: how many bytes of reference photos a user, a client address and everyone may store a day.

Registering stores a photo (re-encoded at the working resolution by
default, :mod:`vision.image.stored_photo`); retention caps what one user id keeps,
but new ids cost new storage, so without a quota one address could grow the
store without bound (issue 22: +599 MB in 31 s).  Each register is charged
its stored size, in kilobytes, against three sliding-window-counter quotas
of one day (``limits``, through :class:`vision.web.ratelimit.LimitStorage`: in
process, or shared in Redis with ``VISION_REDIS_URL``): the user id, the
client address, and the whole service.  The first quota that refuses ends
the register with nothing stored; quotas charged before it keep the charge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay

from vision.web.ratelimit import LimitStorage

__all__ = ["QuotaRefusal", "StorageQuota"]


@dataclass(frozen=True)
class QuotaRefusal:
    """Which quota refused (``user``, ``client`` or ``service``), its size and when to retry."""

    scope: str
    megabytes_per_day: float
    retry_after_s: float

    @property
    def reason(self) -> str:
        return (
            f"storage quota reached: at most {self.megabytes_per_day:g} MB of reference photos a day "
            f"per {self.scope}; retry in {max(1, math.ceil(self.retry_after_s))} s"
        )


class StorageQuota:
    """Byte quotas per user, per client address and in total, per day (0 MB: that quota is off).

    Parameters
    ----------
    storage : LimitStorage
        Where the counts live (shared with the rate limits).
    user_mb, client_mb, total_mb : float
        Megabytes a day per user id, per client address, for the whole service.
    """

    def __init__(self, storage: LimitStorage, user_mb: float, client_mb: float, total_mb: float) -> None:
        if min(user_mb, client_mb, total_mb) < 0:
            raise ValueError("storage quotas must be >= 0 MB a day")
        self.storage = storage
        self._quotas: list[tuple[str, float, RateLimitItem | None]] = [
            (
                scope,
                mb,
                RateLimitItemPerDay(max(1, round(mb * 1000)), namespace=f"vision-quota-{scope}") if mb else None,
            )
            for scope, mb in (("user", user_mb), ("client", client_mb), ("service", total_mb))
        ]

    def charge(self, nbytes: int, user: str, client: str) -> QuotaRefusal | None:
        """Charge ``nbytes`` (rounded up to kilobytes) to ``user``, ``client`` and the service; the refusal, if any."""
        cost = max(1, math.ceil(nbytes / 1000))
        keys = {"user": user, "client": client, "service": "all"}
        for scope, mb, item in self._quotas:
            if item is None:
                continue
            wait = self.storage.hit(item, keys[scope], cost, counter=True)
            if wait:
                return QuotaRefusal(scope, mb, wait)
        return None
