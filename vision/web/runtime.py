"""What the endpoints share: settings, the guarded store, the tagger, thresholds, CPU gate, limits."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

import anyio

from vision.core.settings import load_settings
from vision.image.decode_pool import DecodePool
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits
from vision.profile import Profile, load_profile
from vision.store.guard import CircuitBreaker, GuardedStore
from vision.web.gate import CpuGate
from vision.web.quota import StorageQuota, StoredBytesQuota
from vision.web.ratelimit import LimitStorage, RateLimiter
from vision.web.settings import ApiSettings

log = logging.getLogger("vision.api")


class Runtime:
    """What the endpoints share: settings, store, tagger, thresholds, CPU gate.

    The store, the tagger and the thresholds are built on first use (so that
    importing :mod:`api` touches neither the network nor the model file).
    The thresholds follow the ``VISION_PROFILE`` file: it is re-read when its
    modification time or size changes; an unreadable new version keeps the
    last good thresholds (and logs why).
    """

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        store: Any = None,
        tagger: Any = None,
        thresholds: Profile | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ) -> None:
        self._settings = settings
        self.config = ApiSettings.from_settings(self.settings)
        self.max_body_bytes = self.config.max_body_bytes
        self.workers = self.config.workers
        self.limits = limits
        self._store = None if store is None else self._guard(store)
        self._tagger = tagger
        self._fixed_thresholds = thresholds
        self._profile_state: tuple[str, int, int] | None = None
        self._profile_thresholds: Profile | None = None
        self._lock = threading.Lock()
        self.gate = CpuGate(self.workers)
        # Limits in this process, or shared by every process through VISION_REDIS_URL (vision/web/ratelimit.py).
        self.limit_storage = LimitStorage((self.settings.get("VISION_REDIS_URL") or "").strip() or None)
        self.client_limit = RateLimiter(self.config.rate_client_per_min, self.limit_storage, "client")
        self.user_limit = RateLimiter(self.config.rate_user_per_min, self.limit_storage, "user")
        c = self.config
        self.quota = StorageQuota(
            self.limit_storage, c.quota_user_mb_per_day, c.quota_client_mb_per_day, c.quota_total_mb_per_day
        )
        self._thread_limits: dict[str, anyio.CapacityLimiter] = {}
        self.decoders: DecodePool | None = None
        self._stored_quota: StoredBytesQuota | None = None

    def stored_quota(self) -> StoredBytesQuota:
        """Total stored bytes per user and for the whole store (:class:`vision.web.quota.StoredBytesQuota`)."""
        if self._stored_quota is None:
            store = self.store()
            with self._lock:
                if self._stored_quota is None:
                    c = self.config
                    self._stored_quota = StoredBytesQuota(store, c.quota_user_mb_total, c.quota_total_mb_total)
        return self._stored_quota

    def start_decoders(self) -> None:
        """Decode pixels in worker processes under ``VISION_DECODE_TIMEOUT_S`` (0: in process, no time budget).

        One worker per CPU slot (decodes run inside the gate); started and
        warmed up once, at start-up, and installed process-wide.
        """
        if self.decoders is None and self.config.decode_timeout_s > 0:
            self.decoders = DecodePool(self.workers, self.config.decode_timeout_s).install()
            self.decoders.warm_up()

    def stop_decoders(self) -> None:
        if self.decoders is not None:
            self.decoders.close()
            self.decoders = None

    def _guard(self, store: Any) -> GuardedStore:
        """Store I/O on its own small pool, with timeouts, a circuit breaker and the retention cap."""
        c = self.config
        return GuardedStore(
            store,
            workers=c.store_workers,
            timeout_s=c.store_timeout_s,
            breaker=CircuitBreaker(c.breaker_failures, c.breaker_reset_s),
            keep=c.max_references_per_user,
        )

    def threads_for(self, flow: str) -> anyio.CapacityLimiter:
        """Worker threads of a flow: the tag flow has its own, so requests stuck on the store cannot starve it;
        ``"admission"`` names the threads every request's cheap checks run on first
        (:func:`vision.web.flows.admit`), so a refusal never queues behind flows waiting for a CPU slot.

        Created on first use, inside the event loop.
        """
        group = flow if flow in ("tag", "admission") else "store"
        if group not in self._thread_limits:
            size = {"tag": self.config.tag_threads, "admission": self.config.admission_threads}
            self._thread_limits[group] = anyio.CapacityLimiter(size.get(group, self.config.flow_threads))
        return self._thread_limits[group]

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings if self._settings is not None else load_settings()

    def store(self) -> Any:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from vision.store.factory import store_from_settings

                    self._store = self._guard(store_from_settings(self.settings))
                    log.info("reference store: %r", self._store)
        return self._store

    def tagger(self) -> Any:
        if self._tagger is None:
            with self._lock:
                if self._tagger is None:
                    from vision.tagging.factory import tagger_from_settings

                    backend = (self.settings.get("VISION_TAGGER") or "local").strip().lower() or "local"
                    self._tagger = tagger_from_settings(self.settings, backend)
                    log.info("tagger: %s", getattr(self._tagger, "name", type(self._tagger).__name__))
        return self._tagger

    def thresholds(self) -> Profile:
        if self._fixed_thresholds is not None:
            return self._fixed_thresholds
        path = (self.settings.get("VISION_PROFILE") or "").strip()
        if not path:
            return Profile()
        try:
            st = os.stat(path)
            state = (path, st.st_mtime_ns, st.st_size)
        except OSError as exc:
            state = None
            error: Exception = ValueError(f"cannot read profile {path}: {exc.strerror}")
        with self._lock:
            if state is not None and state == self._profile_state and self._profile_thresholds is not None:
                return self._profile_thresholds
            if state is not None:
                try:
                    loaded = load_profile(path)
                except ValueError as exc:
                    error = exc
                else:
                    if self._profile_thresholds is not None:
                        log.info("thresholds profile %s changed; reloaded", path)
                    self._profile_state, self._profile_thresholds = state, loaded
                    return loaded
            if self._profile_thresholds is not None:
                log.warning("keeping the last good thresholds: %s", error)
                return self._profile_thresholds
            raise error
