"""A reference store behind its own small I/O pool, per-call timeouts and a circuit breaker.

A store that hangs (an S3 endpoint that accepts connections and never
answers) must not hold the threads every other request needs.  The API wraps
its store in :class:`GuardedStore`:

- every call runs on a dedicated, small thread pool (``workers``), never on
  the request's thread pool or the CPU gate;
- the caller waits at most ``timeout_s`` in all, for a free worker and for
  the answer; then the call is reported as
  :class:`~vision.store.base.StoreUnavailableError` (``reason="busy"`` when
  no worker came free, ``"timeout"`` otherwise) while a stuck worker
  finishes in the background;
- after ``failures`` consecutive unavailable/timed-out calls the breaker
  opens: calls fail at once (``reason="circuit-open"``) for ``reset_s``
  seconds, then one trial call decides whether it closes again.

Answers that prove the store is working (a reference not found, a corrupt
document, a bad id) count as successes.  Optionally ``keep`` caps the
references a user keeps: after each ``put`` the oldest are deleted
(:meth:`~vision.store.base.BlobReferenceStore.trim`).
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar, cast

from vision.store.base import ReferenceRecord, StoreUnavailableError
from vision.store.proofs import GlobalProofIndex, ProofMemory, ProofRecord

__all__ = ["CircuitBreaker", "GuardedStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class CircuitBreaker:
    """Closed -> open after ``failures`` consecutive failures -> one trial after ``reset_s``.

    Thread-safe.  ``clock`` is injectable for tests.
    """

    def __init__(self, failures: int = 5, reset_s: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or reset_s <= 0:
            raise ValueError("failures must be >= 1 and reset_s > 0")
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (a trial is due or running)."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        """May a call go through now?  In half-open state only one trial at a time."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self.reset_s or self._trial_running:
                return False
            self._trial_running = True
            return True

    def record(self, ok: bool) -> None:
        with self._lock:
            self._trial_running = False
            if ok:
                self._consecutive = 0
                self._opened_at = None
                return
            self._consecutive += 1
            if self._opened_at is not None or self._consecutive >= self.failures:
                if self._opened_at is None:
                    log.warning("reference store: circuit opened after %d failures", self._consecutive)
                self._opened_at = self._clock()


