"""The S3 store's latest pointer as a compare-and-swap: S3 conditional writes on ``<user>/latest.json``.

A pointer update reads the object and its ETag, then writes with
``If-Match: <ETag>`` (or ``If-None-Match: *`` when there was none); removal
is a ``DeleteObject`` with ``If-Match``.  S3 answers ``412 Precondition
Failed`` when another writer changed the object in between (``409
ConditionalRequestConflict`` when two conditional writes race), and the
store re-reads and decides again.  AWS S3 supports both headers on general
purpose buckets, and so do moto and MinIO; an endpoint that ignored them
would fall back to last-writer-wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from vision.store.s3_errors import NotFound

__all__ = ["CONFLICT_CODES", "read_versioned", "swap"]

CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})

Call = Callable[..., Any]
"""The store's ``_call(action, fn, /, *, not_found=False, **kwargs)``: one botocore call, errors translated."""


def read_versioned(call: Call, client: Any, bucket: str, key: str, action: str) -> tuple[bytes | None, str | None]:
    """``(bytes, ETag)`` of the object, ``(None, None)`` when it does not exist (one GET)."""

    def fetch() -> tuple[bytes, str]:
        response = client.get_object(Bucket=bucket, Key=key)
        with response["Body"] as body:
            return body.read(), str(response["ETag"])

    try:
        return call(action, fetch, not_found=True)
    except NotFound:
        return None, None


def swap(call: Call, client: Any, bucket: str, key: str, raw: bytes | None, expected: str | None, action: str) -> bool:
    """Write ``raw`` (``None``: delete) iff the object's ETag is still ``expected`` (``None``: absent); False on conflict."""
    if raw is None and expected is None:
        return True  # nothing to remove, as expected
    if raw is None:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "IfMatch": expected}
        fn = client.delete_object
    else:
        condition = {"IfMatch": expected} if expected is not None else {"IfNoneMatch": "*"}
        request = {"Bucket": bucket, "Key": key, "Body": raw, "ContentType": "application/json", **condition}
        fn = client.put_object

    def conditional() -> bool:
        try:
            fn(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if str(error.get("Code", "")) in CONFLICT_CODES or status in ("409", "412"):
                return False
            if str(error.get("Code", "")) in ("NoSuchKey", "404"):
                return False  # If-Match on a pointer removed meanwhile: re-read
            raise
        return True

    return bool(call(action, conditional))
