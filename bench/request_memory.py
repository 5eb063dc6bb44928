"""Resident memory of the API server around large requests: does it fall back after them?

Usage::

    python -m bench.request_memory                      # decode in worker processes (the default)
    python -m bench.request_memory --decode-timeout 0   # decode in the server process

Starts its own server (``scripts/serve_api.sh``, temp local store), warms it
up with small requests (models loaded), then sends ``--rounds`` rounds of
large requests (register, verify, tag, each a 48 MP JPEG of a real scene) and
prints the server's RSS (``/proc/<pid>/statm``) after the warm-up, after each
round and after ``--idle-s`` of idling, with its peak (``VmHWM``).  The
server trims its heap (``malloc_trim``) after each large request
(:mod:`vision.core.memory`).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from bench.load_api import REPO, start_server
from vision.core.memory import rss_bytes

SAMPLES = REPO / "samples" / "images" / "lightglue"


def large_photo(name: str, width: int = 8000, height: int = 6000, quality: int = 85) -> bytes:
    """A bundled photo upscaled to ``width x height`` JPEG (a real scene: it registers and verifies)."""
    with Image.open(SAMPLES / name) as img:
        big = img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def peak_mb(pid: int) -> float:
    """``VmHWM`` of ``pid`` in MB (0 when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def large_round(url: str, i: int, ref: str, query: str) -> list[int]:
    """One register + verify + tag of large photos; the statuses."""
    statuses = []
    for path, body in (
        ("/auth/stdimg", {"name": f"big{i}", "data": ref}),
        ("/auth/feature", {"name": f"big{i}", "data": query}),
        ("/auth/tag", {"tag": "building", "data": query}),
    ):
        statuses.append(httpx.post(url + path, json=body, timeout=120).status_code)
    return statuses


def warm_up(url: str) -> None:
    small = {n: base64.b64encode((SAMPLES / n).read_bytes()).decode() for n in ("DSC_0410.JPG", "DSC_0411.JPG")}
    httpx.post(url + "/auth/stdimg", json={"name": "warm", "data": small["DSC_0410.JPG"]}, timeout=120)
    for _ in range(2):
        httpx.post(url + "/auth/feature", json={"name": "warm", "data": small["DSC_0411.JPG"]}, timeout=120)
        httpx.post(url + "/auth/tag", json={"tag": "building", "data": small["DSC_0411.JPG"]}, timeout=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.request_memory", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--idle-s", type=float, default=2.0)
    ap.add_argument("--decode-timeout", default="5", help="VISION_DECODE_TIMEOUT_S of the server (0: in process)")
    args = ap.parse_args(argv)
    os.environ["VISION_DECODE_TIMEOUT_S"] = args.decode_timeout
    ref = base64.b64encode(large_photo("DSC_0410.JPG")).decode()
    query = base64.b64encode(large_photo("DSC_0411.JPG")).decode()
    print(
        f"large photo: {len(ref) * 3 / 4 / 1e6:.1f} MB JPEG, 8000x6000; VISION_DECODE_TIMEOUT_S={args.decode_timeout}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(str(Path(tmp) / "refs"), workers=2)
        try:
            warm_up(url)
            baseline = rss_bytes(proc.pid) / 1e6
            print(f"after warm-up   RSS {baseline:7.1f} MB")
            first = baseline
            for i in range(args.rounds):
                statuses = large_round(url, i, ref, query)
                now = rss_bytes(proc.pid) / 1e6
                first = now if i == 0 else first
                print(f"after round {i + 1}   RSS {now:7.1f} MB  statuses {statuses}")
            time.sleep(args.idle_s)
            after = rss_bytes(proc.pid) / 1e6
            print(
                f"idle {args.idle_s:g} s      RSS {after:7.1f} MB  (+{after - baseline:.1f} MB over warm-up, "
                f"{after - first:+.1f} MB over round 1)"
            )
            print(f"peak VmHWM {peak_mb(proc.pid):.1f} MB")
        finally:
            proc.terminate()
            proc.wait(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