class GuardedStore:
    """Wrap ``store`` (any :class:`~vision.store.base.ReferenceStore`); see the module docstring.

    Parameters
    ----------
    store : ReferenceStore
    workers : int
        Threads of the store's own pool.
    timeout_s : float
        Longest a caller waits for one store call.
    breaker : CircuitBreaker, optional
        Default: opens after 5 failures, retries after 15 s.
    keep : int, optional
        References kept per user; older ones are deleted after each ``put``.
    """

    def __init__(
        self,
        store: Any,
        *,
        workers: int = 4,
        timeout_s: float = 5.0,
        breaker: CircuitBreaker | None = None,
        keep: int | None = None,
    ) -> None:
        if workers < 1 or timeout_s <= 0:
            raise ValueError("workers must be >= 1 and timeout_s > 0")
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.inner = store
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store-io")
        self._slots = threading.BoundedSemaphore(workers)  # one per worker: nothing queues inside the pool

    def __repr__(self) -> str:
        return f"GuardedStore({self.inner!r}, timeout_s={self.timeout_s}, keep={self.keep})"

    def _run(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self.breaker.allow():
            raise StoreUnavailableError(
                f"reference store: {action} skipped, the store failed repeatedly (circuit open)",
                reason="circuit-open",
            )
        start = time.monotonic()
        if not self._slots.acquire(timeout=self.timeout_s):
            self.breaker.record(False)
            raise StoreUnavailableError(
                f"reference store: {action} found no free store worker within {self.timeout_s:g} s", reason="busy"
            )
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        try:
            result = future.result(timeout=max(0.0, self.timeout_s - (time.monotonic() - start)))
        except FutureTimeout:
            self.breaker.record(False)
            raise StoreUnavailableError(
                f"reference store: {action} took longer than {self.timeout_s:g} s", reason="timeout"
            ) from None
        except StoreUnavailableError:
            self.breaker.record(False)
            raise
        except BaseException:
            self.breaker.record(True)  # the store answered (not found, corrupt, bad id...)
            raise
        self.breaker.record(True)
        return result

    def call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (I/O beside the store: the history, the disputes) under this guard."""
        return self._run(action, fn, *args, **kwargs)

    # -- the ReferenceStore protocol ------------------------------------------------

    def put(self, user_id: str, image: bytes, features: bytes, **meta: Any) -> ReferenceRecord:
        def put_and_trim() -> ReferenceRecord:
            record = self.inner.put(user_id, image, features, **meta)
            if self.keep is not None and hasattr(self.inner, "trim"):
                deleted = self.inner.trim(user_id, self.keep)
                if deleted:
                    log.info("retention: deleted %d old reference(s) of %r", len(deleted), user_id)
            return record

        return self._run("store a reference", put_and_trim)

    def list(self, user_id: str) -> builtins.list[ReferenceRecord]:
        return self._run("list references", self.inner.list, user_id)

    def latest(self, user_id: str) -> ReferenceRecord | None:
        return self._run("read the latest reference", self.inner.latest, user_id)

    def users(self) -> builtins.list[str]:
        return self._run("list users", self.inner.users)

    def get(self, key: str) -> ReferenceRecord:
        return self._run("read a reference", self.inner.get, key)

    def load_image(self, key: str) -> bytes:
        return self._run("load a reference image", self.inner.load_image, key)

    def load_features(self, key: str) -> bytes | None:
        return self._run("load reference features", self.inner.load_features, key)

    def save_features(self, key: str, features: bytes) -> None:
        self._run("save reference features", self.inner.save_features, key, features)

    def delete(self, key: str) -> None:
        self._run("delete a reference", self.inner.delete, key)

    def delete_reference(self, user_id: str, key: str) -> ReferenceRecord | None:
        """One of the user's references, deleted (:meth:`~vision.store.base.BlobReferenceStore.delete_reference`)."""
        return self._run("delete a reference", self.inner.delete_reference, user_id, key)

    def trim(self, user_id: str, keep: int) -> builtins.list[str]:
        return self._run("trim references", self.inner.trim, user_id, keep)

    # -- the ProofMemory protocol (the replay rule's fingerprints) ----------------------

    @property
    def _memory(self) -> ProofMemory:
        return cast(ProofMemory, self.inner)

    def save_fingerprint(self, key: str, fingerprint: bytes) -> None:
        self._run("save a reference fingerprint", self._memory.save_fingerprint, key, fingerprint)

    def load_fingerprint(self, key: str) -> bytes | None:
        return self._run("load a reference fingerprint", self._memory.load_fingerprint, key)

    def add_proof(self, user_id: str, fingerprint: bytes, *, keep: int) -> ProofRecord:
        return self._run("remember a proof", self._memory.add_proof, user_id, fingerprint, keep=keep)

    def list_proofs(self, user_id: str, limit: int | None = None, *, load: bool = True) -> builtins.list[ProofRecord]:
        return self._run("list remembered proofs", self._memory.list_proofs, user_id, limit, load=load)

    def add_global_proof(self, fingerprint: bytes, *, keep: int, digest: str = "") -> ProofRecord:
        index = cast(GlobalProofIndex, self.inner)
        return self._run("add to the replay index", index.add_global_proof, fingerprint, keep=keep, digest=digest)

    def list_global_proofs(self, limit: int | None = None, *, load: bool = True) -> builtins.list[ProofRecord]:
        index = cast(GlobalProofIndex, self.inner)
        return self._run("list the replay index", index.list_global_proofs, limit, load=load)

    def load_global_proof(self, proof_id: str) -> bytes | None:
        return self._run("read the replay index", cast(GlobalProofIndex, self.inner).load_global_proof, proof_id)

    def stored_bytes(self, user_id: str | None = None) -> int:
        """The inner store's ``stored_bytes`` (timeouts and breaker as any call)."""
        return self._run("measure stored bytes", self.inner.stored_bytes, user_id)

    def url(self, key: str) -> str | None:
        # Presigning is local computation (no request), so it needs no guard.
        return self.inner.url(key)

    def close(self) -> None:
        """Stop the pool without waiting for stuck calls."""
        self._pool.shutdown(wait=False, cancel_futures=True)
