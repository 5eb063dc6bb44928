"""Attack mixes for ``bench/load_api.py``: run beside the normal verification load (issue 11).

Each attack is a function ``(url, stop_event, record)`` run in its own
thread until ``stop_event`` is set; it calls ``record(kind, status, seconds)``
for every attack request, so the load script reports how the server treated
the attacker (statuses, worst time) and, separately, what the genuine users
saw meanwhile.

- ``png``: the issue's crafted PNG (10000x6400 16-bit RGBA, under 1 MB) sent
  to ``/auth/feature`` in a loop;
- ``slowbody``: 50 connections that send headers and part of a body, then
  nothing (reopened when the server closes them);
- ``flood``: anonymous registrations with a garbage photo, as fast as possible;
- ``bigtag``: a 1 MB tag with newlines and ANSI codes to ``/auth/tag``;
- ``scanflood``: issue 22's progressive JPEG with 2,000 repeated scans to ``/auth/feature``;
- ``textbomb``: issue 22's PNG with 900 zTXt chunks after IDAT to ``/auth/tag``;
- ``slowheaders``: 260 sockets that never finish their request headers (reopened when closed).

The socket attacks (``slowbody``, ``slowheaders``) come from 127.0.0.2 when
the target is 127.0.0.1, so the per-address connection cap applies to the
attacker, not to the genuine load's address.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from urllib.parse import urlparse

import httpx

Record = Callable[[str, int, float], None]
HEADERS = {"content-type": "application/json"}


def crafted_png(width: int = 10000, height: int = 6400) -> bytes:
    """A valid 16-bit RGBA PNG of zeros: under 1 MB on the wire, 512 MB once decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    row = b"\x00" * (1 + width * 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _post_loop(url: str, path: str, payload: bytes, kind: str, stop: threading.Event, record: Record) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                status = client.post(path, content=payload, headers=HEADERS).status_code
            except httpx.HTTPError:
                status = 0
            record(kind, status, time.perf_counter() - start)


_PNG_PAYLOAD: list[bytes] = []


def prepare() -> None:
    """Build the crafted files once, before the load starts (compressing 512 MB of zeros takes seconds)."""
    _hostile_payload("scanflood")
    _hostile_payload("textbomb")
    if not _PNG_PAYLOAD:
        _PNG_PAYLOAD.append(b'{"name": "attacker", "data": "' + base64.b64encode(crafted_png()) + b'"}')


def png(url: str, stop: threading.Event, record: Record) -> None:
    prepare()
    _post_loop(url, "/auth/feature", _PNG_PAYLOAD[0], "png", stop, record)


def flood(url: str, stop: threading.Event, record: Record) -> None:
    _post_loop(url, "/auth/stdimg", b'{"data": "AAAAAAAA"}', "flood", stop, record)


def bigtag(url: str, stop: threading.Event, record: Record) -> None:
    tag = ("cup\n\x1b[31mFORGED " * 50_000)[:1_000_000]
    import json

    payload = json.dumps({"data": "AAAAAAAA", "tag": tag}).encode()
    _post_loop(url, "/auth/tag", payload, "bigtag", stop, record)


def _stalled_sockets(url: str, head: bytes, kind: str, stop: threading.Event, record: Record, connections: int) -> None:
    """``connections`` sockets that send ``head`` and then nothing, reopened when the server closes them."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    source = ("127.0.0.2", 0) if host == "127.0.0.1" else None

    def one() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                with socket.create_connection((host, port), timeout=120, source_address=source) as sock:
                    sock.sendall(head)
                    answer = b""
                    while chunk := sock.recv(65536):
                        answer += chunk
                status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
            except OSError:
                status = 0
            record(kind, status, time.perf_counter() - start)
            if status == 429:
                time.sleep(1.0)  # refused at the cap: retry after its Retry-After, not in a busy loop

    threads = [threading.Thread(target=one, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def slowbody(url: str, stop: threading.Event, record: Record, connections: int = 50) -> None:
    host = urlparse(url).hostname or "127.0.0.1"
    head = (
        f"POST /auth/feature HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000\r\n\r\n"
    ).encode() + b'{"name": "attacker", "data": "AAAA'
    _stalled_sockets(url, head, "slowbody", stop, record, connections)


def slowheaders(url: str, stop: threading.Event, record: Record, connections: int = 260) -> None:
    host = urlparse(url).hostname or "127.0.0.1"
    head = f"POST /auth/feature HTTP/1.1\r\nHost: {host}\r\nContent-Type: appl".encode()
    _stalled_sockets(url, head, "slowheaders", stop, record, connections)


_HOSTILE: dict[str, bytes] = {}


def _hostile_payload(kind: str) -> bytes:
    if kind not in _HOSTILE:
        from bench.hostile_images import scan_flood_jpeg, text_bomb_png

        if kind == "scanflood":
            data, extra = scan_flood_jpeg(2000, 2000, 2000), b'"name": "attacker"'
        else:
            data, extra = text_bomb_png(chunks=900), b'"tag": "cup"'
        _HOSTILE[kind] = b"{" + extra + b', "data": "' + base64.b64encode(data) + b'"}'
    return _HOSTILE[kind]


def scanflood(url: str, stop: threading.Event, record: Record) -> None:
    _post_loop(url, "/auth/feature", _hostile_payload("scanflood"), "scanflood", stop, record)


def textbomb(url: str, stop: threading.Event, record: Record) -> None:
    _post_loop(url, "/auth/tag", _hostile_payload("textbomb"), "textbomb", stop, record)


ATTACKS: dict[str, Callable[[str, threading.Event, Record], None]] = {
    "png": png,
    "slowbody": slowbody,
    "flood": flood,
    "bigtag": bigtag,
    "scanflood": scanflood,
    "textbomb": textbomb,
    "slowheaders": slowheaders,
}
