"""The reference-store interface shared by the local and the S3 backend.

A *reference* is what the register flow keeps for a user: the photo bytes, an
opaque features blob (serialised by the core so verification need not
recompute AKAZE), and a small JSON metadata document.  The metadata is written
last and deleted first: it is the commit marker, so a reference exists exactly
when its metadata does, and an interrupted ``put`` leaves nothing listed.
"""

from __future__ import annotations

import builtins
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from vision.store.errors import (
    CorruptReferenceError,
    InvalidUserIdError,
    ReferenceNotFoundError,
    StoreConfigError,
    StoreError,
    StoreUnavailableError,
)
from vision.store.ids import split_key, validate_user_id
from vision.store.put_args import CONTENT_TYPES, check_put_args, utc_now

__all__ = [
    "CONTENT_TYPES",
    "CorruptReferenceError",
    "InvalidUserIdError",
    "ReferenceNotFoundError",
    "ReferenceRecord",
    "ReferenceStore",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailableError",
    "check_put_args",
    "decode_metadata",
    "encode_metadata",
    "newest_first",
    "utc_now",
]

#: Version of the metadata JSON layout, stored in every document.
METADATA_VERSION = 1


@dataclass(frozen=True)
class ReferenceRecord:
    """Metadata of one stored reference photo.

    Attributes
    ----------
    key : str
        ``"<user_id>/<uuid4 hex>"``; random, unguessable, collision-free.
    user_id : str
        Owner of the reference.
    created_at : datetime
        Timezone-aware UTC time of the ``put``.
    n_keypoints : int
        Keypoints counted at registration.
    width, height : int
        Pixel size of the stored image.
    content_type : str
        One of :data:`CONTENT_TYPES`.
    """

    key: str
    user_id: str
    created_at: datetime
    n_keypoints: int
    width: int
    height: int
    content_type: str

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-safe dict (``created_at`` as an ISO 8601 string)."""
        return {
            "key": self.key,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "n_keypoints": self.n_keypoints,
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
        }

    @classmethod
    def from_json(cls, data: Any) -> ReferenceRecord:
        """Build a record from :meth:`to_json` output, checking every field.

        Parameters
        ----------
        data : Any
            A decoded JSON document.

        Returns
        -------
        ReferenceRecord

        Raises
        ------
        CorruptReferenceError
            When a field is missing or has the wrong type or value.
        """
        if not isinstance(data, dict):
            raise CorruptReferenceError("reference metadata is not a JSON object")
        try:
            key = data["key"]
            user_id, _ = split_key(key)
            if data["user_id"] != user_id:
                raise CorruptReferenceError(f"reference metadata of {key!r} names another user")
            created_at = datetime.fromisoformat(data["created_at"])
            if created_at.tzinfo is None:
                raise CorruptReferenceError(f"reference metadata of {key!r} has a naive created_at")
            ints = {name: data[name] for name in ("n_keypoints", "width", "height")}
            content_type = data["content_type"]
        except (KeyError, TypeError, ValueError) as exc:
            # InvalidUserIdError is a ValueError: a bad key inside the document
            # is corruption, not bad caller input.
            raise CorruptReferenceError(f"reference metadata is malformed: {exc}") from exc
        for name, value in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CorruptReferenceError(f"reference metadata of {key!r} has a bad {name}: {value!r}")
        if content_type not in CONTENT_TYPES:
            raise CorruptReferenceError(f"reference metadata of {key!r} has a bad content_type: {content_type!r}")
        return cls(
            key=key,
            user_id=user_id,
            created_at=created_at.astimezone(UTC),
            content_type=content_type,
            **ints,
        )


def encode_metadata(record: ReferenceRecord) -> bytes:
    """Serialise ``record`` to the UTF-8 JSON document a backend stores."""
    document = {"version": METADATA_VERSION, **record.to_json()}
    return json.dumps(document, sort_keys=True).encode("utf-8")


def decode_metadata(raw: bytes, expected_key: str | None = None) -> ReferenceRecord:
    """Parse a metadata document written by :func:`encode_metadata`.

    Parameters
    ----------
    raw : bytes
        The stored document.
    expected_key : str, optional
        The key the document was read under; a document claiming another key
        (copied or tampered with) is rejected.

    Returns
    -------
    ReferenceRecord

    Raises
    ------
    CorruptReferenceError
        Unreadable JSON, unknown version, bad fields or a key mismatch.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptReferenceError(f"reference metadata is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("version") != METADATA_VERSION:
        raise CorruptReferenceError(f"reference metadata has unsupported version {data.get('version')!r}")
    record = ReferenceRecord.from_json(data)
    if expected_key is not None and record.key != expected_key:
        raise CorruptReferenceError(f"reference metadata stored under {expected_key!r} claims key {record.key!r}")
    return record


def newest_first(records: list[ReferenceRecord]) -> list[ReferenceRecord]:
    """Sort records newest first; the key breaks (cross-process) ties deterministically."""
    return sorted(records, key=lambda r: (r.created_at, r.key), reverse=True)


@runtime_checkable
class ReferenceStore(Protocol):
    """Where reference photos, their features and metadata live.

    Every method validates user ids and keys first (:class:`InvalidUserIdError`)
    and reports backend trouble as :class:`StoreUnavailableError`.
    """

    def put(
        self,
        user_id: str,
        image: bytes,
        features: bytes,
        *,
        n_keypoints: int,
        width: int,
        height: int,
        content_type: str,
    ) -> ReferenceRecord:
        """Store a new reference under a fresh random key; metadata last."""
        ...

    def list(self, user_id: str) -> list[ReferenceRecord]:
        """Return the user's references, newest first; ``[]`` for an unknown user."""
        ...

    def latest(self, user_id: str) -> ReferenceRecord | None:
        """Return the user's newest reference, or None."""
        ...

    def users(self) -> builtins.list[str]:
        """Return the ids of users with at least one reference, sorted."""
        ...

    def get(self, key: str) -> ReferenceRecord:
        """Return the metadata of ``key`` (:class:`ReferenceNotFoundError`)."""
        ...

    def load_image(self, key: str) -> bytes:
        """Return the image bytes (:class:`CorruptReferenceError` when the blob is gone)."""
        ...

    def load_features(self, key: str) -> bytes | None:
        """Return the features blob, or None when it is missing (caller recomputes)."""
        ...

    def save_features(self, key: str, features: bytes) -> None:
        """Replace the features blob of an existing reference."""
        ...

    def delete(self, key: str) -> None:
        """Delete a reference (metadata first); :class:`ReferenceNotFoundError` if absent."""
        ...

    def url(self, key: str) -> str | None:
        """Return a URL the image can be fetched from, or None (local store)."""
        ...


_USER_LOCKS = tuple(threading.RLock() for _ in range(64))
POINTER_ATTEMPTS = 64
"""Compare-and-swap attempts on a user's pointer before giving up (each conflict means another writer won)."""


def _order(record: ReferenceRecord) -> tuple[datetime, str]:
    """What "newer" means everywhere: creation time, then the key (a total order across processes)."""
    return record.created_at, record.key


def _contended(user_id: str) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the latest pointer of {user_id!r} changed under {POINTER_ATTEMPTS} attempts in a row", reason="contention"
    )


