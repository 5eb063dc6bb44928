"""Issue 22: a hostile photo is refused from its container at once, even while every CPU slot is busy.

The container walk (:mod:`vision.image.decode_budget`) and the base64 decode
are bounded by the body cap, so the flows run them before the CPU gate: a real
uvicorn on loopback, its one slot held by the test (as genuine work would
hold it), must still answer a scan flood or a text-chunk bomb with its 400.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_fixtures import FakeTagger, b64
from test_api_uvicorn import LiveServer

from api import create_app
from bench.hostile_images import scan_flood_jpeg, text_bomb_png
from vision.core import verdict as v
from vision.profile import Profile
from vision.service.habit_flows import verify_habit_b64
from vision.service.register import register_bytes
from vision.service.verify import verify_bytes
from vision.store import LocalReferenceStore
from vision.web.gate import CpuGate

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images"


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
        ("/auth/test", {"name": "alice", "habit": "desk"}, v.TAKE_PICTURE_AGAIN),  # the habit route too
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


def test_the_service_flows_read_the_header_outside_the_gate(tmp_path) -> None:
    """Below the web layer too: the verify flows (plain bytes, a habit) refuse a hostile photo with a slot held.

    They used to read the header (and a habit's base64) inside the gate: a hostile photo waited for a CPU
    slot behind genuine work and came back as "server busy" after the deadline instead of its own reason.
    """
    store = LocalReferenceStore(tmp_path)
    register_bytes(store, (SAMPLES / "lightglue" / "DSC_0410.JPG").read_bytes(), "alice")
    flood = scan_flood_jpeg(512, 512, repeats=20_000)
    gate = CpuGate(1)
    with gate(), gate.deadline(3.0):  # the one slot is busy: a gated step would wait 3 s, then give up
        start = time.perf_counter()
        plain = verify_bytes(store, flood, "alice", Profile(), gate=gate)
        habit = verify_habit_b64(store, b64(flood), "alice", "desk", Profile(), gate=gate)
        elapsed = time.perf_counter() - start
    for answer in (plain, habit):
        assert answer.status == 400 and answer.message == v.MISSING_PICTURE, answer
        assert "scans" in answer.reason and "CPU slot" not in answer.reason, answer.reason
    assert elapsed < 1.0, f"{elapsed:.2f} s"
