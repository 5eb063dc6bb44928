"""A decode budget in work, not only in pixels: bounds read from the container before any decoder runs.

Pixel limits (:mod:`vision.image.imageio`) stop decompression bombs, but a small
image can still cost unbounded work:

- a progressive JPEG may repeat a scan thousands of times; libjpeg runs every
  scan over the whole coefficient buffer (issue 22: 20,000 scans of 117 bytes,
  85 s of one core at 8000x8000), and a multi-scan JPEG needs that whole
  buffer (2 bytes per coefficient) in memory, whatever scale it is decoded at;
- a PNG may carry hundreds of zTXt / iTXt chunks, each inflating to megabytes
  (900 after IDAT: 6.85 GB peak RSS);
- any format may carry megabytes of metadata segments (APPn, COM, EXIF).

:func:`check_budget` walks the segment / chunk list (JPEG markers, PNG chunks,
WebP RIFF chunks) with a bounded number of steps, refuses with an
:class:`~vision.core.errors.ImageTooComplexError` naming the cause and the limit,
and returns the bytes the decoders may see: for a PNG only the chunks needed
for pixels and orientation (IHDR, PLTE, tRNS, eXIf, IDAT, IEND), so no text
chunk is ever inflated by Pillow or libpng.  The walk is a few thousand
``bytes.find`` / regex steps in C at most: well under a millisecond for a
phone photo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from vision.core.errors import ImageTooComplexError, NotAnImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks a PNG needs for its pixels (critical chunks, transparency) and its orientation (eXIf).
PNG_KEPT_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"eXIf", b"IDAT", b"IEND"})
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a marker: not byte stuffing, a restart or a fill
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH"})


class BudgetLimits(Protocol):
    """The fields of :class:`vision.image.imageio.DecodeLimits` this module reads (read-only: it is frozen)."""

    @property
    def max_jpeg_scans(self) -> int: ...
    @property
    def max_coefficient_bytes(self) -> int: ...
    @property
    def max_chunks(self) -> int: ...
    @property
    def max_metadata_chunks(self) -> int: ...
    @property
    def max_metadata_bytes(self) -> int: ...
    @property
    def max_exif_bytes(self) -> int: ...


@dataclass
class _Tally:
    """Running counts of one walk; :meth:`metadata` refuses as soon as a bound is passed."""

    limits: BudgetLimits
    kind: str
    steps: int = 0
    metadata_chunks: int = 0
    metadata_bytes: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_chunks:
            raise ImageTooComplexError(
                f"the {self.kind} has more than {self.limits.max_chunks} segments or chunks, "
                f"at most {self.limits.max_chunks}"
            )

    def metadata(self, name: str, size: int) -> None:
        self.metadata_chunks += 1
        self.metadata_bytes += size
        if self.metadata_chunks > self.limits.max_metadata_chunks:
            raise ImageTooComplexError(
                f"the {self.kind} has more than {self.limits.max_metadata_chunks} metadata chunks "
                f"({name} and the like), at most {self.limits.max_metadata_chunks}"
            )
        if self.metadata_bytes > self.limits.max_metadata_bytes:
            raise ImageTooComplexError(
                f"the {self.kind} carries more than {self.limits.max_metadata_bytes / 1e6:g} MB of metadata "
                f"({name} and the like), at most {self.limits.max_metadata_bytes / 1e6:g} MB"
            )

    def exif(self, size: int) -> None:
        if size > self.limits.max_exif_bytes:
            raise ImageTooComplexError(
                f"the {self.kind}'s EXIF block is {size} bytes, at most {self.limits.max_exif_bytes}"
            )


def check_budget(data: bytes, limits: BudgetLimits) -> bytes:
    """Refuse ``data`` when its container promises too much work; return the bytes decoders may see.

    Parameters
    ----------
    data : bytes
        The encoded photo (already under the byte limit).
    limits : BudgetLimits
        The budget (:class:`vision.image.imageio.DecodeLimits`).

    Returns
    -------
    bytes
        ``data`` itself for JPEG, WebP and anything unrecognised (the header
        reader refuses those); for a PNG, ``data`` without its ancillary
        chunks other than tRNS and eXIf, cut after IEND.

    Raises
    ------
    ImageTooComplexError
        Too many scans, segments, metadata chunks or metadata bytes, an EXIF
        block too large, or a multi-scan JPEG whose coefficient buffer is too large.
    NotAnImageError
        A PNG whose chunk list runs past the end of the data.
    """
    if data.startswith(b"\xff\xd8"):
        check_jpeg(data, limits)
        return data
    if data.startswith(PNG_SIGNATURE):
        return check_png(data, limits)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        check_webp(data, limits)
    return data


def check_jpeg(data: bytes, limits: BudgetLimits) -> None:
    """Walk a JPEG's markers to EOI: scans, segments, APPn/COM bytes, EXIF size, coefficient memory.

    Entropy-coded data is skipped with one regex search per scan (the next
    ``FF xx`` that is not stuffing or a restart marker), so the walk costs one
    step per segment, never per byte in Python.
    """
    tally = _Tally(limits, "JPEG")
    pos, n, scans, progressive, coefficients = 2, len(data), 0, False, 0
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return  # garbage between segments: the decoder refuses it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image: what follows (MPF images, gain maps) is not decoded
            return
        if marker in _STANDALONE:
            pos += 2
            continue
        tally.step()
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF:
            progressive = marker in _PROGRESSIVE_SOF
            coefficients = _coefficient_bytes(data[pos + 4 : pos + 2 + length])
            if progressive:
                _check_coefficients(coefficients, limits, "a progressive JPEG")
        elif marker == 0xDA:
            scans += 1
            if scans > limits.max_jpeg_scans:
                kind = "progressive JPEG" if progressive else "JPEG"
                raise ImageTooComplexError(
                    f"{kind} with more than {limits.max_jpeg_scans} scans, at most {limits.max_jpeg_scans}"
                )
            if scans == 2 and not progressive:
                _check_coefficients(coefficients, limits, "a multi-scan JPEG")
            found = _ENTROPY_END.search(data, pos + 2 + length)
            if found is None:
                return  # truncated: the decoder's own check refuses it
            pos = found.start()
            continue
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            tally.metadata(f"APP{marker - 0xE0}" if marker != 0xFE else "COM", length + 2)
            if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
                tally.exif(length - 8)
        pos += 2 + length


def _coefficient_bytes(sof: bytes) -> int:
    """Bytes of the whole-image DCT coefficient buffer a SOF payload implies (2 per coefficient).

    A multi-scan (progressive or non-interleaved) JPEG is decoded through this
    buffer at full size, whatever the output scale: per component,
    ``ceil(ceil(W * h / hmax) / 8) * ceil(ceil(H * v / vmax) / 8)`` blocks of 64 coefficients.
    """
    if len(sof) < 6:
        return 0
    height, width, count = int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big"), sof[5]
    factors = [(sof[7 + 3 * i] >> 4, sof[7 + 3 * i] & 15) for i in range(count) if 8 + 3 * i <= len(sof)]
    if not factors:
        return 0
    hmax, vmax = max(h for h, _v in factors) or 1, max(v for _h, v in factors) or 1
    blocks = sum(
        _ceil_div(_ceil_div(width * h, hmax), 8) * _ceil_div(_ceil_div(height * v, vmax), 8) for h, v in factors
    )
    return blocks * 64 * 2


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_coefficients(size: int, limits: BudgetLimits, kind: str) -> None:
    if size > limits.max_coefficient_bytes:
        raise ImageTooComplexError(
            f"{kind} needs {size / 1e6:.0f} MB of DCT coefficients to decode, at most "
            f"{limits.max_coefficient_bytes / 1e6:.0f} MB (send a baseline JPEG)"
        )


def check_png(data: bytes, limits: BudgetLimits) -> bytes:
    """Walk a PNG's chunks to IEND, bound the ancillary ones, and return the PNG with only the kept chunks.

    Every chunk is one step (IDAT included, so a file of a million 1-byte IDAT
    chunks is refused too); ancillary chunks (lower-case first letter: tEXt,
    zTXt, iTXt, iCCP, ...), wherever they are, count as metadata.
    """
    tally = _Tally(limits, "PNG")
    pos, n = len(PNG_SIGNATURE), len(data)
    kept: list[tuple[int, int]] = []
    dropped = False
    while True:
        if pos + 8 > n:
            raise NotAnImageError("the PNG is truncated (its chunk list ends before IEND)")
        tally.step()
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise NotAnImageError(f"the PNG is truncated (its {kind.decode('latin-1')!r} chunk runs past the end)")
        if kind[:1].islower():
            tally.metadata(kind.decode("latin-1"), length + 12)
            if kind == b"eXIf":
                tally.exif(length)
        if kind in PNG_KEPT_CHUNKS:
            kept.append((pos, end))
        else:
            dropped = True
        pos = end
        if kind == b"IEND":
            break
    if not dropped and pos == n:
        return data
    return PNG_SIGNATURE + b"".join(data[start:end] for start, end in kept)


def check_webp(data: bytes, limits: BudgetLimits) -> None:
    """Walk a WebP's RIFF chunks: count, metadata (EXIF, XMP, ICCP, animation frames) and EXIF size."""
    tally = _Tally(limits, "WebP")
    pos, n = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while pos + 8 <= n:
        tally.step()
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind not in _WEBP_IMAGE_CHUNKS:
            tally.metadata(kind.decode("latin-1").strip(), size + 8)
            if kind == b"EXIF":
                tally.exif(size)
        pos += 8 + size + (size & 1)
