"""The decode pool (issue 22): the same pixels as in process, a decode past its budget killed, a dead worker replaced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.hostile_images import scan_flood_jpeg
from vision.core.errors import ImageTooComplexError, NotAnImageError
from vision.image.decode_pool import DecodePool, DecodeTimeoutError
from vision.image.imageio import decode_image, pixel_decoder, use_pixel_decoder

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "images" / "lightglue" / "DSC_0410.JPG"


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    pool = DecodePool(1, timeout_s=0.3)
    pool.warm_up()
    try:
        yield pool
    finally:
        pool.close()


def test_pool_pixels_equal_in_process_pixels(pool: DecodePool) -> None:
    data = SAMPLE.read_bytes()
    here = decode_image(data, max_side=640)
    pool.install()
    try:
        assert pixel_decoder() == pool.decode
        there = decode_image(data, max_side=640)
    finally:
        use_pixel_decoder(None)
    assert there.bgr.shape == here.bgr.shape and there.bgr.flags.writeable
    assert np.array_equal(there.bgr, here.bgr) and there.scale == here.scale


def test_undecodable_bytes_are_none_and_the_worker_stays(pool: DecodePool) -> None:
    assert pool.decode(b"\xff\xd8 not really a jpeg", cv2.IMREAD_COLOR) is None
    assert pool.killed == 0
    assert pool.decode(SAMPLE.read_bytes(), cv2.IMREAD_REDUCED_COLOR_4) is not None


def test_a_slow_decode_is_abandoned_in_about_the_timeout_and_the_next_one_is_served(pool: DecodePool) -> None:
    slow = scan_flood_jpeg(5000, 5000, repeats=50)  # admitted by the work budget, ~1 s of one core
    pool.install()
    try:
        start = time.perf_counter()
        with pytest.raises(DecodeTimeoutError, match=r"longer than 0\.3 s to decode") as caught:
            decode_image(slow, max_side=1000)
        elapsed = time.perf_counter() - start
        assert isinstance(caught.value, ImageTooComplexError)  # answered as an unusable photo
        assert elapsed < 0.9, elapsed
        assert pool.killed == 1
        start = time.perf_counter()
        assert decode_image(SAMPLE.read_bytes(), max_side=640).bgr.size > 0  # the replacement decodes
        assert time.perf_counter() - start < 0.3 + 5  # it waited at most for the replacement to start
    finally:
        use_pixel_decoder(None)


def test_a_worker_that_dies_is_replaced(pool: DecodePool) -> None:
    (worker,) = list(pool._all)
    worker.process.kill()
    worker.process.join(5)
    with pytest.raises(NotAnImageError, match="decoder stopped"):
        pool.decode(SAMPLE.read_bytes(), cv2.IMREAD_COLOR)
    assert pool.decode(SAMPLE.read_bytes(), cv2.IMREAD_REDUCED_COLOR_4) is not None


def test_bad_pool_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="processes"):
        DecodePool(0, 1.0)
    with pytest.raises(ValueError, match="timeout_s"):
        DecodePool(1, 0)
