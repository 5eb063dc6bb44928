"""Issue 22: a photo that passes the work budget but decodes slowly is abandoned at the decode timeout.

A real uvicorn on loopback with one CPU slot and ``VISION_DECODE_TIMEOUT_S``
set small: a 5000x5000 progressive JPEG with 50 extra scans (inside the scan
and coefficient limits, about 1 s of one core) is refused in about the
timeout, its worker process is killed, and a genuine verify right after it
(which needs the same, only, CPU slot) is served.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
import pytest
from api_fixtures import FakeTagger, b64, photo
from test_api_uvicorn import LiveServer

from api import create_app
from bench.hostile_images import scan_flood_jpeg
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import LocalReferenceStore

TIMEOUT_S = 0.4


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, object]]:
    store = LocalReferenceStore(tmp_path_factory.mktemp("refs"))
    settings = {
        "VISION_WORKERS": "1",
        "VISION_DECODE_TIMEOUT_S": str(TIMEOUT_S),
        "VISION_REQUEST_TIMEOUT_S": "20",
        "VISION_STORE_GC_ON_START": "0",
    }
    app = create_app(settings, store=store, tagger=FakeTagger(delay_s=0.0), thresholds=Profile())
    with LiveServer(app) as live:
        res = httpx.post(
            live.url + "/auth/stdimg", json={"name": "alice", "data": b64(photo("DSC_0410.JPG"))}, timeout=60
        )
        assert res.status_code == 200, res.text
        yield live.url, app.state.runtime


@pytest.fixture(scope="module")
def slow_photo() -> str:
    data = scan_flood_jpeg(5000, 5000, repeats=50)
    start = time.perf_counter()
    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)  # here, not in the pool: really slow
    assert time.perf_counter() - start > 2 * TIMEOUT_S
    return b64(data)


def test_slow_decode_is_refused_in_about_the_timeout_then_genuine_verify_is_served(server, slow_photo):
    url, runtime = server
    killed = runtime.decoders.killed
    start = time.perf_counter()
    res = httpx.post(url + "/auth/feature", json={"name": "alice", "data": slow_photo}, timeout=30)
    elapsed = time.perf_counter() - start
    body = res.json()
    assert res.status_code == 400 and body["message"] == v.MISSING_PICTURE, body
    assert f"longer than {TIMEOUT_S:g} s to decode" in body["reason"], body
    assert elapsed < TIMEOUT_S + 1.0, elapsed
    assert runtime.decoders.killed == killed + 1
    res = httpx.post(url + "/auth/feature", json={"name": "alice", "data": b64(photo("DSC_0411.JPG"))}, timeout=30)
    assert res.status_code == 200 and res.json()["message"] == v.COMPLETE, res.text


def test_two_slow_photos_at_once_do_not_hold_the_slot(server, slow_photo):
    url, _runtime = server
    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        attacks = [
            pool.submit(httpx.post, url + "/auth/feature", json={"name": "alice", "data": slow_photo}, timeout=30)
            for _ in range(2)
        ]
        answers = [a.result() for a in attacks]
        elapsed = time.perf_counter() - start
    assert [a.status_code for a in answers] == [400, 400], [a.text for a in answers]
    # one slot: the second waited for the first's timeout, then had its own
    assert elapsed < 2 * TIMEOUT_S + 2.5, elapsed
    res = httpx.post(url + "/auth/tag", json={"tag": "cup", "data": b64(photo("DSC_0411.JPG"))}, timeout=30)
    assert res.status_code == 200, res.text
