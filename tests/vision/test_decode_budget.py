"""Issue 22, items 1-2: the decode budget refuses work bombs from their headers, before any decoder runs."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

import vision.image.imageio as imageio
from bench.hostile_images import jpeg_segments, png_chunk, scan_flood_jpeg, text_bomb_png
from vision.core.errors import ImageTooComplexError, ImageTooLargeError, NotAnImageError
from vision.image.decode_budget import check_budget
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_image, read_header


@pytest.fixture
def no_decoder(monkeypatch):
    """Make any call of OpenCV's or Pillow's decoder fail the test: a refusal must come from the walk alone."""

    def forbidden(*_args, **_kwargs):
        raise AssertionError("a decoder was called")

    monkeypatch.setattr(imageio.cv2, "imdecode", forbidden)
    monkeypatch.setattr(imageio.Image, "open", forbidden)


def _jpeg(width: int = 320, height: int = 240, **options) -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "JPEG", **options)
    return buf.getvalue()


def _png(width: int = 64, height: int = 48) -> bytes:
    ok, buf = cv2.imencode(".png", np.random.default_rng(4).integers(0, 256, (height, width, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


def _with_png_chunks(data: bytes, extra: bytes, before_idat: bool = True) -> bytes:
    split = data.index(b"IDAT") - 4 if before_idat else len(data) - 12
    return data[:split] + extra + data[split:]


def test_the_issue_scan_flood_is_refused_naming_the_scan_count(no_decoder):
    data = scan_flood_jpeg(512, 512, repeats=20_000)
    with pytest.raises(ImageTooComplexError, match=r"progressive JPEG with more than 64 scans, at most 64"):
        decode_image(data, max_side=1000)


def test_a_scan_flood_under_the_limit_still_decodes():
    data = scan_flood_jpeg(256, 256, repeats=20)
    assert decode_image(data).bgr.shape == (256, 256, 3)


def test_scan_limit_is_a_setting(no_decoder):
    data = _jpeg(progressive=True)
    scans = sum(marker == 0xDA for marker, _s, _e in jpeg_segments(data))
    assert scans > 3  # Pillow writes about ten progressive scans
    with pytest.raises(ImageTooComplexError, match=f"more than {scans - 1} scans"):
        read_header(data, DecodeLimits(max_jpeg_scans=scans - 1))


def test_ordinary_progressive_and_baseline_jpegs_pass():
    for data in (_jpeg(progressive=True), _jpeg(), _jpeg(subsampling=0, progressive=True)):
        assert decode_image(data).bgr.shape == (240, 320, 3)
        assert check_budget(data, DEFAULT_LIMITS) is data  # JPEGs are never rewritten


@pytest.mark.parametrize(("subsampling", "per_pixel"), [(0, 3 * 128 / 64), (2, 1.5 * 128 / 64)])
def test_progressive_coefficient_memory_is_bounded_from_the_frame_header(subsampling, per_pixel):
    """4:4:4 needs 3 x 64 coefficients of 2 bytes per 8x8 block, 4:2:0 half that: refused above the limit."""
    data = _jpeg(320, 240, progressive=True, subsampling=subsampling)
    need = int(320 * 240 * per_pixel)
    read_header(data, DecodeLimits(max_coefficient_bytes=need))  # exactly the need: accepted before decoding
    with pytest.raises(ImageTooComplexError, match=r"progressive JPEG needs 0 MB of DCT coefficients"):
        read_header(data, DecodeLimits(max_coefficient_bytes=need - 1))


def test_metadata_segments_are_bounded_in_count_and_bytes(no_decoder):
    data = _jpeg()
    comment = b"\xff\xfe" + struct.pack(">H", 60_002) + b"x" * 60_000
    padded = data[:2] + comment * 140 + data[2:]  # 8.4 MB of COM segments, as the quota attack sent
    with pytest.raises(ImageTooComplexError, match=r"more than 8 MB of metadata \(COM and the like\), at most 8 MB"):
        read_header(padded)
    tiny = b"\xff\xfe\x00\x03x"
    with pytest.raises(ImageTooComplexError, match=r"more than 256 metadata chunks \(COM and the like\)"):
        read_header(data[:2] + tiny * 300 + data[2:])


def test_the_issue_png_text_bomb_after_idat_is_refused_naming_the_chunks(no_decoder):
    data = text_bomb_png(chunks=900)
    with pytest.raises(ImageTooComplexError, match=r"more than 256 metadata chunks \(zTXt and the like\)"):
        decode_image(data)


def test_png_text_chunks_never_reach_a_decoder():
    """Under the count limit a zTXt bomb is dropped, not inflated: Pillow and libpng see only the pixels' chunks."""
    clean = text_bomb_png(chunks=0)
    bombed = text_bomb_png(chunks=20, before_idat=True)
    assert bombed.count(b"zTXt") == 20
    seen = check_budget(bombed, DEFAULT_LIMITS)
    assert b"zTXt" not in seen
    assert seen == check_budget(clean, DEFAULT_LIMITS)
    np.testing.assert_array_equal(decode_image(bombed).bgr, decode_image(clean).bgr)


