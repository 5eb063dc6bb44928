"""Issue 22: a request whose photo is unusable is answered on the admission threads, never behind busy flows.

Under load every flow thread holds a genuine request waiting for a CPU slot;
a scan flood or a text bomb queued for one of those threads waited up to
1.2 s (32 genuine clients, ``bench.load_api --attack png,flood,scanflood``)
although its answer needs neither a slot nor the store.  The web layer now
runs each request's cheap checks first, on threads of their own
(:func:`vision.web.flows.admit`), and answers an unusable photo there by
running its flow, which the flows allow because each answers such a photo
before the store and the CPU gate: the first test holds them to that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_fixtures import FakeTagger, b64, photo
from fastapi.testclient import TestClient
from test_api_uvicorn import LiveServer

from api import create_app
from bench.hostile_images import scan_flood_jpeg, text_bomb_png
from vision.core import verdict as v
from vision.profile import Profile
from vision.service.common import unusable_photo
from vision.store import LocalReferenceStore
from vision.web.settings import ApiSettings

PHOTO_ROUTES = [
    ("/auth/feature", {"name": "alice"}, v.MISSING_PICTURE),
    ("/auth/feature", {"name": "alice", "habit": "desk"}, v.MISSING_PICTURE),
    ("/auth/stdimg", {"name": "alice"}, v.TAKE_PICTURE_AGAIN),
    ("/auth/test", {"name": "alice", "habit": "desk"}, v.TAKE_PICTURE_AGAIN),
    ("/auth/tag", {"tag": "cup"}, v.NO_TAG),
]


@pytest.fixture(scope="module")
def unusable() -> dict[str, Any]:
    """Photos every flow refuses from their header or their text, with a word of the reason each gets."""
    return {
        "scan flood": (b64(scan_flood_jpeg(512, 512, repeats=20_000)), "scans"),
        "text bomb": (b64(text_bomb_png(64, 64, chunks=900, inflated=1_000_000)), "metadata chunks"),
        "not base64": ("this is not base64!", "base64"),
        "not an image": (b64(b"GIF89a" + bytes(200)), "image"),
        "not a string": (12345, "string"),
    }


class UntouchableStore:
    """A store that records (and refuses) any use: the flows must answer an unusable photo without it."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.__dict__.setdefault("used", []).append(name)
        raise AssertionError(f"the store was used ({name}) for a request whose photo is unusable")


def test_the_predicate_matches_what_the_flows_refuse(unusable) -> None:
    for data, _ in unusable.values():
        assert unusable_photo(data)
    assert unusable_photo(None)
    assert not unusable_photo(b64(photo("DSC_0410.JPG")))


@pytest.mark.parametrize("kind", ["scan flood", "text bomb", "not base64", "not an image", "not a string"])
@pytest.mark.parametrize(("path", "extra", "message"), PHOTO_ROUTES)
def test_every_photo_flow_answers_an_unusable_photo_without_store_or_cpu_slot(unusable, kind, path, extra, message):
    settings = {
        "VISION_WORKERS": "1",
        "VISION_REQUEST_TIMEOUT_S": "3",
        "VISION_DECODE_TIMEOUT_S": "0",
        "VISION_STORE_GC_ON_START": "0",  # no background store work: any use is the flow's
        "VISION_QUOTA_TOTAL_MB_TOTAL": "0",
    }
    store = UntouchableStore()
    app = create_app(settings, store=store, tagger=FakeTagger(delay_s=0.0), thresholds=Profile())
    data, word = unusable[kind]
    with TestClient(app, raise_server_exceptions=True) as client, app.state.runtime.gate():
        # the one CPU slot is held: a gated step would wait 3 s and answer 503
        start = time.perf_counter()
        res = client.post(path, json={"data": data, **extra})
        elapsed = time.perf_counter() - start
    body = res.json()
    assert res.status_code == 400 and body["message"] == message, body
    assert word in body["reason"], body
    assert store.used == [], store.used
    assert elapsed < 1.0, f"{path} {kind}: {elapsed:.2f} s"


def test_the_dispute_flow_is_not_answered_on_the_admission_threads(tmp_path) -> None:
    """It has no photo (``data`` absent): its store work stays on the flow threads, and it answers as before."""
    app = create_app({}, store=LocalReferenceStore(tmp_path), tagger=FakeTagger(), thresholds=Profile())
    with TestClient(app) as client:
        res = client.post("/auth/dispute", json={"name": "alice", "habit": "desk", "id": "x", "claim": "same"})
    assert res.status_code == 400 and "admission" not in res.text, res.json()


def test_admission_threads_are_a_setting() -> None:
    assert ApiSettings.from_settings({}).admission_threads == 8
    assert ApiSettings.from_settings({"VISION_ADMISSION_THREADS": "3"}).admission_threads == 3
    with pytest.raises(ValueError, match="VISION_ADMISSION_THREADS"):
        ApiSettings.from_settings({"VISION_ADMISSION_THREADS": "0"})


@pytest.fixture
def busy_flows(tmp_path) -> Iterator[str]:
    """A live API whose two flow threads both hold a genuine verification waiting for the one CPU slot."""
    store = LocalReferenceStore(tmp_path / "refs")
    settings = {
        "VISION_WORKERS": "1",
        "VISION_FLOW_THREADS": "2",
        "VISION_REQUEST_TIMEOUT_S": "20",
        "VISION_DECODE_TIMEOUT_S": "0",
    }
    app = create_app(settings, store=store, tagger=FakeTagger(delay_s=0.0), thresholds=Profile())
    with LiveServer(app) as server:
        registered = httpx.post(server.url + "/auth/stdimg", json={"data": b64(photo("DSC_0410.JPG")), "name": "bob"})
        assert registered.json()["message"] == v.GOOD_PICTURE
        genuine = {"data": b64(photo("DSC_0411.JPG")), "name": "bob"}
        answers: list[int] = []

        def verify() -> None:
            answers.append(httpx.post(server.url + "/auth/feature", json=genuine, timeout=60).status_code)

        slot = app.state.runtime.gate()
        slot.__enter__()  # the CPU slot is busy: both genuine verifications wait in their flow threads
        waiting = [threading.Thread(target=verify) for _ in range(2)]
        try:
            for t in waiting:
                t.start()
            deadline = time.monotonic() + 10
            while app.state.runtime.threads_for("verify").borrowed_tokens < 2:
                assert time.monotonic() < deadline, "the genuine verifications did not take the flow threads"
                time.sleep(0.02)
            yield server.url
        finally:
            slot.__exit__(None, None, None)
            for t in waiting:
                t.join(60)
        assert answers == [200, 200]  # and the genuine ones were served once the slot was free


@pytest.mark.parametrize(("path", "extra", "message"), PHOTO_ROUTES)
def test_refusals_do_not_wait_for_a_busy_flow_thread(busy_flows, unusable, path, extra, message) -> None:
    for kind in ("scan flood", "not base64"):
        data, word = unusable[kind]
        start = time.perf_counter()
        res = httpx.post(busy_flows + path, json={"data": data, **extra}, timeout=30)
        elapsed = time.perf_counter() - start
        body = res.json()
        assert res.status_code == 400 and body["message"] == message and word in body["reason"], body
        assert elapsed < 1.0, f"{path} {kind}: {elapsed:.2f} s with both flow threads busy"
