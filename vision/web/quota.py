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

Beside the daily quotas, :class:`StoredBytesQuota` bounds the *total* bytes
stored per user id and for the whole store (``VISION_QUOTA_USER_MB_TOTAL``,
``VISION_QUOTA_TOTAL_MB_TOTAL``), measured in the store itself.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, RateLimitItemPerDay

from vision.web.ratelimit import LimitStorage

__all__ = ["Admission", "MeasuredStore", "QuotaRefusal", "StorageQuota", "StoredBytesQuota", "StoredRefusal"]

log = logging.getLogger("vision.api")


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


class MeasuredStore(Protocol):
    """A store that can say how many bytes it holds (:meth:`LocalReferenceStore.stored_bytes` and S3's)."""

    def stored_bytes(self, user_id: str | None = None) -> int: ...


@dataclass(frozen=True)
class StoredRefusal:
    """A total-bytes quota refused: which (``user`` or ``service``), its size, and what is stored now."""

    scope: str
    megabytes: float
    stored_bytes: int

    @property
    def reason(self) -> str:
        who = "this user stores" if self.scope == "user" else "the service stores"
        return (
            f"storage quota reached: {who} {self.stored_bytes / 1e6:.2f} MB (photos, features, proofs), at most "
            f"{self.megabytes:g} MB in total per {self.scope}"
            + ("; delete references to register more" if self.scope == "user" else "")
        )


class StoredBytesQuota:
    """Totals of stored bytes per user and for the whole store, read from the store (0 MB: that quota is off).

    A user's total is measured on every register (one listing of a folder or
    prefix that retention keeps small).  The whole store's total is measured
    in the background, at the first register and again when ``refresh_s``
    has passed; between scans the bytes this process admitted since the scan
    began are added, so a burst cannot overshoot by more than what other
    processes admitted in one refresh period.  Both come from the store, so
    they survive restarts and count every process's writes.

    Parameters
    ----------
    store : MeasuredStore
    user_mb, total_mb : float
        Megabytes one user id, and the whole store, may hold.
    refresh_s : float
        Age after which the whole-store total is measured again.
    """

    def __init__(self, store: MeasuredStore, user_mb: float, total_mb: float, refresh_s: float = 60.0) -> None:
        if min(user_mb, total_mb) < 0:
            raise ValueError("storage quotas must be >= 0 MB")
        self.store = store
        self.user_bytes = round(user_mb * 1e6)
        self.total_bytes = round(total_mb * 1e6)
        self.user_mb, self.total_mb = user_mb, total_mb
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._total: int | None = None  # the last scan's result
        self._since_scan = 0  # bytes admitted here since that scan began
        self._scanned_at = -math.inf
        self._scanning = False

    def refresh(self) -> None:
        """Measure the whole store now (blocking); admissions meanwhile are kept on top of the result."""
        with self._lock:
            started_with = self._since_scan
            self._scanning = True
        try:
            total = self.store.stored_bytes(None)
        except Exception as exc:  # the store's trouble: keep the last total, retry at the next refresh
            log.warning("cannot measure the store's total for the storage quota: %s", exc)
            with self._lock:
                self._scanning = False
                self._scanned_at = time.monotonic()
            return
        with self._lock:
            self._total = total
            self._since_scan -= started_with  # what was admitted before the scan began is in ``total``
            self._scanned_at = time.monotonic()
            self._scanning = False

    def refresh_soon(self) -> None:
        """Measure the whole store on a background thread when the last scan is older than ``refresh_s``."""
        with self._lock:
            due = not self._scanning and time.monotonic() - self._scanned_at >= self.refresh_s
            if due:
                self._scanning = True  # one scan at a time
        if due:
            threading.Thread(target=self.refresh, name="vision-quota-scan", daemon=True).start()

    def check(self, nbytes: int, user: str | None) -> StoredRefusal | Admission:
        """Admit ``nbytes`` more for ``user`` (None: a fresh anonymous id, which stores nothing yet), or the refusal.

        The admission counts ``nbytes`` against the service at once; pass it to
        :meth:`settle` once the reference is stored, so the whole-store total
        gets what the store really grew by (features, proofs; retention's deletions).
        Store errors (:class:`~vision.store.errors.StoreError`) propagate.
        """
        if self.total_bytes and self._total is not None:
            self.refresh_soon()
        before = 0
        if self.user_bytes and user is not None:
            before = self.store.stored_bytes(user)
            if before + nbytes > self.user_bytes:
                return StoredRefusal("user", self.user_mb, before)
        if self.total_bytes:
            if self._total is None:
                self.refresh()  # never measured (a scan failed, or none finished yet): this register waits for one
            with self._lock:
                stored = (self._total or 0) + self._since_scan
                if stored + nbytes > self.total_bytes:
                    return StoredRefusal("service", self.total_mb, stored)
                self._since_scan += nbytes
        return Admission(nbytes, user, before if self.user_bytes else None)

    def settle(self, admission: Admission, owner: str) -> None:
        """After a stored register: replace the admitted estimate by what ``owner``'s folder really grew by."""
        if not self.total_bytes:
            return
        before = admission.before
        if before is None:  # not measured at admission (user quota off): only an anonymous id is known to be empty
            if admission.user is not None:
                return
            before = 0
        grown = self.store.stored_bytes(owner) - before
        with self._lock:
            self._since_scan += grown - admission.nbytes

    def cancel(self, admission: Admission) -> None:
        """An admitted register that stored nothing: take its bytes off the whole-store total."""
        if self.total_bytes:
            with self._lock:
                self._since_scan -= admission.nbytes


@dataclass(frozen=True)
class Admission:
    """What :meth:`StoredBytesQuota.check` admitted: the bytes, the user, the user's bytes before (when measured)."""

    nbytes: int
    user: str | None
    before: int | None
