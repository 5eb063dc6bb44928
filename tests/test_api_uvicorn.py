"""The API behind a real uvicorn on a loopback port, spoken to as the React Native client does.

The client (axios) posts ``{"data": <base64 JPEG>, ...}`` with
``content-type: application/json`` and reads ``res.data.status`` and
``res.data.message``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from api_fixtures import FakeTagger, b64, photo

from api import create_app
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import LocalReferenceStore

AXIOS_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/plain, */*",
    "user-agent": "okhttp/4.9.2",
}


class LiveServer:
    """uvicorn.Server on an already bound loopback socket, in a thread."""

    def __init__(self, app, **config_options) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5, **config_options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@pytest.fixture
def live(tmp_path) -> Iterator[tuple[LiveServer, LocalReferenceStore, FakeTagger]]:
    store = LocalReferenceStore(tmp_path / "refs")
    tagger = FakeTagger(delay_s=0.0)
    app = create_app({"VISION_MAX_BODY_BYTES": "2000000"}, store=store, tagger=tagger, thresholds=Profile())
    with LiveServer(app) as server:
        yield server, store, tagger


def post_like_axios(client: httpx.Client, url: str, payload: dict) -> httpx.Response:
    # axios serialises with JSON.stringify: compact separators
    return client.post(url, content=json.dumps(payload, separators=(",", ":")).encode(), headers=AXIOS_HEADERS)


def test_register_verify_wrong_photo_over_http(live):
    server, store, _ = live
    ref, good, wrong = photo("DSC_0410.JPG"), photo("DSC_0411.JPG"), photo("sacre_coeur1.jpg")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        res = post_like_axios(client, "/auth/test", {"data": b64(ref), "name": "hong"})
        assert res.status_code == 200 and res.headers["content-type"].startswith("application/json")
        data = res.json()
        assert (data["status"], data["message"], data["result"]) == (200, v.GOOD_PICTURE, True)
        assert store.latest("hong").key == data["key"]

        res = post_like_axios(client, "/auth/feature", {"data": b64(good), "name": "hong"})
        data = res.json()
        assert res.status_code == 200 and (data["status"], data["message"], data["result"]) == (200, v.COMPLETE, True)

        res = post_like_axios(client, "/auth/feature", {"data": b64(wrong), "name": "hong"})
        data = res.json()
        assert res.status_code == 200
        assert (data["status"], data["message"], data["result"]) == (200, v.WRONG_PICTURE, False)

        res = post_like_axios(client, "/auth/feature", {"data": b64(good), "name": "kim"})
        assert res.status_code == 400 and res.json()["message"] == v.NO_STD_IMG

        res = post_like_axios(client, "/auth/tag", {"data": b64(good), "tag": "dog"})
        assert res.status_code == 200 and res.json()["message"] == v.MATCHED


def test_oversize_body_answered_over_http(live):
    server, store, _ = live
    big = b64(b"\xff" * 3_000_000)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        res = post_like_axios(client, "/auth/stdimg", {"data": big, "name": "hong"})
        assert res.status_code == 400
        assert res.json()["message"] == v.TAKE_PICTURE_AGAIN and res.json()["error"] == "too-large"
        # the server is still fine afterwards
        assert client.get("/healthz").json()["status"] == 200
    assert store.users() == []


def test_healthz_responsive_while_verifications_run(live):
    server, _, _ = live
    ref, good = photo("DSC_0410.JPG"), photo("DSC_0411.JPG")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert post_like_axios(client, "/auth/stdimg", {"data": b64(ref), "name": "hong"}).status_code == 200
    payload = {"data": b64(good), "name": "hong"}
    results: list[int] = []

    def verify() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            results.append(post_like_axios(c, "/auth/feature", payload).status_code)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    worst = 0.0
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(5):
            start = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            worst = max(worst, time.perf_counter() - start)
            time.sleep(0.05)
    for t in threads:
        t.join(60)
    assert results == [200] * 8
    assert worst < 0.5, f"/healthz took {worst:.2f} s while verifications ran"
