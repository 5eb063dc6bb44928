"""The reference store's errors: one module below ``base`` and ``ids``, so neither imports the other for them."""

from __future__ import annotations

from vision.core.errors import VisionError

__all__ = [
    "CorruptReferenceError",
    "InvalidUserIdError",
    "ReferenceNotFoundError",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailableError",
]


class StoreError(VisionError):
    """Base class of every error raised by a reference store."""


class InvalidUserIdError(StoreError, ValueError):
    """A user id or reference key is malformed or unsafe (e.g. ``../x``)."""


class ReferenceNotFoundError(StoreError, KeyError):
    """No reference has this key (or the user has no reference)."""

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; keep the message readable.
        return str(self.args[0]) if self.args else "reference not found"


class StoreUnavailableError(StoreError):
    """The backend cannot be used now: unreachable, timeout, permission, no bucket, disk.

    Attributes
    ----------
    reason : str
        A short machine-readable cause: ``"unreachable"``, ``"timeout"``,
        ``"access-denied"``, ``"no-bucket"``, ``"no-credentials"``,
        ``"server-error"``, ``"io-error"``, ``"contention"`` (the latest pointer kept
        changing under concurrent writers) or ``"error"``.  The message says the
        same for humans and never contains credentials.
    """

    def __init__(self, message: str, *, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class CorruptReferenceError(StoreError):
    """A reference's metadata is unreadable, or its image blob is missing."""


class StoreConfigError(StoreError, ValueError):
    """The store settings are incomplete or invalid (e.g. ``s3`` without a bucket)."""
