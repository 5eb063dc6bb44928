"""How the S3 store reads botocore's failures: a missing object, or an unavailable store with a reason.

Every botocore failure becomes a store error a caller can act on: network
trouble and timeouts, a missing bucket, denied access and missing credentials
are :class:`~vision.store.base.StoreUnavailableError` with a ``reason``; a
missing object is :class:`NotFound` (the store turns it into
:class:`~vision.store.base.ReferenceNotFoundError` where that is what it means).
Messages carry the error code and text S3 returned, never credentials.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from vision.store.base import StoreUnavailableError

__all__ = ["NotFound", "is_botocore", "translate"]

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "AccountProblem",
    }
)


class NotFound(Exception):
    """Internal: the object does not exist (translated by the caller)."""


def translate(exc: Exception, action: str, bucket: str) -> Exception:
    """Map a botocore exception to the store error a caller can act on.

    Parameters
    ----------
    exc : Exception
        Raised by a botocore call (or while streaming a response body).
    action : str
        What the store was doing, e.g. ``"load the image of 'bob/...'"``.
    bucket : str
        Named in the message.

    Returns
    -------
    Exception
        :class:`NotFound` for a missing object, otherwise a
        :class:`StoreUnavailableError` whose message names the cause.
    """
    where = f"S3 bucket {bucket!r}: cannot {action}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"{code}: {message}" if message else code
        if code in _NOT_FOUND_CODES:
            return NotFound(detail)
        if code == "NoSuchBucket":
            return StoreUnavailableError(f"{where}: the bucket does not exist", reason="no-bucket")
        if code in _DENIED_CODES or status == 403:
            return StoreUnavailableError(
                f"{where}: access denied ({detail}); check the credentials and the bucket policy",
                reason="access-denied",
            )
        if code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"} or (
            isinstance(status, int) and status >= 500
        ):
            return StoreUnavailableError(f"{where}: server error ({detail})", reason="server-error")
        return StoreUnavailableError(f"{where}: {detail}", reason="error")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StoreUnavailableError(
            f"{where}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or configure a profile or role)",
            reason="no-credentials",
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return StoreUnavailableError(f"{where}: the endpoint timed out ({exc})", reason="timeout")
    if isinstance(exc, EndpointConnectionError):
        return StoreUnavailableError(f"{where}: the endpoint is unreachable ({exc})", reason="unreachable")
    if isinstance(exc, BotoCoreError):
        # ConnectionClosedError, ResponseStreamingError, proxy and SSL errors...
        return StoreUnavailableError(f"{where}: {type(exc).__name__}: {exc}", reason="unreachable")
    return exc


def is_botocore(exc: BaseException) -> bool:
    return isinstance(exc, (BotoCoreError, ClientError))
