"""What every store's ``put`` checks and stamps before anything is written: arguments, content types, the time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from vision.store.ids import validate_user_id

__all__ = ["CONTENT_TYPES", "check_put_args", "utc_now"]

#: Image types a reference may have; the value is stored and served back.
CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


_clock_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """Return the current UTC time, strictly increasing within this process.

    Two ``put`` calls in the same clock tick (coarse clocks) would otherwise tie
    and "newest first" would fall back to the random key order.
    """
    global _last_stamp
    with _clock_lock:
        now = datetime.now(UTC)
        if now <= _last_stamp:
            now = _last_stamp + timedelta(microseconds=1)
        _last_stamp = now
        return now


def check_put_args(
    user_id: str,
    image: bytes,
    features: bytes,
    *,
    n_keypoints: int,
    width: int,
    height: int,
    content_type: str,
) -> tuple[bytes, bytes]:
    """Validate the arguments of :meth:`ReferenceStore.put` before anything is written.

    Returns
    -------
    tuple of bytes
        ``image`` and ``features`` as immutable ``bytes`` (``bytearray`` and
        ``memoryview`` are accepted and copied).

    Raises
    ------
    InvalidUserIdError
        Bad user id.
    ValueError, TypeError
        Empty image, non-bytes blobs, negative or non-integer sizes, unknown
        content type.
    """
    validate_user_id(user_id)
    blobs = []
    for name, blob in (("image", image), ("features", features)):
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError(f"{name} must be bytes, not {type(blob).__name__}")
        blobs.append(bytes(blob))
    if not blobs[0]:
        raise ValueError("image is empty")
    for name, value, minimum in (
        ("n_keypoints", n_keypoints, 0),
        ("width", width, 1),
        ("height", height, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if content_type not in CONTENT_TYPES:
        raise ValueError(f"content_type must be one of {sorted(CONTENT_TYPES)}, got {content_type!r}")
    return blobs[0], blobs[1]
