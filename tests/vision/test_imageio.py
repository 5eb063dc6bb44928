"""vision.image.imageio: base64, format checks, limits (decompression bombs), EXIF, reduced decoding."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from vision.core.errors import (
    EmptyImageError,
    ImageInputError,
    ImageTooLargeError,
    InvalidBase64Error,
    NotAnImageError,
)
from vision.image.imageio import (
    DecodeLimits,
    apply_orientation,
    decode_base64,
    decode_image,
    read_header,
)

# -- helpers ---------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width x height`` 8-bit gray pixels.

    The IDAT holds only the first (blank) row: whoever trusts the header and
    allocates ``width * height`` bytes has lost already.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def marker_image(h: int = 120, w: int = 200) -> np.ndarray:
    """Gray BGR image with a pure red block in its top-left corner (asymmetric)."""
    img = np.full((h, w, 3), 90, np.uint8)
    img[: h // 4, : w // 4] = (0, 0, 255)
    return img


def red_quadrant(bgr: np.ndarray) -> str:
    """Which corner ("tl", "tr", "bl", "br") holds most of the red pixels."""
    red = (bgr[:, :, 2] > 180) & (bgr[:, :, 1] < 80) & (bgr[:, :, 0] < 80)
    assert red.sum() > 100, "the red block disappeared"
    h, w = red.shape
    ys, xs = np.nonzero(red)
    return ("t" if ys.mean() < h / 2 else "b") + ("l" if xs.mean() < w / 2 else "r")


def pil_bytes(fmt: str, size=(64, 48), **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def jpeg_bytes(make_jpeg) -> bytes:
    rng = np.random.default_rng(0)
    return make_jpeg(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))


# -- base64 ----------------------------------------------------------------


def test_base64_plain(jpeg_bytes):
    assert decode_base64(base64.b64encode(jpeg_bytes).decode()) == jpeg_bytes


@pytest.mark.parametrize("prefix", ["data:image/jpeg;base64,", "DATA:image/png;base64,", "  data:image/webp;base64,"])
def test_base64_data_url_prefix(jpeg_bytes, prefix):
    assert decode_base64(prefix + base64.b64encode(jpeg_bytes).decode()) == jpeg_bytes


def test_base64_with_newlines(jpeg_bytes):
    text = base64.encodebytes(jpeg_bytes).decode()  # MIME style: a newline every 76 chars
    assert "\n" in text.strip()
    assert decode_base64(text) == jpeg_bytes
    assert decode_base64(text.replace("\n", "\r\n")) == jpeg_bytes


def test_base64_urlsafe_alphabet_with_and_without_padding():
    data = bytes(range(256)) * 3  # every 6-bit group appears: '+' and '/' in the standard alphabet
    standard = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data[:-1]).decode()
    assert "+" in standard and "/" in standard
    assert "-" in urlsafe and "_" in urlsafe and urlsafe.endswith("=")
    assert decode_base64(urlsafe) == data[:-1]
    assert decode_base64(urlsafe.rstrip("=")) == data[:-1]


@pytest.mark.parametrize("text", ["not base64 at all!", "@@@@", "abc$def", "QUJD=QUJD", "A"])
def test_invalid_base64(text):
    with pytest.raises(InvalidBase64Error):
        decode_base64(text)


def test_base64_not_a_string():
    with pytest.raises(InvalidBase64Error):
        decode_base64(b"QUJD")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "   \n", "data:image/jpeg;base64,"])
def test_empty_base64(text):
    with pytest.raises(EmptyImageError):
        decode_base64(text)


def test_only_padding_is_rejected():
    with pytest.raises(ImageInputError):
        decode_base64("====")


def test_base64_over_max_bytes_rejected_before_decoding(jpeg_bytes):
    text = base64.b64encode(jpeg_bytes).decode()
    with pytest.raises(ImageTooLargeError):
        decode_base64(text, DecodeLimits(max_bytes=len(jpeg_bytes) // 2))
    assert decode_base64(text, DecodeLimits(max_bytes=len(jpeg_bytes))) == jpeg_bytes


def test_errors_are_value_errors():
    # callers (API, CLI) catch ImageInputError / ValueError
    for exc in (EmptyImageError, InvalidBase64Error, NotAnImageError, ImageTooLargeError):
        assert issubclass(exc, ImageInputError) and issubclass(exc, ValueError)


# -- not an image ----------------------------------------------------------


def test_empty_bytes():
    with pytest.raises(EmptyImageError):
        decode_image(b"")


def test_random_bytes():
    rng = np.random.default_rng(1)
    with pytest.raises(NotAnImageError):
        decode_image(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())


def test_text_is_not_an_image():
    with pytest.raises(NotAnImageError):
        decode_image(b"<html><body>hello</body></html>")


def test_truncated_jpeg(pair_same):
    data = pair_same[0]
    assert decode_image(data).bgr.size  # the full file is fine
    with pytest.raises(NotAnImageError):
        decode_image(data[: len(data) // 2])


def test_jpeg_without_end_marker(jpeg_bytes):
    assert jpeg_bytes.endswith(b"\xff\xd9")
    with pytest.raises(NotAnImageError):
        decode_image(jpeg_bytes[:-2])


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_unsupported_formats(fmt):
    data = pil_bytes(fmt)
    with pytest.raises(NotAnImageError, match="unsupported image format"):
        decode_image(data)


def test_too_small_image(make_jpeg):
    with pytest.raises(NotAnImageError, match="8x8"):
        decode_image(make_jpeg(np.full((8, 8, 3), 100, np.uint8)))


# -- limits ----------------------------------------------------------------


def test_png_bomb_header_rejected_fast():
    bomb = png_claiming(30000, 30000)
    assert len(bomb) < 500
    assert bomb.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", bomb[16:24]) == (30000, 30000)  # what the IHDR claims
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError):
        decode_image(bomb)
    with pytest.raises(ImageTooLargeError):
        read_header(bomb)
    assert time.perf_counter() - start < 0.5  # nothing was decoded


def test_pixel_limit_below_pillows_own_bomb_check():
    # 9000 x 9000 = 81 MP: Pillow only warns, our 64 MP limit must reject it
    bomb = png_claiming(9000, 9000)
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="9000x9000"):
        decode_image(bomb)
    assert time.perf_counter() - start < 0.5


def test_custom_pixel_limit(make_jpeg):
    data = make_jpeg(np.full((100, 200, 3), 50, np.uint8))
    with pytest.raises(ImageTooLargeError):
        decode_image(data, limits=DecodeLimits(max_pixels=100 * 200 - 1))
    assert decode_image(data, limits=DecodeLimits(max_pixels=100 * 200)).bgr.shape == (100, 200, 3)


def test_bytes_over_max_bytes(jpeg_bytes):
    with pytest.raises(ImageTooLargeError):
        decode_image(jpeg_bytes, limits=DecodeLimits(max_bytes=len(jpeg_bytes) - 1))
    with pytest.raises(ImageTooLargeError):
        read_header(jpeg_bytes, DecodeLimits(max_bytes=100))
    assert decode_image(jpeg_bytes, limits=DecodeLimits(max_bytes=len(jpeg_bytes))).bgr.shape == (64, 96, 3)


# -- EXIF orientation ------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "corner", "swapped"),
    [(1, "tl", False), (3, "br", False), (6, "tr", True), (8, "bl", True), (2, "tr", False)],
)
def test_exif_orientation_applied(make_jpeg, orientation, corner, swapped):
    stored = marker_image(120, 200)
    decoded = decode_image(make_jpeg(stored, exif_orientation=orientation))
    assert decoded.header.orientation == orientation
    assert decoded.bgr.shape == ((200, 120, 3) if swapped else (120, 200, 3))
    assert decoded.original_size == ((120, 200) if swapped else (200, 120))
    assert decoded.scale == 1.0
    assert red_quadrant(decoded.bgr) == corner


def test_no_exif_means_upright(make_jpeg):
    decoded = decode_image(make_jpeg(marker_image()))
    assert decoded.header.orientation == 1
    assert red_quadrant(decoded.bgr) == "tl"


@pytest.mark.parametrize(
    "orientation",
    [1, 2, 3, 4, 5, 6, 7, 8],
)
def test_orientation_matches_pillow_exif_transpose(orientation):
    """Decoding agrees with Pillow's reference ``ImageOps.exif_transpose`` for all 8 orientations."""
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", exif=exif)  # lossless, so pixels compare exactly
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    np.testing.assert_array_equal(apply_orientation(rgb, orientation), expected)
    decoded = decode_image(buf.getvalue())
    assert decoded.header.orientation == orientation
    np.testing.assert_array_equal(decoded.bgr[:, :, ::-1], expected)


