"""A compact, serialisable fingerprint of a photo, for catching replays.

A fingerprint keeps what the replay check (:mod:`vision.replay.check`) needs to
recognise a photo again without keeping the photo itself:

* ``hashes``: a 64-bit DCT perceptual hash of each of the four 90-degree
  rotations of the photo (a quick similarity ranking, shown as evidence);
* ``thumb``: a small gray thumbnail (long side :data:`THUMB_SIDE`), to
  measure the pixel residual once the two photos are aligned;
* ``points`` / ``descriptors``: the strongest AKAZE keypoints of the photo
  (positions in unit coordinates of the photo), to align a new photo to
  it robustly to rotation, crop, borders and perspective.

The blob is a few KB (:func:`fingerprint_to_bytes`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from vision.matchers.akaze import DESCRIPTOR_BYTES, Features, to_gray

__all__ = [
    "FINGERPRINT_VERSION",
    "MAX_POINTS",
    "THUMB_SIDE",
    "Fingerprint",
    "fingerprint_from_bytes",
    "fingerprint_to_bytes",
    "hash_distance",
    "make_fingerprint",
    "perceptual_hash",
    "select_points",
    "thumbnail_gray",
]

FINGERPRINT_VERSION = 1
THUMB_SIDE = 160
"""Long side of the stored gray thumbnail, in pixels."""
MAX_POINTS = 192
"""Keypoints kept in a fingerprint (61-byte descriptor + 4 bytes position each): 192 leave a dozen or more
after a 30-degree rotation crops a third of the frame (96 did not); stored fingerprints of 96 still read."""
_THUMB_JPEG_QUALITY = 92
_MAGIC = b"RPF1"
_ANCHOR = b"ANCH"
_HEADER = struct.Struct("<4sHHHHHHI")  # magic, version, work w, h, thumb w, h, n points, jpeg bytes


@dataclass(frozen=True)
class Fingerprint:
    """What is remembered of a photo.

    Attributes
    ----------
    hashes : np.ndarray
        ``(4,)`` uint64 perceptual hashes of the photo rotated by 0, 90, 180
        and 270 degrees clockwise.
    thumb : np.ndarray
        ``(h, w)`` uint8 gray thumbnail, long side :data:`THUMB_SIDE`.
    points : np.ndarray
        ``(K, 2)`` float32 keypoint positions in unit coordinates (x / width,
        y / height of the photo), K <= :data:`MAX_POINTS`.
    descriptors : np.ndarray
        ``(K, 61)`` uint8 AKAZE descriptors of those keypoints.
    size : tuple[int, int]
        ``(width, height)`` of the working image the keypoints came from.
    anchor : np.ndarray or None
        ``(3, 3)`` homography from the reference's working image to this
        photo's, when this photo is an accepted proof (its verification's);
        composed with a later verification's it aligns the proof with a new
        photo that its own keypoints cannot (a blurred screen photo).
    anchor_key : str
        The reference ``anchor`` belongs to ('' without anchor).
    """

    hashes: np.ndarray
    thumb: np.ndarray
    points: np.ndarray
    descriptors: np.ndarray
    size: tuple[int, int]
    anchor: np.ndarray | None = None
    anchor_key: str = ""

    def __len__(self) -> int:
        return int(self.points.shape[0])


def thumbnail_gray(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """``(H, W[, 3])`` uint8 -> ``(h, w)`` uint8 gray with long side ``side`` (area resampling)."""
    gray = to_gray(image)
    h, w = gray.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def perceptual_hash(gray: np.ndarray) -> int:
    """64-bit pHash: signs of the 8x8 lowest DCT coefficients of a 32x32 resize vs their median."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    # The DC term carries brightness only; leaving it out of the median
    # makes the hash indifferent to a global brightness change.
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def rotation_hashes(gray: np.ndarray) -> np.ndarray:
    """``(4,)`` uint64 pHashes of ``gray`` rotated by 0, 90, 180, 270 degrees clockwise."""
    rotations = (
        gray,
        cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE),
        cv2.rotate(gray, cv2.ROTATE_180),
        cv2.rotate(gray, cv2.ROTATE_90_COUNTERCLOCKWISE),
    )
    return np.array([perceptual_hash(r) for r in rotations], np.uint64)


def hash_distance(a: Fingerprint, b: Fingerprint) -> int:
    """Smallest Hamming distance (0-64) between ``b``'s upright hash and any rotation of ``a``."""
    target = int(b.hashes[0])
    return min(bin(int(h) ^ target).count("1") for h in a.hashes)


def select_points(features: Features, k: int = MAX_POINTS) -> np.ndarray:
    """Indices of up to ``k`` strong keypoints spread over a 4x4 grid of the photo.

    Features are sorted strongest first; taking the strongest per cell
    (round robin) keeps the homography well conditioned when one textured
    corner would otherwise hold every keypoint.

    Returns
    -------
    np.ndarray
        ``(min(k, N),)`` int64 indices into ``features``.
    """
    n = len(features)
    if n <= k:
        return np.arange(n)
    w, h = features.image_size
    cx = np.minimum((features.points[:, 0] * 4 / max(w, 1)).astype(int), 3)
    cy = np.minimum((features.points[:, 1] * 4 / max(h, 1)).astype(int), 3)
    cell = cy * 4 + cx
    rank = np.zeros(n, np.int64)  # rank of each keypoint within its cell (0 = strongest)
    for c in range(16):
        members = np.flatnonzero(cell == c)
        rank[members] = np.arange(members.size)
    order = np.lexsort((np.arange(n), rank))
    return np.sort(order[:k])