class BlobReferenceStore:
    """What every store built on three blobs per reference (image, features, metadata) shares.

    Subclasses implement ``_list(user_id, strict)``, ``_load_blob(key,
    suffix, what)`` (None when the blob is missing,
    :class:`ReferenceNotFoundError` when the reference itself is unknown),
    ``delete`` and the three pointer primitives.

    **Latest pointer.**  Besides its references a user has one pointer blob
    (``<user>/latest.json``), a copy of the newest reference's metadata,
    written after that reference's metadata (so it never names an
    uncommitted reference).  :meth:`latest` is therefore one read whatever the
    number of references.  A user without a pointer (stores written before
    it existed) is answered by one listing, strictly: unreadable metadata is
    an error, never skipped for an older reference.

    **Concurrent writers** (threads, or processes sharing the store): every
    pointer change is a compare-and-swap (``_swap_pointer``: an S3 conditional
    write, a file lock locally) against the version read just before, retried
    on conflict, and a ``put`` only moves the pointer forward (to a newer
    ``(created_at, key)``), so a slower writer never moves it back.
    :meth:`trim` only deletes references older than the one the pointer
    names, so it never deletes the pointer's reference, nor one a concurrent
    ``put`` is about to publish.  A per-user lock in the process cuts conflicts.
    """

    IMAGE_SUFFIX = ".img"
    FEATURES_SUFFIX = ".features"
    POINTER_NAME = "latest.json"

    def list(self, user_id: str) -> builtins.list[ReferenceRecord]:
        """Return the user's references, newest first (unreadable metadata is logged and skipped)."""
        validate_user_id(user_id)
        return newest_first(self._list(user_id, strict=False))

    def _list(self, user_id: str, strict: bool) -> builtins.list[ReferenceRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_blob(self, key: str, suffix: str, what: str) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read_pointer(self, user_id: str) -> bytes | None:
        """The pointer's bytes, or None when the user has none (one read)."""
        return self._read_pointer_versioned(user_id)[0]

    def _read_pointer_versioned(self, user_id: str) -> tuple[bytes | None, str | None]:  # pragma: no cover - abstract
        """``(bytes, version)`` of the pointer, ``(None, None)`` when absent; the version is opaque (ETag, hash)."""
        raise NotImplementedError

    def _swap_pointer(self, user_id: str, raw: bytes | None, expected: str | None) -> bool:  # pragma: no cover
        """Write ``raw`` as the pointer (``None``: remove it) iff its version is still ``expected``.

        ``expected=None`` means "no pointer exists".  Returns False, changing
        nothing, when another writer changed the pointer since it was read.
        """
        raise NotImplementedError

    def delete(self, key: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    @contextmanager
    def _user_lock(user_id: str) -> Iterator[None]:
        """Serialise pointer updates of one user in this process (striped: bounded memory)."""
        lock = _USER_LOCKS[zlib.crc32(user_id.encode("utf-8")) % len(_USER_LOCKS)]
        with lock:
            yield

    def latest(self, user_id: str) -> ReferenceRecord | None:
        """Return the user's newest reference, or None: one read of the user's pointer.

        Raises
        ------
        CorruptReferenceError
            The pointer (or, without a pointer, any metadata) is unreadable:
            the newest reference cannot be known, so no older one is
            substituted.
        StoreUnavailableError
            The backend cannot be read.
        """
        validate_user_id(user_id)
        raw = self._read_pointer(user_id)
        if raw is None:
            records = newest_first(self._list(user_id, strict=True))
            return records[0] if records else None
        record = decode_metadata(raw)
        if record.user_id != user_id:
            raise CorruptReferenceError(f"the latest-reference pointer of {user_id!r} names {record.key!r}")
        return record

    def _publish(self, record: ReferenceRecord) -> None:
        """Point the user's pointer at ``record`` unless it already names a newer reference (compare-and-swap)."""
        with self._user_lock(record.user_id):
            for _attempt in range(POINTER_ATTEMPTS):
                raw, version = self._read_pointer_versioned(record.user_id)
                if raw is not None:
                    try:
                        current = decode_metadata(raw)
                    except CorruptReferenceError:
                        current = None  # overwritten: the new reference is sound
                    if current is not None and _order(current) > _order(record):
                        return
                if self._swap_pointer(record.user_id, encode_metadata(record), version):
                    if not self._exists(record.key):
                        # Deleted between its commit and this swap (a listing showed it before the pointer
                        # did): its deleter found no pointer on it, so this writer moves the pointer on.
                        self._unpublish(record.key)
                    return
        raise _contended(record.user_id)

    def _unpublish(self, key: str) -> None:
        """After ``key`` was deleted: move the pointer to the newest remaining reference (or remove it).

        The replacement is checked once more after the swap: another process may have deleted it
        between this listing and the swap, and its own ``_unpublish`` (which read the pointer before
        the swap, still naming ``key``) left the pointer alone.  Then it is doomed too and the loop
        points again, so the pointer never stays on a deleted reference.
        """
        user_id, _ = split_key(key)
        doomed = {key}
        with self._user_lock(user_id):
            for _attempt in range(POINTER_ATTEMPTS):
                raw, version = self._read_pointer_versioned(user_id)
                if raw is None:
                    return
                try:
                    named = decode_metadata(raw).key
                except CorruptReferenceError:
                    named = None
                if named is not None and named not in doomed:
                    return
                remaining = newest_first(self._list(user_id, strict=False))
                replacement = remaining[0] if remaining else None
                if not self._swap_pointer(user_id, encode_metadata(replacement) if replacement else None, version):
                    continue  # another writer moved the pointer: decide again on what it names now
                if replacement is None or self._exists(replacement.key):
                    return
                doomed.add(replacement.key)
        raise _contended(user_id)

    def _exists(self, key: str) -> bool:
        """Whether ``key``'s metadata is still there (one read)."""
        try:
            self.get(key)
        except ReferenceNotFoundError:
            return False
        return True

    def get(self, key: str) -> ReferenceRecord:  # pragma: no cover - abstract
        raise NotImplementedError

    def delete_reference(self, user_id: str, key: str) -> ReferenceRecord | None:
        """Delete one of ``user_id``'s references (image, features, fingerprint, metadata); return the new latest.

        Unlike :meth:`delete`, a key that is not a committed reference of ``user_id`` (another
        user's, or unknown) is refused *before* anything is touched, orphan blobs included.  The
        latest pointer moves to the newest remaining reference, or is removed with the last one
        (:meth:`_unpublish`), also when removing the blobs failed after the metadata went.

        Returns
        -------
        ReferenceRecord or None
            What :meth:`latest` names now (None: the user has no reference left).

        Raises
        ------
        InvalidUserIdError
            ``user_id`` or ``key`` is malformed.
        ReferenceNotFoundError
            ``key`` is not one of ``user_id``'s references; nothing changed.
        StoreUnavailableError
            The backend failed.
        """
        validate_user_id(user_id)
        owner, _ = split_key(key)
        if owner != user_id:
            raise ReferenceNotFoundError(f"reference {key!r} is not one of {user_id!r}'s references")
        self.get(key)  # ReferenceNotFoundError: unknown, nothing touched
        self.delete(key)
        return self.latest(user_id)

    def trim(self, user_id: str, keep: int) -> builtins.list[str]:
        """Delete the user's oldest references so that at most ``keep`` remain; return the deleted keys.

        Each deletion removes the metadata first, so a reference disappears
        at once; the reference the pointer names is never deleted.
        """
        validate_user_id(user_id)
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive int, got {keep!r}")
        with self._user_lock(user_id):
            records = newest_first(self._list(user_id, strict=False))
            if len(records) <= keep:
                return []
            pointed = self.latest(user_id)
            # Only references older than the pointer's: a newer one may be about to be published by
            # another writer, and the pointer only moves forward, so what is deleted is never named again.
            doomed = [r.key for r in records[keep:] if pointed is None or _order(r) < _order(pointed)]
            deleted = []
            for key in doomed:
                try:
                    self.delete(key)
                except ReferenceNotFoundError:
                    continue  # deleted meanwhile
                deleted.append(key)
            return deleted

    def load_image(self, key: str) -> bytes:
        """Return the image bytes.

        Raises
        ------
        ReferenceNotFoundError
            No reference has this key.
        CorruptReferenceError
            The metadata exists but the image blob is gone.
        """
        data = self._load_blob(key, self.IMAGE_SUFFIX, "image")
        if data is None:
            raise CorruptReferenceError(f"reference {key!r} has no image")
        return data

    def load_features(self, key: str) -> bytes | None:
        """Return the features blob, or None when it is missing (the caller recomputes)."""
        return self._load_blob(key, self.FEATURES_SUFFIX, "features")