def test_png_keeps_transparency_and_orientation_chunks():
    data = _png()
    exif = Image.Exif()
    exif[0x0112] = 6
    extra = png_chunk(b"eXIf", exif.tobytes()) + png_chunk(b"tEXt", b"Comment\x00hello") + png_chunk(b"pHYs", bytes(9))
    seen = check_budget(_with_png_chunks(data, extra), DEFAULT_LIMITS)
    assert b"eXIf" in seen and b"tEXt" not in seen and b"pHYs" not in seen
    decoded = decode_image(_with_png_chunks(data, extra))
    assert decoded.header.orientation == 6
    assert decoded.bgr.shape == (64, 48, 3)  # rotated upright


def test_png_exif_over_the_limit_is_refused(no_decoder):
    extra = png_chunk(b"eXIf", b"MM\x00*" + bytes(70_000))
    with pytest.raises(ImageTooComplexError, match=r"EXIF block is 70004 bytes, at most 65535"):
        read_header(_with_png_chunks(_png(), extra))


def test_png_chunk_walk_is_bounded_idat_included(no_decoder):
    data = _png()
    start = data.index(b"IDAT") - 4
    length = int.from_bytes(data[start : start + 4], "big")
    stream = data[start + 8 : start + 8 + length]
    split = b"".join(png_chunk(b"IDAT", stream[i : i + 1]) for i in range(len(stream)))
    many = data[:start] + split + data[start + 12 + length :]
    with pytest.raises(ImageTooComplexError, match=r"more than 100 segments or chunks"):
        read_header(many, DecodeLimits(max_chunks=100))


def test_png_split_idat_and_trailing_bytes_still_decode():
    data = _png()
    start = data.index(b"IDAT") - 4
    length = int.from_bytes(data[start : start + 4], "big")
    stream = data[start + 8 : start + 8 + length]
    half = len(stream) // 2
    split = data[:start] + png_chunk(b"IDAT", stream[:half]) + png_chunk(b"IDAT", stream[half:])
    split += data[start + 12 + length :] + b"trailing garbage"
    np.testing.assert_array_equal(decode_image(split).bgr, decode_image(data).bgr)


def test_a_png_chunk_running_past_the_end_is_not_an_image(no_decoder):
    data = _png()
    with pytest.raises(NotAnImageError, match="truncated"):
        read_header(data[: data.index(b"IDAT") + 10])


def test_webp_metadata_chunks_are_bounded(no_decoder):
    ok, buf = cv2.imencode(".webp", np.zeros((32, 32, 3), np.uint8))
    assert ok
    data = buf.tobytes()
    chunks = data[12:] + (b"XMP " + struct.pack("<I", 2) + b"<>") * 300
    riff = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
    with pytest.raises(ImageTooComplexError, match=r"WebP has more than 256 metadata chunks \(XMP and the like\)"):
        read_header(riff)


def test_budget_errors_are_size_errors():
    """Callers that map ImageTooLargeError (API: 400, CLI: exit 2) need no change."""
    assert issubclass(ImageTooComplexError, ImageTooLargeError)
