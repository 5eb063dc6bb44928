"""Issue 11, items 4 and 5, against a real uvicorn on loopback.

- A hanging S3 (a loopback proxy in front of moto that accepts and never
  answers): verifications answer 500 Missing Std Picture within the store
  timeout, and ``/auth/tag``, which needs no store, stays fast meanwhile.
- Slow uploads: a client that sends headers and part of a body is answered
  408 and disconnected after the body timeout; one that goes away mid-body is
  logged as info, never as an error with a traceback.

The latency bounds are generous failure detectors (seconds, against stalls
that would otherwise last until botocore's or the client's own timeouts), not
speed measurements: those are in ``bench/load_api.py``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid

import httpx
import pytest

pytest.importorskip("moto.server")

from api_fixtures import REPO, FakeTagger, b64, s3_client
from stall_proxy import StallProxy
from test_api_uvicorn import LiveServer

from api import create_app
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import LocalReferenceStore, S3ReferenceStore

SAMPLES = REPO / "samples" / "images"
SAME_REF, SAME_QUERY = SAMPLES / "lightglue" / "DSC_0410.JPG", SAMPLES / "lightglue" / "DSC_0411.JPG"
DIFFERENT_QUERY = SAMPLES / "vlfeat" / "river1.jpg"

JSON = {"content-type": "application/json"}


def test_hanging_store_fails_fast_and_tag_stays_fast(moto_url):
    bucket = f"refs-{uuid.uuid4().hex[:12]}"
    s3_client(moto_url).create_bucket(Bucket=bucket)
    query = b64(SAME_QUERY.read_bytes())
    with StallProxy(moto_url) as proxy:
        store = S3ReferenceStore(s3_client(proxy.url), bucket)  # read timeout 3 s, one attempt
        settings = {
            "VISION_STORE_TIMEOUT_S": "1",
            "VISION_STORE_BREAKER_FAILURES": "4",
            "VISION_STORE_BREAKER_RESET_S": "60",
            "VISION_RATE_CLIENT_PER_MIN": "0",
            "VISION_RATE_USER_PER_MIN": "0",
        }
        app = create_app(settings, store=store, tagger=FakeTagger(), thresholds=Profile())
        with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            ok = client.post("/auth/stdimg", json={"data": b64(SAME_REF.read_bytes()), "name": "hong"})
            assert ok.json()["message"] == v.GOOD_PICTURE
            proxy.stall = True

            results: list[tuple[int, str, float]] = []
            lock = threading.Lock()

            def verify() -> None:
                start = time.perf_counter()
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    res = c.post("/auth/feature", json={"data": query, "name": "hong"})
                with lock:
                    results.append((res.status_code, res.json()["message"], time.perf_counter() - start))

            threads = [threading.Thread(target=verify) for _ in range(60)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            start = time.perf_counter()
            tag = client.post("/auth/tag", json={"data": query, "tag": "dog"})
            tag_s = time.perf_counter() - start
            for t in threads:
                t.join(60)
    assert tag.json()["message"] == v.MATCHED
    assert tag_s < 2.5, f"/auth/tag took {tag_s:.1f} s while 60 verifications waited on a hanging store"
    assert len(results) == 60
    assert {(status, message) for status, message, _ in results} == {(500, v.MISSING_STD_PICTURE)}
    worst = max(elapsed for *_, elapsed in results)
    assert worst < 15, f"a verification against the hanging store took {worst:.1f} s"


@pytest.fixture
def slow_server(tmp_path):
    settings = {"VISION_BODY_IDLE_TIMEOUT_S": "1", "VISION_BODY_TIMEOUT_S": "2"}
    app = create_app(settings, store=LocalReferenceStore(tmp_path / "refs"), tagger=FakeTagger())
    with LiveServer(app) as server:
        yield server


def partial_request(server: LiveServer, sent: bytes = b'{"data": "AAAA', length: int = 100_000) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"POST /auth/feature HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + sent)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_slow_body_is_timed_out_and_disconnected(slow_server):
    # many stalled uploads at once, and one that trickles a byte at a time (under the idle timeout)
    stalled = [partial_request(slow_server) for _ in range(40)]
    trickle = partial_request(slow_server)
    start = time.perf_counter()
    try:
        for _ in range(15):
            trickle.sendall(b"A")
            time.sleep(0.2)
    except OSError:
        pass  # answered and closed by the server: expected, read below
    answers = [read_until_closed(sock) for sock in [*stalled, trickle]]
    elapsed = time.perf_counter() - start
    for sock in [*stalled, trickle]:
        sock.close()
    for raw in answers:
        assert raw.startswith(b"HTTP/1.1 408 "), raw[:100]
        assert b'"status":408' in raw and b'"message":"Request Timeout"' in raw
    assert elapsed < 15, f"slow uploads held for {elapsed:.1f} s"
    with httpx.Client(base_url=slow_server.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200


def test_client_disconnect_is_logged_as_info(slow_server, caplog):
    with caplog.at_level(logging.INFO):
        sock = partial_request(slow_server)
        time.sleep(0.1)
        sock.close()
        time.sleep(0.6)
        with httpx.Client(base_url=slow_server.url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200
    records = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert records and all(r.levelno == logging.INFO for r in records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
