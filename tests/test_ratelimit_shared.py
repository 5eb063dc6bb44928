"""Issue 22, item 4: rate limits on the ``limits`` library, in process or shared by N processes through a real Redis."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from api_processes import api_processes
from redis_server import start_redis, stop_redis

from api import create_app
from vision.web.ratelimit import LimitStorage, RateLimiter


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        stop_redis(proc)


def test_in_process_moving_window():
    limiter = RateLimiter(3)
    waits = [limiter.hit("client:a") for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(0 < w <= 60 for w in waits[3:])
    assert limiter.hit("client:b") == 0.0  # keys are independent
    assert limiter.storage.kind == "memory"


def test_zero_disables_and_slow_rates_count_per_hour():
    off = RateLimiter(0)
    assert all(off.hit("k") == 0.0 for _ in range(100))
    slow = RateLimiter(0.05)  # 3 an hour
    waits = [slow.hit("k") for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0] and 60 < waits[3] <= 3600
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(-1)


def test_two_storages_on_one_redis_share_the_counts(redis_url):
    """Two processes' limiters (two storages, two connection pools) against one Redis: one window."""
    first = RateLimiter(5, LimitStorage(redis_url), "client")
    second = RateLimiter(5, LimitStorage(redis_url), "client")
    key = "client:203.0.113.9"
    waits = [(first if i % 2 else second).hit(key) for i in range(12)]
    assert waits.count(0.0) == 5
    assert first.storage.kind == "redis"
    other = RateLimiter(5, LimitStorage(redis_url), "user")  # another namespace: its own window
    assert other.hit(key) == 0.0


def test_a_dead_redis_falls_back_to_this_process_and_retries_later(caplog):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    now = [0.0]
    storage = LimitStorage(f"redis://127.0.0.1:{port}/0", retry_after_s=15, clock=lambda: now[0])
    limiter = RateLimiter(2, storage)
    with caplog.at_level(logging.WARNING, logger="vision.api"):
        waits = [limiter.hit("k") for _ in range(3)]
        assert waits[:2] == [0.0, 0.0] and waits[2] > 0  # still limited, in memory
        assert sum("rate-limit storage unreachable" in r.message for r in caplog.records) == 1
        now[0] = 16.0  # past the retry period: Redis is tried (and fails) again
        limiter.hit("k")
        assert sum("rate-limit storage unreachable" in r.message for r in caplog.records) == 2


def test_a_hanging_redis_costs_one_socket_timeout_then_memory():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts into its backlog, never answers
    try:
        storage = LimitStorage(f"redis://127.0.0.1:{listener.getsockname()[1]}/0", timeout_s=0.2)
        limiter = RateLimiter(2, storage)
        assert [limiter.hit("k") == 0.0 for _ in range(3)] == [True, True, False]
    finally:
        listener.close()


def test_a_malformed_redis_url_stops_the_api_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="VISION_REDIS_URL must start with redis://"):
        create_app({"VISION_REDIS_URL": "http://127.0.0.1:6379", "VISION_STORE_DIR": str(tmp_path)})


def _statuses(urls: list[str], requests: int, body: bytes = b"{}") -> list[list[int]]:
    """``requests`` cheap POSTs alternating between servers (no photo: 400 once past the limits)."""
    seen: list[list[int]] = [[] for _ in urls]
    clients = [httpx.Client(base_url=url, timeout=10) for url in urls]
    try:
        for i in range(requests):
            res = clients[i % len(urls)].post(
                "/auth/feature", content=body, headers={"content-type": "application/json"}
            )
            seen[i % len(urls)].append(res.status_code)
            if res.status_code == 429:
                assert int(res.headers["retry-after"]) >= 1
    finally:
        for client in clients:
            client.close()
    return seen


LIMIT = 10


@pytest.mark.parametrize(
    ("limit", "body"),
    [("VISION_RATE_CLIENT_PER_MIN", b"{}"), ("VISION_RATE_USER_PER_MIN", b'{"name": "hong"}')],
    ids=["per-client", "per-user"],
)
def test_two_api_processes_with_redis_hold_the_limit(tmp_path, redis_url, limit, body):
    settings = {
        "VISION_REDIS_URL": redis_url,
        "VISION_RATE_CLIENT_PER_MIN": "0",
        "VISION_RATE_USER_PER_MIN": "0",
        limit: str(LIMIT),
        "VISION_STORE_DIR": str(tmp_path / "refs"),
    }
    with api_processes(tmp_path, settings) as urls:
        seen = _statuses(urls, 4 * LIMIT, body)
    through = [sum(status != 429 for status in statuses) for statuses in seen]
    assert sum(through) == LIMIT  # one window for both processes
    assert all(n > 0 for n in through)  # and both served some of it
    assert all(status in (400, 429) for statuses in seen for status in statuses)


def test_without_redis_each_process_counts_alone(tmp_path):
    """What the README says: in-process limits multiply by the number of processes."""
    settings = {"VISION_RATE_CLIENT_PER_MIN": str(LIMIT), "VISION_STORE_DIR": str(tmp_path / "refs")}
    with api_processes(tmp_path, settings) as urls:
        seen = _statuses(urls, 4 * LIMIT)
    assert [sum(status != 429 for status in statuses) for statuses in seen] == [LIMIT, LIMIT]


def test_storage_quotas_are_shared_through_redis_too(redis_url):
    from vision.web.quota import StorageQuota

    first = StorageQuota(LimitStorage(redis_url), user_mb=0, client_mb=1, total_mb=0)
    second = StorageQuota(LimitStorage(redis_url), user_mb=0, client_mb=1, total_mb=0)
    assert first.charge(600_000, "a", "198.51.100.7") is None
    refusal = second.charge(600_000, "b", "198.51.100.7")  # the other process sees the first's 600 KB
    assert refusal is not None and refusal.scope == "client"
