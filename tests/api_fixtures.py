"""Shared helpers for the API and service tests (imported by the test modules).

Photos come from ``shared/data`` beside the repository (skipped when absent);
synthetic inputs (gray image, decompression-bomb PNG) are made in memory.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vision.tagging.base import Concept, TaggerError, TagMatch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
LIGHTGLUE = DATA / "images" / "lightglue"
ASSETS = Path(__file__).resolve().parent / "assets"
MODEL = REPO / "vision" / "models" / "efficientnet_lite0.onnx"

DUMMY_KEY_ID = "api-test-key-id"
DUMMY_SECRET = "api-test-secret-never-logged"


def photo(name: str) -> bytes:
    """Bytes of a real photo from ``shared/data/images/lightglue`` (skip when absent)."""
    path = LIGHTGLUE / name
    if not path.is_file():
        pytest.skip(f"evaluation data not found: {path}")
    return path.read_bytes()


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


class FakeTagger:
    """A Tagger that answers from a fixed concept table (no model, no network)."""

    name = "fake"

    def __init__(
        self, concepts: dict[str, float] | None = None, *, fail: Exception | None = None, delay_s: float = 0.0
    ) -> None:
        self.table = concepts if concepts is not None else {"dog": 0.9, "grass": 0.4}
        self.fail = fail
        self.delay_s = delay_s
        self.calls = 0
        self.shapes: list[tuple[int, ...]] = []

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        ranked = sorted(self.table.items(), key=lambda kv: -kv[1])[:top_k]
        return [Concept(n, s) for n, s in ranked]

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        self.calls += 1
        self.shapes.append(tuple(image_bgr.shape))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        key = tag.strip().lower()
        score = self.table.get(key)
        if score is None:
            return TagMatch(tag, False, None, 0.0, self.concepts(image_bgr))
        return TagMatch(tag, score >= min_confidence, key, score, self.concepts(image_bgr))


def failing_tagger(cause: str = "deadline exceeded after 10 s") -> FakeTagger:
    return FakeTagger(fail=TaggerError(cause))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- moto (S3) ------------------------------------------------------------------------


def s3_client(endpoint_url: str) -> Any:
    """A boto3 client for a moto endpoint: dummy credentials, short timeouts, no retries."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_KEY_ID, aws_secret_access_key=DUMMY_SECRET, region_name="us-east-1"
    )
    config = Config(
        connect_timeout=1,
        read_timeout=3,
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=32,
        s3={"addressing_style": "path"},
        signature_version="s3v4",
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


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
