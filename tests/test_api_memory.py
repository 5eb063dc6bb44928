"""Issue 22: the memory of a large request goes back after it (no growth per request).

A real server process (``scripts/serve_api.sh``); its RSS is read from
``/proc/<pid>/statm``.  The first two large rounds set the plateau (lazily built
buffers of the models and the allocator's arenas stay); every later round of
the same large requests must end near that plateau, so a request that kept
its photo, its pixels or its coefficient buffer (tens of megabytes each)
would be caught.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from api_processes import start_api, stop_api

from bench.request_memory import large_photo, large_round
from vision.core.memory import release_memory, rss_bytes

GROWTH_MB = 50  # tolerant (the plateau wobbles by ~20 MB); four rounds of 24 MP photos, 72 MB of pixels each


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_rss_after_large_requests_falls_back_to_the_plateau(tmp_path: Path) -> None:
    ref = base64.b64encode(large_photo("DSC_0410.JPG", 6000, 4000)).decode()
    query = base64.b64encode(large_photo("DSC_0411.JPG", 6000, 4000)).decode()
    settings = {
        "VISION_STORE": "local",
        "VISION_STORE_DIR": str(tmp_path / "refs"),
        "VISION_RATE_CLIENT_PER_MIN": "0",
        "VISION_RATE_USER_PER_MIN": "0",
        "VISION_WORKERS": "2",
    }
    proc, url = start_api(tmp_path, settings)
    try:
        plateau = 0.0
        for i in range(2):  # python -m bench.request_memory: flat from the second round on
            assert large_round(url, i, ref, query) == [200, 200, 200]
            plateau = max(plateau, rss_bytes(proc.pid) / 1e6)
        assert plateau > 0
        after = 0.0
        for i in range(2, 6):
            assert large_round(url, i, ref, query) == [200, 200, 200]
            after = max(after, rss_bytes(proc.pid) / 1e6)
    finally:
        stop_api(proc)
    assert after < plateau + GROWTH_MB, f"RSS {after:.0f} MB after 4 more large rounds, plateau {plateau:.0f} MB"


def test_release_memory_and_rss_work_here() -> None:
    assert rss_bytes() > 0
    before = rss_bytes()
    blob = bytearray(200_000_000)  # touched: resident
    blob[::4096] = b"x" * len(blob[::4096])
    assert rss_bytes() > before + 150_000_000
    del blob
    assert release_memory() is True  # glibc here
    assert rss_bytes() < before + 50_000_000