# -- reduced decoding ------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg(make_jpeg) -> bytes:
    """A 4032x3024 (12 MP) JPEG of blocky noise (compresses to a few MB)."""
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (378, 504, 3), dtype=np.uint8)
    return make_jpeg(cv2.resize(small, (4032, 3024), interpolation=cv2.INTER_NEAREST), quality=70)


def test_reduced_decoding_of_big_jpeg(big_jpeg):
    full = decode_image(big_jpeg)
    assert full.bgr.shape == (3024, 4032, 3) and full.scale == 1.0
    reduced = decode_image(big_jpeg, max_side=1000)  # 4032 / 4 = 1008 >= 1000 > 4032 / 8
    assert reduced.bgr.shape == (756, 1008, 3)
    assert reduced.scale == pytest.approx(0.25)
    assert reduced.original_size == (4032, 3024)
    half = decode_image(big_jpeg, max_side=2000)
    assert half.bgr.shape == (1512, 2016, 3) and half.scale == pytest.approx(0.5)
    assert decode_image(big_jpeg, max_side=400).bgr.shape == (378, 504, 3)  # 1/8
    # the reduced decode is a faithful downscale of the full one
    area = cv2.resize(full.bgr, (1008, 756), interpolation=cv2.INTER_AREA).astype(np.int16)
    assert np.abs(area - reduced.bgr.astype(np.int16)).mean() < 12


