"""Turn client bytes into pixels, safely.

Photos arrive as raw bytes (uploads) or base64 text (the mobile client).  Every
way they can be bad maps to one exception of :mod:`vision.core.errors`, raised
*before* any expensive or dangerous work: the byte size and the pixel count
claimed by the header are checked before a single pixel is decoded, which is
what stops a decompression bomb.

Phone photos are large (12 MP and up) while the features run at about
1000 px, so JPEGs are decoded at a reduced DCT scale (``cv2.IMREAD_REDUCED_*``)
when that still leaves at least the working resolution.  The EXIF orientation
tag is read from the header and applied explicitly, so the result does not
depend on which decode flags OpenCV honours it with.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from vision.core.errors import (
    EmptyImageError,
    ImageTooLargeError,
    InvalidBase64Error,
    NotAnImageError,
)
from vision.image.decode_budget import check_budget

SUPPORTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_DATA_URL = re.compile(r"^\s*data:image/[\w.+-]+;base64,", re.IGNORECASE)
_REDUCED_FLAGS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
# EXIF orientation -> (cv2.rotate code or None, flip horizontally before rotating)
_ORIENTATION_OPS: dict[int, tuple[int | None, bool]] = {
    2: (None, True),
    3: (cv2.ROTATE_180, False),
    4: (cv2.ROTATE_180, True),
    5: (cv2.ROTATE_90_COUNTERCLOCKWISE, True),
    6: (cv2.ROTATE_90_CLOCKWISE, False),
    7: (cv2.ROTATE_90_CLOCKWISE, True),
    8: (cv2.ROTATE_90_COUNTERCLOCKWISE, False),
}


@dataclass(frozen=True)
class DecodeLimits:
    """Upper bounds on what a client may send.

    Parameters
    ----------
    max_bytes : int
        Largest encoded file accepted (default 20 MB: a 48 MP JPEG fits).
    max_pixels : int
        Largest ``width * height`` the header may claim (default 64 MP); JPEGs
        that large are decoded at a reduced DCT scale, so they cost far less.
    max_full_pixels : int
        Largest ``width * height`` of a PNG or WebP (default 24 MP): these
        cannot be decoded at a reduced scale, every pixel is inflated.
    max_raw_bytes : int
        Largest raw size a PNG or WebP decodes into, ``width * height *
        channels * bytes per sample`` as the header declares it (default
        100 MB: a 12 MP 16-bit RGB PNG is 72 MB, an 8-bit one 36 MB).
    min_side : int
        Smallest side in pixels; tinier images cannot hold features.
    max_jpeg_scans : int
        Most scans (SOS markers) a JPEG may have (default 64; encoders write
        1-3 for baseline, about 10 for progressive): each scan walks the whole
        image again (:mod:`vision.image.decode_budget`).
    max_coefficient_bytes : int
        Largest DCT coefficient buffer of a progressive or multi-scan JPEG
        (default 160 MB: 48 MP at 4:2:0), which libjpeg holds whatever the scale.
    max_chunks : int
        Most JPEG segments, PNG chunks (IDAT included) or WebP chunks walked (default 20,000).
    max_metadata_chunks, max_metadata_bytes : int
        Most metadata chunks (JPEG APPn and COM, PNG ancillary chunks, WebP
        chunks other than image data) and their total bytes (defaults 256, 8 MB).
    max_exif_bytes : int
        Largest EXIF block (default 65,535: what a JPEG APP1 segment can hold).
    """

    max_bytes: int = 20_000_000
    max_pixels: int = 64_000_000
    max_full_pixels: int = 24_000_000
    max_raw_bytes: int = 100_000_000
    min_side: int = 16
    max_jpeg_scans: int = 64
    max_coefficient_bytes: int = 160_000_000
    max_chunks: int = 20_000
    max_metadata_chunks: int = 256
    max_metadata_bytes: int = 8_000_000
    max_exif_bytes: int = 65_535


DEFAULT_LIMITS = DecodeLimits()

PixelDecoder = Callable[[bytes, int], "np.ndarray | None"]
"""``(encoded bytes, cv2.IMREAD_* flags) -> pixels or None``: what :func:`decode_image` runs last."""


def _decode_here(data: bytes, flag: int) -> np.ndarray | None:
    """``cv2.imdecode`` in this process (the CLI, the dashboard, tests)."""
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)


_pixel_decoder: PixelDecoder = _decode_here


def use_pixel_decoder(decoder: PixelDecoder | None) -> None:
    """Decode pixels with ``decoder`` from now on, process-wide (None: in this process again).

    The API installs :class:`vision.image.decode_pool.DecodePool` here, so a
    decode that overruns its wall-clock budget is abandoned (its worker killed)
    instead of holding a CPU slot; every check before the pixels stays in process.
    """
    global _pixel_decoder
    _pixel_decoder = decoder or _decode_here


def pixel_decoder() -> PixelDecoder:
    """The decoder :func:`decode_image` uses now."""
    return _pixel_decoder


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, read without decoding pixels."""

    format: str
    width: int
    height: int
    orientation: int
    raw_bytes: int = 0
    """Bytes the full-resolution decode inflates to (``w * h * channels * bytes per sample``)."""

    @property
    def content_type(self) -> str:
        return SUPPORTED_FORMATS[self.format]

    @property
    def upright_size(self) -> tuple[int, int]:
        """``(width, height)`` after the EXIF rotation is applied."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class DecodedImage:
    """A decoded, upright photo.

    Attributes
    ----------
    bgr : np.ndarray
        ``(H, W, 3)`` uint8, upright, possibly reduced in scale.
    header : ImageHeader
        Format, stored size and EXIF orientation.
    scale : float
        ``bgr`` size divided by the upright original size (1.0 if not reduced).
    """

    bgr: np.ndarray
    header: ImageHeader
    scale: float

    @property
    def original_size(self) -> tuple[int, int]:
        return self.header.upright_size


def decode_base64(text: str, limits: DecodeLimits = DEFAULT_LIMITS) -> bytes:
    """Decode base64 text, with or without a ``data:image/...;base64,`` prefix.

    Raises
    ------
    EmptyImageError
        For an empty string.
    ImageTooLargeError
        When the text would decode to more than ``limits.max_bytes``.
    InvalidBase64Error
        For anything that is not strict base64 (URL-safe alphabet accepted).
    """
    if not isinstance(text, str):
        raise InvalidBase64Error(f"expected base64 text, got {type(text).__name__}")
    body = _DATA_URL.sub("", text, count=1)
    body = "".join(body.split())  # clients wrap lines at 76 chars
    if not body:
        raise EmptyImageError("the photo is empty")
    if len(body) * 3 // 4 > limits.max_bytes:
        raise ImageTooLargeError(f"the photo is larger than {limits.max_bytes // 1_000_000} MB")
    if "-" in body or "_" in body:
        body = body.replace("-", "+").replace("_", "/")
    body += "=" * (-len(body) % 4)
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64Error(f"the photo is not valid base64 ({exc})") from None
    if not data:
        raise EmptyImageError("the photo is empty")
    return data


def read_header(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> ImageHeader:
    """Identify the format and size from the header only, and enforce the limits.

    Nothing here decodes pixels: Pillow's ``open`` reads only the header, the
    EXIF orientation comes from the EXIF block Pillow found while opening
    (``Image.getexif()`` would decode a whole PNG to look for a trailing
    ``eXIf`` chunk), and a PNG's bit depth and colour type come from its IHDR.
    The decode budget (:func:`vision.image.decode_budget.check_budget`: scans,
    chunks, metadata) is checked first, so Pillow never sees a PNG's text chunks.
    """
    return _checked_header(data, limits)[0]


def _checked_header(data: bytes, limits: DecodeLimits) -> tuple[ImageHeader, bytes]:
    """:func:`read_header`, plus the bytes the decoder may see (a PNG without its text chunks)."""
    if not data:
        raise EmptyImageError("the photo is empty")
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"the photo is larger than {limits.max_bytes // 1_000_000} MB")
    data = check_budget(data, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height), mode = img.format, img.size, img.mode
                orientation = _exif_orientation(img.info.get("exif"))
    except Image.DecompressionBombError:
        raise ImageTooLargeError("the image header claims too many pixels") from None
    except Exception:  # PIL raises many types for garbage; all mean the same here
        raise NotAnImageError("the data is not a JPEG, PNG or WebP image") from None
    if fmt == "MPO":  # a JPEG with an embedded second image (phones' depth or gain maps)
        fmt = "JPEG"
    if fmt not in SUPPORTED_FORMATS:
        raise NotAnImageError(f"unsupported image format {fmt}; send JPEG, PNG or WebP")
    if width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f"the image claims {width}x{height} pixels, more than {limits.max_pixels / 1e6:.0f} MP"
        )
    if min(width, height) < limits.min_side:
        raise NotAnImageError(f"the image is only {width}x{height} pixels")
    raw = width * height * _bytes_per_pixel(fmt, mode, data)
    if fmt != "JPEG":  # no reduced-scale decode: every pixel is inflated at full depth
        if width * height > limits.max_full_pixels:
            raise ImageTooLargeError(
                f"the {fmt} claims {width}x{height} pixels, more than {limits.max_full_pixels / 1e6:.0f} MP "
                "(PNG and WebP are decoded at full size; send a JPEG)"
            )
        if raw > limits.max_raw_bytes:
            raise ImageTooLargeError(
                f"the {fmt} claims {width}x{height} pixels of {_bytes_per_pixel(fmt, mode, data)} bytes each "
                f"({raw / 1e6:.0f} MB decoded), more than {limits.max_raw_bytes / 1e6:.0f} MB"
            )
    return ImageHeader(fmt, width, height, orientation, raw), data


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # IHDR colour type -> samples per pixel


def _bytes_per_pixel(fmt: str, mode: str, data: bytes) -> int:
    """Bytes per pixel of the full decode, from the header (PNG: IHDR bit depth x channels)."""
    if fmt == "PNG" and len(data) >= 26 and data[12:16] == b"IHDR":
        depth, colour = data[24], data[25]
        return max(1, _PNG_CHANNELS.get(colour, 4) * max(depth, 8) // 8)
    return 4 if mode in ("RGBA", "LA", "PA") else 3


def decode_image(data: bytes, max_side: int | None = None, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode bytes into an upright BGR image.

    Parameters
    ----------
    data : bytes
        Encoded JPEG, PNG or WebP.
    max_side : int, optional
        Working resolution (long side).  JPEGs larger than twice this are
        decoded at 1/2, 1/4 or 1/8 scale, never below ``max_side``.  The image
        is not resized further here; :mod:`vision.matchers.akaze` does that.
    limits : DecodeLimits
        Byte and pixel limits, checked before decoding.

    Returns
    -------
    DecodedImage
    """
    header, data = _checked_header(data, limits)
    if header.format == "JPEG" and _jpeg_is_truncated(data):
        raise NotAnImageError("the JPEG is truncated (no end-of-image marker)")
    factor, flag = _reduction(header, max_side)
    bgr = _pixel_decoder(data, flag | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.size == 0:
        raise NotAnImageError(f"the {header.format} data could not be decoded (damaged file?)")
    bgr = apply_orientation(bgr, header.orientation)
    scale = bgr.shape[1] / header.upright_size[0]
    return DecodedImage(bgr=bgr, header=header, scale=scale if factor > 1 else 1.0)


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip ``image`` as EXIF ``orientation`` (1-8) prescribes."""
    rotate, flip = _ORIENTATION_OPS.get(orientation, (None, False))
    if flip:
        image = cv2.flip(image, 1)
    if rotate is not None:
        image = cv2.rotate(image, rotate)
    return np.ascontiguousarray(image)


def _reduction(header: ImageHeader, max_side: int | None) -> tuple[int, int]:
    """Pick the largest JPEG DCT reduction that keeps ``max_side`` pixels."""
    if header.format == "JPEG" and max_side:
        long_side = max(header.width, header.height)
        for factor, flag in _REDUCED_FLAGS:
            if long_side // factor >= max_side:
                return factor, flag
    return 1, cv2.IMREAD_COLOR


def _exif_orientation(exif_block: object) -> int:
    """The orientation tag (1-8) of a raw EXIF block; 1 when absent or broken."""
    if not isinstance(exif_block, (bytes, bytearray)) or not exif_block:
        return 1
    try:
        exif = Image.Exif()
        exif.load(bytes(exif_block))
        value = int(exif.get(0x0112, 1))
    except Exception:  # a broken EXIF block should not reject the photo
        return 1
    return value if 1 <= value <= 8 else 1


def _jpeg_is_truncated(data: bytes) -> bool:
    """True when no EOI marker follows the first scan.

    Segments before the first SOS are skipped by their declared lengths, so an
    EXIF thumbnail's own EOI does not count.  Inside entropy-coded data 0xFF is
    always stuffed, so any ``FF D9`` after the SOS is the real end marker.
    """
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return True
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan
            return data.find(b"\xff\xd9", pos + 2 + length) == -1
        pos += 2 + length
    return True


def read_image_file(
    path: str | os.PathLike[str], max_side: int | None = None, limits: DecodeLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Decode an image file upright (BGR); ``NotAnImageError`` when it is missing or unusable."""
    return decode_image(read_file_bounded(path, limits.max_bytes), max_side=max_side, limits=limits).bgr


def read_file_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a file of at most ``max_bytes``, never reading more than ``max_bytes + 1``.

    A regular file is refused from its size before it is read; anything else
    (``/dev/zero``, a pipe) is read up to one byte past the limit, so an
    endless stream costs at most ``max_bytes`` of memory and is refused.

    Raises
    ------
    NotAnImageError
        The file cannot be opened or read (the message names it and why).
    ImageTooLargeError
        It holds more than ``max_bytes``.
    """
    too_large = f"{path} is larger than {max_bytes / 1e6:g} MB, the most a photo may be"
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
                raise ImageTooLargeError(too_large)
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise NotAnImageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise ImageTooLargeError(too_large)
    return data