def make_fingerprint(working: np.ndarray, features: Features, k: int = MAX_POINTS) -> Fingerprint:
    """Fingerprint of a photo from its working image and its features.

    Parameters
    ----------
    working : np.ndarray
        ``(H, W, 3)`` BGR or ``(H, W)`` gray uint8 working image.
    features : Features
        Its AKAZE features (computed on ``working``).
    """
    thumb = thumbnail_gray(working)
    idx = select_points(features, k)
    w, h = features.image_size
    points = features.points[idx] / np.array([w, h], np.float32)
    return Fingerprint(
        hashes=rotation_hashes(thumb),
        thumb=thumb,
        points=points.astype(np.float32).reshape(-1, 2),
        descriptors=np.ascontiguousarray(features.descriptors[idx]).reshape(-1, DESCRIPTOR_BYTES),
        size=(int(w), int(h)),
    )


def fingerprint_to_bytes(fp: Fingerprint) -> bytes:
    """Serialise to a compact binary blob (thumbnail as JPEG, positions as uint16)."""
    ok, jpeg = cv2.imencode(".jpg", fp.thumb, [cv2.IMWRITE_JPEG_QUALITY, _THUMB_JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 gray image
        raise ValueError("cannot encode the thumbnail")
    th, tw = fp.thumb.shape
    header = _HEADER.pack(_MAGIC, FINGERPRINT_VERSION, *fp.size, tw, th, len(fp), len(jpeg))
    positions = np.clip(np.round(fp.points * 65535), 0, 65535).astype("<u2")
    parts = [header, fp.hashes.astype("<u8").tobytes(), jpeg.tobytes(), positions.tobytes(), fp.descriptors.tobytes()]
    if fp.anchor is not None:
        key = fp.anchor_key.encode("utf-8")[:255]
        parts += [_ANCHOR, np.asarray(fp.anchor, "<f8").reshape(9).tobytes(), bytes([len(key)]), key]
    return b"".join(parts)


def fingerprint_from_bytes(blob: bytes) -> Fingerprint:
    """Inverse of :func:`fingerprint_to_bytes`; ``ValueError`` for anything else."""
    try:
        magic, version, ww, wh, tw, th, n, n_jpeg = _HEADER.unpack_from(blob, 0)
    except struct.error:
        raise ValueError("not a fingerprint blob: too short") from None
    if magic != _MAGIC or version != FINGERPRINT_VERSION:
        raise ValueError(f"not a fingerprint blob (magic {magic!r}, version {version})")
    offsets = np.cumsum([_HEADER.size, 32, n_jpeg, 4 * n, DESCRIPTOR_BYTES * n])
    if len(blob) < offsets[-1] or n > 4 * MAX_POINTS or min(ww, wh, tw, th) == 0:
        raise ValueError("not a fingerprint blob: inconsistent sizes")
    anchor, anchor_key = _read_anchor(blob, int(offsets[-1]))
    hashes = np.frombuffer(blob, "<u8", 4, offsets[0]).astype(np.uint64)
    thumb = cv2.imdecode(np.frombuffer(blob, np.uint8, n_jpeg, offsets[1]), cv2.IMREAD_GRAYSCALE)
    if thumb is None or thumb.shape != (th, tw):
        raise ValueError("not a fingerprint blob: bad thumbnail")
    points = np.frombuffer(blob, "<u2", 2 * n, offsets[2]).reshape(n, 2).astype(np.float32) / 65535.0
    descriptors = np.frombuffer(blob, np.uint8, DESCRIPTOR_BYTES * n, offsets[3]).reshape(n, DESCRIPTOR_BYTES)
    return Fingerprint(hashes, thumb, points, descriptors.copy(), (ww, wh), anchor, anchor_key)


def _read_anchor(blob: bytes, start: int) -> tuple[np.ndarray | None, str]:
    """The optional anchor trailer at ``start`` (nothing, or ``ANCH`` + 9 float64 + key length + key)."""
    if len(blob) == start:
        return None, ""
    end = start + len(_ANCHOR) + 72 + 1
    if len(blob) < end or blob[start : start + len(_ANCHOR)] != _ANCHOR or len(blob) != end + blob[end - 1]:
        raise ValueError("not a fingerprint blob: bad trailer")
    anchor = np.frombuffer(blob, "<f8", 9, start + len(_ANCHOR)).reshape(3, 3).astype(np.float64)
    if not np.all(np.isfinite(anchor)):
        raise ValueError("not a fingerprint blob: bad anchor")
    try:
        key = blob[end:].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not a fingerprint blob: bad anchor key") from None
    return anchor, key
