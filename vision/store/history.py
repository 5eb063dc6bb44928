"""The per-user, per-habit history of verifications: one small JSON blob per entry, in either store.

Every verification the API answers is appended as ``<owner>/history/<UTC time>-<32 hex>.json``
(``owner`` is the store id of the user's habit, :func:`vision.service.habits.habit_owner`).  One blob
per entry means two writers (threads or processes) never lose each other's entry: there is no
read-modify-write.  Retention: adding an entry deletes the owner's entries beyond ``keep`` (newest
kept), so a user's history is bounded in count and size (:data:`MAX_ENTRY_BYTES`).  With
``VISION_KEEP_PROOF_PHOTOS`` on, the proof photo (re-encoded as references are,
:mod:`vision.image.stored_photo`) is kept beside its entry as ``<entry id>.jpg`` and pruned with it.

A read is bounded too: :meth:`HistoryLog.page` lists names only, then loads at most ``limit``
entries (:data:`MAX_PAGE`), newest first, after an optional cursor (an entry id).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vision.store.base import StoreUnavailableError, utc_now
from vision.store.guard import GuardedStore
from vision.store.ids import validate_user_id

__all__ = ["DEFAULT_KEEP", "MAX_ENTRY_BYTES", "MAX_PAGE", "HistoryEntry", "HistoryLog", "history_log"]

HISTORY_DIR = "history"
DEFAULT_KEEP = 200
"""Entries kept per user and habit."""
MAX_KEEP = 10_000
MAX_PAGE = 100
"""Most entries one read returns."""
MAX_ENTRY_BYTES = 16 * 1024
"""An entry is the verdict's small numbers; anything larger is refused (bounded storage)."""
MAX_PHOTO_BYTES = 4 * 1024 * 1024
"""A kept proof photo is the working-resolution JPEG (about 0.1-0.4 MB); anything larger is refused."""
PHOTO_SUFFIX = ".jpg"

log = logging.getLogger("vision.store.history")

_STAMP = "%Y%m%dT%H%M%S%fZ"
_NAME = re.compile(r"(\d{8}T\d{12}Z-[0-9a-f]{32})\.json")
_ENTRY_ID = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{32}")


@dataclass(frozen=True)
class HistoryEntry:
    """One remembered verification.

    Attributes
    ----------
    entry_id : str
        ``"<UTC time>-<32 hex>"``: sortable by time, unguessable (the dispute's verification id).
    created_at : datetime
        UTC time of the append.
    data : dict
        The JSON document: verdict, reason, the rule's numbers, replay, profile hash, reference key.
    """

    entry_id: str
    created_at: datetime
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry_id, "created_at": self.created_at.isoformat(), **self.data}


def _stamp_of(entry_id: str) -> datetime:
    return datetime.strptime(entry_id.split("-")[0], _STAMP).replace(tzinfo=UTC)


def check_entry_id(entry_id: object) -> str:
    """``entry_id`` when it has the shape of one (``<stamp>-<32 hex>``), else ValueError (never reaches a path)."""
    if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
        raise ValueError("a verification id is '<UTC stamp>-<32 hex>' as the history lists it")
    return entry_id


