"""A remembered photo as one tile of a collage: found by the tiles' perceptual hashes, aligned on the pixels.

A collage app squeezes the whole photo into a tile (a half of the frame
changes its aspect by 2x), which AKAZE descriptors do not survive: the
fingerprint's keypoints find nothing.  The pHash does survive, because it
is computed on a 32x32 resize of whatever it is given: the hash of the
tile that holds the photo is the photo's hash.  So each candidate tile of
the new photo (the two halves across its long side, the four quadrants)
is hashed; a tile within :data:`TILE_HASH` bits of the remembered photo's
hash is aligned by the rectangle-to-rectangle map, refined on the pixels
(:func:`vision.replay.refine.refine_homography`), and then judged by the
same content rule as any alignment.
"""

from __future__ import annotations

import functools

import numpy as np

from vision.replay.fingerprint import Fingerprint, perceptual_hash

__all__ = ["TILE_HASH", "rect_homography", "tile_boxes", "tile_candidates"]

TILE_HASH = 10
"""pHash distance (of 64) under which a tile may hold the remembered photo: on the edit set the photo's own
tile is 0-6 away, the closest tile of a genuine photo of the scene 14 or more; 10 sits between."""
_MIN_TILE_PX = 24  # a tile thumbnail side under which the hash says nothing


def tile_boxes(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The collage tiles of a ``(width, height)`` frame: ``(x0, y0, x1, y1)``, halves across the long side then quadrants."""
    w, h = size
    if w < 2 * _MIN_TILE_PX or h < 2 * _MIN_TILE_PX:
        return []
    halves = [(0, 0, w // 2, h), (w // 2, 0, w, h)] if w >= h else [(0, 0, w, h // 2), (0, h // 2, w, h)]
    quads = [(x0, y0, x0 + w // 2, y0 + h // 2) for y0 in (0, h // 2) for x0 in (0, w // 2)]
    return halves + quads


def rect_homography(src: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """``(3, 3)`` map of a ``(width, height)`` frame's pixel centres onto the box ``(x0, y0, x1, y1)``'s."""
    sx, sy = (box[2] - box[0]) / src[0], (box[3] - box[1]) / src[1]
    return np.array([[sx, 0.0, box[0] + 0.5 * sx - 0.5], [0.0, sy, box[1] + 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def tile_candidates(candidate: Fingerprint, query_thumb: np.ndarray) -> list[np.ndarray]:
    """Rough homographies (candidate thumbnail -> ``query_thumb`` px) onto the tiles whose pHash is close.

    Only the upright hash is compared (a collage keeps its tiles upright);
    closest tile first.  ``query_thumb`` is ``(h, w)`` uint8.
    """
    h, w = query_thumb.shape
    target = int(candidate.hashes[0])
    close = []
    for box, tile_hash in zip(tile_boxes((w, h)), _tile_hashes(query_thumb.tobytes(), w, h), strict=True):
        distance = bin(tile_hash ^ target).count("1")
        if distance <= TILE_HASH:
            close.append((distance, box))
    ch, cw = candidate.thumb.shape
    return [rect_homography((cw, ch), box) for _, box in sorted(close)]


@functools.lru_cache(maxsize=8)
def _tile_hashes(thumb: bytes, w: int, h: int) -> tuple[int, ...]:
    """The pHash of each tile of a ``(h, w)`` uint8 thumbnail (its bytes): computed once per new photo.

    The check runs against several candidates in a row; the new photo's tiles are the same for each.
    """
    gray = np.frombuffer(thumb, np.uint8).reshape(h, w)
    return tuple(perceptual_hash(gray[y0:y1, x0:x1]) for x0, y0, x1, y1 in tile_boxes((w, h)))
