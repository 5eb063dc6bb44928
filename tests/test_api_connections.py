"""Issue 22, item 3: stalled request headers, against a real uvicorn and real sockets on loopback.

The attacker holds sockets from 127.0.0.1 that never finish their headers; the
genuine client connects from 127.0.0.2 (Linux routes all of 127.0.0.0/8 to
loopback), so the per-address cap applies to the attacker only.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from api_fixtures import FakeTagger
from test_api_uvicorn import LiveServer

from api import create_app
from vision.profile import Profile
from vision.store import LocalReferenceStore
from vision.web.connections import guarded_protocol, limits_from_settings

HEADER_TIMEOUT_S = 1.5
CAP = 16
CONCURRENCY = 64  # uvicorn's --limit-concurrency (256 in scripts/serve_api.sh)
STALLED = 60
PARTIAL = b"POST /auth/feature HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl"


def GuardedServer(app, guard: bool = True) -> LiveServer:
    """The suite's LiveServer with uvicorn's concurrency limit and, unless ``guard`` is off, the guard."""
    http = guarded_protocol(HEADER_TIMEOUT_S, CAP) if guard else "h11"
    return LiveServer(app, http=http, limit_concurrency=CONCURRENCY)


@pytest.fixture
def app(tmp_path):
    return create_app(
        {}, store=LocalReferenceStore(tmp_path / "refs"), tagger=FakeTagger(delay_s=0.0), thresholds=Profile()
    )


def stall(port: int, count: int) -> list[socket.socket]:
    """``count`` sockets from 127.0.0.1 that send half a request and then nothing."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(PARTIAL)
        socks.append(sock)
    return socks


def read_all(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything the server sends until it closes (or ``timeout_s`` passes: then what came so far)."""
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        chunks.append(b"<still open>")
    return b"".join(chunks)


def genuine_health(url: str) -> int:
    """One genuine request from another loopback address."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, timeout=10, transport=transport) as client:
        return client.get("/healthz").status_code


@pytest.fixture
def guarded(app) -> Iterator[LiveServer]:
    with GuardedServer(app) as server:
        yield server


def test_without_the_guard_stalled_headers_starve_genuine_requests(app):
    """The issue's attack on plain uvicorn: the stalled sockets fill --limit-concurrency and are never closed."""
    with GuardedServer(app, guard=False) as server:
        socks = stall(server.port, CONCURRENCY)
        try:
            time.sleep(0.3)
            assert genuine_health(server.url) == 503
            assert read_all(socks[0], HEADER_TIMEOUT_S * 2) == b"<still open>"
        finally:
            for sock in socks:
                sock.close()


def test_stalled_headers_from_one_address_do_not_stop_a_genuine_request(guarded):
    socks = stall(guarded.port, STALLED)
    try:
        time.sleep(0.3)
        assert genuine_health(guarded.url) == 200
        answers = [read_all(sock, HEADER_TIMEOUT_S * 4) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 429 Too Many Requests")]
    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408 Request Timeout")]
    assert len(refused) == STALLED - CAP  # over the cap: answered at once, before anything is read
    assert len(timed_out) == CAP  # the admitted ones: closed at the header deadline, none left open
    assert b"more than 16 open connections from this address" in refused[0]
    assert b"not complete within 1.5 s" in timed_out[0]
    assert b"<still open>" not in b"".join(answers)
    assert genuine_health(guarded.url) == 200


def test_the_header_deadline_is_absolute_trickling_bytes_does_not_extend_it(guarded):
    sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
    try:
        start = time.monotonic()
        answer = b""
        for byte in PARTIAL:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed by the server
                break
            time.sleep(0.1)
            if time.monotonic() - start > HEADER_TIMEOUT_S * 4:
                break
        answer = read_all(sock, HEADER_TIMEOUT_S * 4)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")


def test_a_kept_alive_connection_gets_a_new_deadline_for_its_next_request(guarded):
    sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 1")  # the next request stalls in its headers
        second = read_all(sock, HEADER_TIMEOUT_S * 4)
    finally:
        sock.close()
    assert second.startswith(b"HTTP/1.1 408 Request Timeout")


def test_complete_requests_are_not_cut_and_free_their_slot(guarded):
    """Sequential genuine requests from the attacker's own address: the cap counts open connections only."""
    with httpx.Client(base_url=guarded.url, timeout=10) as client:
        for _ in range(CAP * 2):
            assert client.get("/healthz", headers={"connection": "close"}).status_code == 200
    time.sleep(HEADER_TIMEOUT_S + 0.3)  # past the deadline: a finished request has no timer left to fire
    assert genuine_health(guarded.url) == 200


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"VISION_HEADER_TIMEOUT_S": "soon"}, "must be a number"),
        ({"VISION_HEADER_TIMEOUT_S": "0"}, "must be > 0"),
        ({"VISION_MAX_CONNECTIONS_PER_CLIENT": "0"}, "VISION_MAX_CONNECTIONS_PER_CLIENT >= 1"),
    ],
)
def test_bad_connection_settings_name_the_setting(settings, fragment):
    with pytest.raises(ValueError, match=fragment):
        limits_from_settings(settings)


def test_connection_settings_defaults_and_values():
    assert limits_from_settings({}) == (10.0, 32)
    assert limits_from_settings({"VISION_HEADER_TIMEOUT_S": "2.5", "VISION_MAX_CONNECTIONS_PER_CLIENT": "8"}) == (
        2.5,
        8,
    )