class _LocalBlobs:
    """History blobs under the local store's folder (atomic writes, a leading dot hides temp files)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, owner: str) -> Path:
        return self.root / owner / HISTORY_DIR

    def names(self, owner: str) -> list[str]:
        try:
            return [p.name for p in self._dir(owner).iterdir()]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailableError(f"cannot list the history of {owner!r}: {exc}", reason="io-error") from exc

    def write(self, owner: str, name: str, data: bytes, content_type: str = "application/json") -> None:
        folder = self._dir(owner)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, folder / name)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot append to the history of {owner!r}: {exc}", reason="io-error") from exc

    def read(self, owner: str, name: str) -> bytes | None:
        try:
            return (self._dir(owner) / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read the history of {owner!r}: {exc}", reason="io-error") from exc

    def delete(self, owner: str, names: list[str]) -> None:
        for name in names:
            (self._dir(owner) / name).unlink(missing_ok=True)


class _S3Blobs:
    """History objects under the S3 store's prefix (one PUT per entry, one batch delete to prune)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _key(self, owner: str, name: str = "") -> str:
        return f"{self.prefix}{owner}/{HISTORY_DIR}/{name}"

    def _fail(self, action: str, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"S3 bucket {self.bucket!r}: cannot {action}: {type(exc).__name__}", reason="error"
        )

    def names(self, owner: str) -> list[str]:
        prefix = self._key(owner)
        names: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                names.extend(item["Key"][len(prefix) :] for item in page.get("Contents", []))
        except Exception as exc:
            raise self._fail(f"list the history of {owner!r}", exc) from exc
        return names

    def write(self, owner: str, name: str, data: bytes, content_type: str = "application/json") -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(owner, name), Body=data, ContentType=content_type)
        except Exception as exc:
            raise self._fail(f"append to the history of {owner!r}", exc) from exc

    def read(self, owner: str, name: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(owner, name))
            with response["Body"] as body:
                return bytes(body.read())
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._fail(f"read the history of {owner!r}", exc) from exc

    def delete(self, owner: str, names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            batch = [{"Key": self._key(owner, n)} for n in names[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise self._fail(f"prune the history of {owner!r}", exc) from exc


class _GuardedBlobs:
    """Another blob store's calls through a :class:`GuardedStore` (its pool, timeout and breaker)."""

    def __init__(self, blobs: _LocalBlobs | _S3Blobs, guard: GuardedStore) -> None:
        self.blobs, self.guard = blobs, guard

    def names(self, owner: str) -> list[str]:
        return self.guard.call("list a history", self.blobs.names, owner)

    def write(self, owner: str, name: str, data: bytes, content_type: str = "application/json") -> None:
        self.guard.call("write a history entry", self.blobs.write, owner, name, data, content_type)

    def read(self, owner: str, name: str) -> bytes | None:
        return self.guard.call("read a history entry", self.blobs.read, owner, name)

    def delete(self, owner: str, names: list[str]) -> None:
        self.guard.call("prune a history", self.blobs.delete, owner, names)


class HistoryLog:
    """Append, page through and find an owner's verification history (see the module docstring)."""

    def __init__(self, blobs: _LocalBlobs | _S3Blobs | _GuardedBlobs, keep: int = DEFAULT_KEEP) -> None:
        if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= MAX_KEEP:
            raise ValueError(f"history keep must be 1..{MAX_KEEP}, got {keep!r}")
        self.blobs, self.keep = blobs, keep

    def _ids(self, owner: str) -> list[str]:
        """The owner's entry ids, newest first (names only: no entry is read)."""
        validate_user_id(owner)
        ids = [m.group(1) for m in map(_NAME.fullmatch, self.blobs.names(owner)) if m]
        return sorted(ids, reverse=True)

    def append(self, owner: str, data: dict[str, Any], photo: bytes | None = None) -> HistoryEntry:
        """Store one entry (and its proof ``photo``, a JPEG), then prune beyond ``keep``.

        ValueError when ``data`` is too large or not JSON, or ``photo`` too large.  With a photo the
        entry says ``proof_photo``: True once the photo is stored; a photo the store refuses leaves
        the entry without one (``proof_photo: False``) rather than losing the verdict.
        """
        validate_user_id(owner)
        if photo is not None and len(photo) > MAX_PHOTO_BYTES:
            raise ValueError(f"a proof photo is at most {MAX_PHOTO_BYTES} bytes, got {len(photo)}")
        _encoded({**data, "proof_photo": True})  # too large: refused before anything is written
        now = utc_now()
        entry_id = f"{now.strftime(_STAMP)}-{uuid.uuid4().hex}"
        if photo is not None:
            # The photo first: an entry that says proof_photo always has one.  A crash between the two
            # writes leaves a photo no entry names (never listed, never served).
            try:
                self.blobs.write(owner, entry_id + PHOTO_SUFFIX, photo, "image/jpeg")
                data = {**data, "proof_photo": True}
            except StoreUnavailableError as exc:
                log.warning("proof photo of %s not kept: %s", owner, exc)
                data = {**data, "proof_photo": False}
        raw = _encoded(data)
        self.blobs.write(owner, f"{entry_id}.json", raw)
        stale = self._ids(owner)[self.keep :]
        if stale:
            self.blobs.delete(owner, [f"{i}{ext}" for i in stale for ext in (".json", PHOTO_SUFFIX)])
        return HistoryEntry(entry_id, now, data)

    def photo(self, owner: str, entry_id: str) -> bytes | None:
        """The proof photo kept with an entry (a JPEG), or None (not kept, or pruned)."""
        validate_user_id(owner)
        return self.blobs.read(owner, check_entry_id(entry_id) + PHOTO_SUFFIX)

    def get(self, owner: str, entry_id: str) -> HistoryEntry | None:
        """One entry by id, or None (pruned, or never there)."""
        validate_user_id(owner)
        check_entry_id(entry_id)
        raw = self.blobs.read(owner, f"{entry_id}.json")
        return None if raw is None else HistoryEntry(entry_id, _stamp_of(entry_id), json.loads(raw))

    def put(self, owner: str, entry: HistoryEntry) -> None:
        """Rewrite an existing entry (a dispute marks it); ValueError when it is too large."""
        raw = _encoded(entry.data)
        self.blobs.write(owner, f"{check_entry_id(entry.entry_id)}.json", raw)

    def page(self, owner: str, limit: int = 20, before: str | None = None) -> tuple[list[HistoryEntry], str | None]:
        """Up to ``limit`` (1..:data:`MAX_PAGE`) entries newest first, older than ``before``; and the next cursor."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}, got {limit!r}")
        ids = self._ids(owner)
        if before is not None:
            check_entry_id(before)
            ids = [i for i in ids if i < before]
        entries = []
        for entry_id in ids[:limit]:
            raw = self.blobs.read(owner, f"{entry_id}.json")
            if raw is not None:  # pruned meanwhile
                entries.append(HistoryEntry(entry_id, _stamp_of(entry_id), json.loads(raw)))
        cursor = ids[limit - 1] if len(ids) > limit else None
        return entries, cursor


def _encoded(data: dict[str, Any]) -> bytes:
    """An entry's JSON; ValueError when it is not JSON or passes :data:`MAX_ENTRY_BYTES`."""
    raw = json.dumps(data, sort_keys=True, allow_nan=False).encode("utf-8")
    if len(raw) > MAX_ENTRY_BYTES:
        raise ValueError(f"a history entry is at most {MAX_ENTRY_BYTES} bytes, got {len(raw)}")
    return raw


def history_log(store: Any, keep: int = DEFAULT_KEEP) -> HistoryLog:
    """The history log beside ``store`` (a local store's ``root``, or an S3 store's client, bucket, prefix).

    Behind a :class:`GuardedStore` every history call goes through its guard like the store's own.
    """
    if isinstance(store, GuardedStore):
        inner = history_log(store.inner, keep).blobs
        assert not isinstance(inner, _GuardedBlobs)
        return HistoryLog(_GuardedBlobs(inner, store), keep)
    if hasattr(store, "root"):
        return HistoryLog(_LocalBlobs(Path(store.root)), keep)
    if all(hasattr(store, a) for a in ("client", "bucket", "prefix")):
        return HistoryLog(_S3Blobs(store.client, store.bucket, store.prefix), keep)
    raise TypeError(f"no history log for a {type(store).__name__}")