def test_no_reduction_when_it_would_go_below_max_side(big_jpeg):
    decoded = decode_image(big_jpeg, max_side=3000)
    assert decoded.bgr.shape == (3024, 4032, 3) and decoded.scale == 1.0


def test_reduced_decoding_with_rotation(make_jpeg):
    img = cv2.resize(marker_image(120, 160), (3200, 2400), interpolation=cv2.INTER_NEAREST)
    decoded = decode_image(make_jpeg(img, exif_orientation=6), max_side=1000)
    assert decoded.bgr.shape == (1600, 1200, 3)  # 1/2 scale, then rotated
    assert decoded.scale == pytest.approx(0.5)
    assert decoded.original_size == (2400, 3200)
    assert red_quadrant(decoded.bgr) == "tr"


# -- other formats ---------------------------------------------------------


def test_png_decodes_exactly():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    decoded = decode_image(buf.tobytes(), max_side=20)  # PNG: never reduced
    assert decoded.header.format == "PNG" and decoded.header.content_type == "image/png"
    assert decoded.scale == 1.0
    np.testing.assert_array_equal(decoded.bgr, img)


def test_gray_png_decodes_to_bgr():
    _ok, buf = cv2.imencode(".png", np.full((40, 30), 77, np.uint8))
    decoded = decode_image(buf.tobytes())
    assert decoded.bgr.shape == (40, 30, 3)
    assert (decoded.bgr == 77).all()


def test_webp_decodes():
    img = marker_image(90, 140)
    ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 95])
    assert ok
    decoded = decode_image(buf.tobytes())
    assert decoded.header.format == "WEBP" and decoded.header.content_type == "image/webp"
    assert decoded.bgr.shape == (90, 140, 3)
    assert np.abs(decoded.bgr.astype(int) - img.astype(int)).mean() < 5
    assert red_quadrant(decoded.bgr) == "tl"


def test_jpeg_header(make_jpeg):
    header = read_header(make_jpeg(np.zeros((30, 40, 3), np.uint8), exif_orientation=8))
    assert (header.format, header.width, header.height, header.orientation) == ("JPEG", 40, 30, 8)
    assert header.content_type == "image/jpeg"
    assert header.upright_size == (30, 40)


def test_invalid_exif_orientation_is_ignored(make_jpeg):
    decoded = decode_image(make_jpeg(marker_image(), exif_orientation=42))
    assert decoded.header.orientation == 1
    assert red_quadrant(decoded.bgr) == "tl"


def test_mpo_jpeg_from_phones_decodes():
    rng = np.random.default_rng(5)
    first = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[first.resize((80, 60))])
    data = buf.getvalue()
    assert data.startswith(b"\xff\xd8")  # a JPEG file ...
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (120, 160, 3)  # ... to OpenCV
    decoded = decode_image(data)
    assert decoded.bgr.shape == (120, 160, 3)
    assert decoded.header.content_type == "image/jpeg"


@pytest.mark.parametrize("ext", [".png", ".webp"])
def test_truncated_png_and_webp(ext):
    rng = np.random.default_rng(6)
    _ok, buf = cv2.imencode(ext, rng.integers(0, 256, (100, 150, 3), dtype=np.uint8))
    data = buf.tobytes()
    assert decode_image(data).bgr.shape == (100, 150, 3)
    with pytest.raises(NotAnImageError):
        decode_image(data[: len(data) // 2])
