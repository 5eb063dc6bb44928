"""Shared helpers for the API and service tests (imported by the test modules).

Photos come from ``samples/images/lightglue`` (byte-identical to the shared
data's copies, so nothing skips on a clean clone); synthetic inputs (gray image, decompression-bomb PNG) are made in memory.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import cv2
import moto_server
import numpy as np
from fakes import FakeTagger

from vision.tagging.base import TaggerError

__all__ = ["FakeTagger", "failing_tagger"]

REPO = Path(__file__).resolve().parents[1]
LIGHTGLUE = REPO / "samples" / "images" / "lightglue"
ASSETS = Path(__file__).resolve().parent / "assets"
MODEL = REPO / "vision" / "models" / "efficientnet_lite0.onnx"

DUMMY_KEY_ID = "api-test-key-id"
DUMMY_SECRET = "api-test-secret-never-logged"


def photo(name: str) -> bytes:
    """Bytes of a bundled real photo (``samples/images/lightglue``)."""
    return (LIGHTGLUE / name).read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def gray_jpeg(width: int = 640, height: int = 480) -> bytes:
    """A plain gray JPEG: decodes fine, has no keypoints ("Too Little Features")."""
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def failing_tagger(cause: str = "deadline exceeded after 10 s") -> FakeTagger:
    return FakeTagger(fail=TaggerError(cause))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- moto (S3) ------------------------------------------------------------------------


def s3_client(endpoint_url: str) -> Any:
    """A boto3 client for a moto endpoint (:func:`moto_server.s3_client`) with the API tests' credentials."""
    return moto_server.s3_client(endpoint_url, DUMMY_KEY_ID, DUMMY_SECRET, connect_timeout=1, read_timeout=3)


class Counter:
    """A thread-safe gate that counts how often, and how concurrently, it is held."""

    def __init__(self) -> None:
        self.entered = 0
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self) -> Counter:
        return self

    def __enter__(self) -> Counter:
        with self._lock:
            self.entered += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.active -= 1
