"""Issue 22: a hostile photo is refused from its container at once, even while every CPU slot is busy.

The container walk (:mod:`vision.image.decode_budget`) and the base64 decode
are bounded by the body cap, so the flows run them before the CPU gate: a real
uvicorn on loopback, its one slot held by the test (as genuine work would
hold it), must still answer a scan flood or a text-chunk bomb with its 400.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from api_fixtures import FakeTagger, b64
from test_api_uvicorn import LiveServer

from api import create_app
from bench.hostile_images import scan_flood_jpeg, text_bomb_png
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import LocalReferenceStore


@pytest.fixture(scope="module")
def saturated(tmp_path_factory) -> Iterator[str]:
    """A live API with one CPU slot, held for the whole module: every gated step would wait (then 503)."""
    store = LocalReferenceStore(tmp_path_factory.mktemp("refs"))
    settings = {"VISION_MAX_BODY_BYTES": "8000000", "VISION_WORKERS": "1", "VISION_REQUEST_TIMEOUT_S": "5"}
    app = create_app(settings, store=store, tagger=FakeTagger(delay_s=0.0), thresholds=Profile())
    with LiveServer(app) as server, app.state.runtime.gate():
        yield server.url


@pytest.fixture(scope="module")
def hostile() -> dict[str, str]:
    return {
        "scan flood": b64(scan_flood_jpeg(512, 512, repeats=20_000)),
        "text bomb": b64(text_bomb_png(64, 64, chunks=900, inflated=1_000_000)),
    }


@pytest.mark.parametrize("kind", ["scan flood", "text bomb"])
@pytest.mark.parametrize(
    ("path", "extra", "message"),
    [
        ("/auth/feature", {"name": "alice"}, v.MISSING_PICTURE),
        ("/auth/test", {"name": "alice"}, v.TAKE_PICTURE_AGAIN),
        ("/auth/tag", {"tag": "cup"}, v.NO_TAG),
    ],
)
def test_hostile_photo_refused_under_a_second_with_the_gate_saturated(saturated, hostile, kind, path, extra, message):
    start = time.perf_counter()
    res = httpx.post(saturated + path, json={"data": hostile[kind], **extra}, timeout=30)
    elapsed = time.perf_counter() - start
    body = res.json()
    assert res.status_code == 400 and body["message"] == message, body
    assert "at most" in body["reason"], body  # the budget's own words (limit named), not a 503 "server busy"
    assert elapsed < 1.0, f"{path} {kind}: {elapsed:.2f} s"
