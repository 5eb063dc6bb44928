"""What a reference keeps of the photo: a re-encoded JPEG at the working resolution, not the bytes as sent.

A client may send up to 20 MB (a 48 MP photo, or a small one padded with
comment segments); nothing after registration needs more than the working
resolution (AKAZE and the global descriptor run at 1000 px, XFeat at 640 px,
the replay fingerprint at 160 px), so the reference stores the upright image
the features were computed on, re-encoded as a JPEG (quality 90: about
0.1-0.4 MB for a 1000 px photo).  That bounds what each registration costs
the store, and drops every metadata segment (EXIF with its GPS position,
XMP, comments) on the way.  ``keep_original`` stores the bytes as sent
instead (``VISION_STORE_ORIGINAL=1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["StoredPhoto", "photo_to_store"]

JPEG_QUALITY = 90


@dataclass(frozen=True)
class StoredPhoto:
    """The bytes a reference keeps, their type and pixel size."""

    data: bytes
    content_type: str
    width: int
    height: int


def photo_to_store(
    data: bytes,
    working_image: np.ndarray,
    content_type: str,
    original_size: tuple[int, int],
    *,
    keep_original: bool = False,
) -> StoredPhoto:
    """The photo as the store keeps it.

    Parameters
    ----------
    data : bytes
        The photo as the client sent it.
    working_image : np.ndarray
        ``(H, W, 3)`` BGR uint8, upright, at the working resolution (what the features saw).
    content_type : str
        Type of ``data`` (kept with it under ``keep_original``).
    original_size : tuple of int
        ``(width, height)`` of ``data`` upright.
    keep_original : bool
        Store ``data`` unchanged.

    Returns
    -------
    StoredPhoto
        By default a baseline JPEG of ``working_image`` (no metadata, upright: no EXIF orientation needed).
    """
    if keep_original:
        return StoredPhoto(data, content_type, *original_size)
    ok, encoded = cv2.imencode(".jpg", working_image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV cannot fail on a uint8 BGR image
        raise ValueError("the reference photo could not be re-encoded")
    height, width = working_image.shape[:2]
    return StoredPhoto(encoded.tobytes(), "image/jpeg", width, height)
