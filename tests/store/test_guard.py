"""The store guard: own pool, per-call timeout, circuit breaker, retention (issue 11, item 4)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from vision.store import LocalReferenceStore, ReferenceNotFoundError, StoreUnavailableError
from vision.store.guard import CircuitBreaker, GuardedStore


class HangingStore:
    """A store whose reads block until released (a dead endpoint), counting the calls that reach it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def latest(self, user_id: str) -> Any:
        self.calls += 1
        self.release.wait(10)
        return None

    def get(self, key: str) -> Any:
        raise ReferenceNotFoundError(key)


def test_timeout_then_open_circuit_then_trial():
    now = [0.0]
    inner = HangingStore()
    breaker = CircuitBreaker(failures=2, reset_s=30, clock=lambda: now[0])
    guard = GuardedStore(inner, workers=2, timeout_s=0.2, breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(StoreUnavailableError) as info:
                guard.latest("hong")
            assert info.value.reason == "timeout"
        assert breaker.state == "open"
        start = time.perf_counter()
        with pytest.raises(StoreUnavailableError) as info:
            guard.latest("hong")
        assert info.value.reason == "circuit-open" and inner.calls == 2  # refused without touching the store
        assert time.perf_counter() - start < 0.1
        inner.release.set()
        now[0] = 31.0  # after reset_s one trial goes through; its success closes the circuit
        assert guard.latest("hong") is None and breaker.state == "closed"
    finally:
        inner.release.set()
        guard.close()


def test_all_workers_stuck_is_busy_not_a_queue():
    inner = HangingStore()
    guard = GuardedStore(inner, workers=1, timeout_s=0.2, breaker=CircuitBreaker(failures=100))
    try:
        with pytest.raises(StoreUnavailableError):
            guard.latest("a")  # holds the only worker
        with pytest.raises(StoreUnavailableError) as info:
            guard.latest("b")
        assert info.value.reason == "busy" and inner.calls == 1
    finally:
        inner.release.set()
        guard.close()


def test_answers_of_a_working_store_do_not_open_the_circuit():
    breaker = CircuitBreaker(failures=1)
    guard = GuardedStore(HangingStore(), breaker=breaker)
    for _ in range(3):
        with pytest.raises(ReferenceNotFoundError):
            guard.get("hong/" + "0" * 32)
    assert breaker.state == "closed"
    guard.close()


def test_retention_after_put(tmp_path):
    store = LocalReferenceStore(tmp_path)
    guard = GuardedStore(store, keep=2)
    keys = [
        guard.put("hong", b"img", b"f", n_keypoints=1, width=1, height=1, content_type="image/jpeg").key
        for _ in range(3)
    ]
    assert [r.key for r in store.list("hong")] == keys[:0:-1]
    guard.close()
