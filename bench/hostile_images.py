"""Hostile photos built on the fly: what the decode budget (:mod:`vision.image.decode_budget`) must refuse.

Used by ``bench/bench_decode_budget.py`` (time to refuse) and the tests; nothing
here is bundled, every file is generated from a small random image.

- :func:`scan_flood_jpeg`: a valid progressive JPEG whose last scan is repeated
  ``repeats`` times (issue 22's attack: 20,000 copies of a 117-byte scan cost
  libjpeg 85 s at 8000x8000, each scan walks the whole coefficient buffer);
- :func:`text_bomb_png`: a valid PNG followed by ``chunks`` zTXt chunks after
  IDAT, each inflating to ``inflated`` bytes (900 x 8 MB peaked a decoder at
  6.85 GB).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _random_image(width: int, height: int, seed: int = 22, flat_blocks: bool = False) -> Image.Image:
    """A textured RGB image: noise smoothed over 8 px, or (``flat_blocks``) one colour per 8x8 block.

    Flat blocks have no AC coefficients, so a progressive JPEG's AC scans are a
    few bytes of end-of-band runs: the attacker's 117-byte scans.
    """
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    resample = Image.Resampling.NEAREST if flat_blocks else Image.Resampling.BILINEAR
    return Image.fromarray(small).resize((width, height), resample)


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of every segment of a JPEG; a scan's ``end`` includes its entropy data."""
    out: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 2 <= len(data):
        marker = data[pos + 1]
        if marker == 0xD9:
            out.append((marker, pos, pos + 2))
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if marker == 0xDA:
            while True:  # entropy data runs to the next marker that is not stuffing or a restart
                end = data.index(b"\xff", end)
                if data[end + 1] not in (0x00, *range(0xD0, 0xD8)):
                    break
                end += 2
        out.append((marker, pos, end))
        pos = end
    return out


def scan_flood_jpeg(width: int = 1024, height: int = 1024, repeats: int = 2000) -> bytes:
    """A progressive JPEG whose last scan (and its tables) is repeated ``repeats`` times before EOI.

    libjpeg accepts the repeated refinement scans (a warning, not an error) and
    runs every one over the whole image, so the decode time grows with
    ``repeats`` while the file grows by ~100 bytes a scan.
    """
    buf = io.BytesIO()
    _random_image(width, height, flat_blocks=True).save(buf, "JPEG", quality=90, progressive=True, subsampling=0)
    data = buf.getvalue()
    segments = jpeg_segments(data)
    last_scan = max(i for i, (marker, _s, _e) in enumerate(segments) if marker == 0xDA)
    start = segments[last_scan][1]
    while last_scan > 0 and segments[last_scan - 1][0] == 0xC4:  # its Huffman tables travel with it
        last_scan -= 1
        start = segments[last_scan][1]
    scan = data[start : segments[-1][1]]
    eoi = segments[-1][1]
    return data[:eoi] + scan * repeats + data[eoi:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def text_bomb_png(
    width: int = 256, height: int = 256, chunks: int = 900, inflated: int = 8_000_000, before_idat: bool = False
) -> bytes:
    """A valid PNG carrying ``chunks`` zTXt chunks (after IDAT unless ``before_idat``), each inflating to ``inflated``."""
    buf = io.BytesIO()
    _random_image(width, height).save(buf, "PNG")
    data = buf.getvalue()
    bomb = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * inflated, 9))
    texts = bomb * chunks
    split = data.index(b"IDAT") - 4 if before_idat else len(data) - 12  # before IDAT's length, or before IEND
    return data[:split] + texts + data[split:]
