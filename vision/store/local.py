"""Reference store on the local file system (the default backend).

Layout::

    <root>/<user_id>/<ref_id>.img        image bytes (the re-encoded working image, or as uploaded)
    <root>/<user_id>/<ref_id>.features   opaque features blob
    <root>/<user_id>/<ref_id>.json       metadata, the commit marker
    <root>/<user_id>/latest.json         copy of the newest reference's metadata (written last)
    <root>/<user_id>/.latest.lock        lock file of the pointer's compare-and-swap (empty)

Every file is written to a uniquely named temporary file in the same directory
(``mkstemp``: no fixed names, so concurrent puts never clobber each other),
flushed, fsynced and moved into place with ``os.replace`` (atomic on POSIX and
Windows).  The metadata is written last and removed first, so a crash between
the blobs and the metadata leaves only orphan blobs, which nothing lists.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vision.store.base import (
    BlobReferenceStore,
    CorruptReferenceError,
    ReferenceNotFoundError,
    ReferenceRecord,
    StoreUnavailableError,
    check_put_args,
    decode_metadata,
    encode_metadata,
    newest_first,
    utc_now,
)
from vision.store.disk_usage import tree_bytes
from vision.store.file_lock import exclusive
from vision.store.ids import new_key, split_key, validate_key, validate_user_id
from vision.store.proofs import (
    FINGERPRINT_SUFFIX,
    GLOBAL_DIR,
    GLOBAL_USER,
    PROOF_DIR,
    ProofRecord,
    check_global_args,
    check_limit,
    check_proof_args,
    global_proof_id,
    new_proof_id,
    newest_loaded,
    parse_proof_name,
    parse_proof_names,
    proof_name,
)

__all__ = ["DEFAULT_ROOT", "LocalReferenceStore"]

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("references")

_IMAGE, _FEATURES, _META = BlobReferenceStore.IMAGE_SUFFIX, BlobReferenceStore.FEATURES_SUFFIX, ".json"
_META_NAME = re.compile(r"([0-9a-f]{32})\.json")
POINTER_LOCK_NAME = ".latest.lock"  # beside latest.json; a dot file, so no listing sees it


class LocalReferenceStore(BlobReferenceStore):
    """A :class:`~vision.store.base.ReferenceStore` in a directory tree.

    Parameters
    ----------
    root : str or Path, default ``./references``
        Directory holding one sub-directory per user; created on the first
        ``put``.  Made absolute at construction so a later ``chdir`` does not
        move the store.
    """

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"LocalReferenceStore(root={str(self.root)!r})"

    # -- paths -------------------------------------------------------------

    def _path(self, key: str, suffix: str) -> Path:
        # split_key validates: only [A-Za-z0-9_.@-] user ids and 32 hex
        # digits reach the file system, so the path stays under root.
        user_id, ref_id = split_key(key)
        return self.root / user_id / f"{ref_id}{suffix}"

    def _unavailable(self, action: str, exc: OSError) -> StoreUnavailableError:
        reason = "access-denied" if isinstance(exc, PermissionError) else "io-error"
        if isinstance(exc, NotADirectoryError):
            reason = "not-a-directory"
        detail = exc.strerror or type(exc).__name__
        return StoreUnavailableError(f"local reference store at {self.root}: cannot {action}: {detail}", reason=reason)

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` via a unique temp file and ``os.replace``."""
        # A leading dot keeps half-written temp files out of every listing.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- writing -----------------------------------------------------------

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
        """Store a new reference; see :class:`~vision.store.base.ReferenceStore`.

        Raises
        ------
        InvalidUserIdError, ValueError, TypeError
            Bad arguments; nothing is written.
        StoreUnavailableError
            The directory cannot be written (permission, disk full); whatever
            was written is removed.
        """
        image, features = check_put_args(
            user_id,
            image,
            features,
            n_keypoints=n_keypoints,
            width=width,
            height=height,
            content_type=content_type,
        )
        record = ReferenceRecord(
            key=new_key(user_id),
            user_id=user_id,
            created_at=utc_now(),
            n_keypoints=n_keypoints,
            width=width,
            height=height,
            content_type=content_type,
        )
        paths = [self._path(record.key, s) for s in (_IMAGE, _FEATURES, _META)]
        try:
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(paths[0], image)
            self._write_atomic(paths[1], features)
            self._write_atomic(paths[2], encode_metadata(record))  # commit
            self._publish(record)  # the user's latest pointer, last
        except BaseException as exc:
            for path in paths:
                with contextlib.suppress(OSError):  # best effort: unlisted orphans are harmless
                    path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._unavailable(f"store a reference for {user_id!r}", exc) from exc
            raise
        return record

    # -- the latest pointer --------------------------------------------------

    def _pointer_path(self, user_id: str) -> Path:
        return self.root / validate_user_id(user_id) / self.POINTER_NAME

    def _read_pointer_versioned(self, user_id: str) -> tuple[bytes | None, str | None]:
        path = self._pointer_path(user_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            # NotADirectoryError included: the root (or the user's folder) is a file, a broken store.
            raise self._unavailable(f"read the latest reference of {user_id!r}", exc) from exc
        return raw, hashlib.sha256(raw).hexdigest()

    def _swap_pointer(self, user_id: str, raw: bytes | None, expected: str | None) -> bool:
        """Compare-and-swap under the user's lock file (:mod:`vision.store.file_lock`), then ``os.replace``."""
        path = self._pointer_path(user_id)
        if not path.parent.is_dir():  # no folder, so no pointer
            if expected is not None or raw is None:
                return expected is None
            path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(path.parent / POINTER_LOCK_NAME):
            try:
                current: str | None = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:
                current = None
            if current != expected:
                return False
            if raw is None:
                path.unlink(missing_ok=True)
            else:
                self._write_atomic(path, raw)
        return True

    def save_features(self, key: str, features: bytes) -> None:
        """Replace the features blob of an existing reference.

        Raises
        ------
        ReferenceNotFoundError
            No reference has this key.
        TypeError
            ``features`` is not bytes.
        """
        self.get(key)
        if not isinstance(features, (bytes, bytearray, memoryview)):
            raise TypeError(f"features must be bytes, not {type(features).__name__}")
        try:
            self._write_atomic(self._path(key, _FEATURES), bytes(features))
        except OSError as exc:
            raise self._unavailable(f"save features of {key!r}", exc) from exc

    def delete(self, key: str) -> None:
        """Delete a reference: metadata first, then its blobs.

        Raises
        ------
        ReferenceNotFoundError
            No metadata existed (orphan blobs under the key are still removed).
        """
        validate_key(key)
        try:
            self._path(key, _META).unlink()
            existed = True
        except FileNotFoundError:
            existed = False
        except OSError as exc:
            raise self._unavailable(f"delete {key!r}", exc) from exc
        try:
            for suffix in (_IMAGE, _FEATURES, FINGERPRINT_SUFFIX):
                self._path(key, suffix).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unavailable(f"delete {key!r}", exc) from exc
        finally:
            # The reference is gone with its metadata: the pointer moves on even when a blob stays behind.
            if existed:
                self._unpublish_or_unavailable(key)
        # The user's directory is kept: removing it could race with a
        # concurrent put that has just created it.
        if not existed:
            raise ReferenceNotFoundError(f"no reference with key {key!r}")

    def _unpublish_or_unavailable(self, key: str) -> None:
        try:
            self._unpublish(key)
        except OSError as exc:
            raise self._unavailable(f"update the latest pointer after deleting {key!r}", exc) from exc

    # -- reading -----------------------------------------------------------

    def get(self, key: str) -> ReferenceRecord:
        """Return the metadata of ``key``.

        Raises
        ------
        ReferenceNotFoundError
            No metadata under ``key``.
        CorruptReferenceError
            The metadata cannot be parsed or names another key.
        """
        path = self._path(key, _META)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise ReferenceNotFoundError(f"no reference with key {key!r}") from None
        except OSError as exc:
            raise self._unavailable(f"read {key!r}", exc) from exc
        record = decode_metadata(raw)
        if record.key != key:
            if record.key.lower() == key.lower():
                # Case-insensitive file system: "bob/x" opened "Bob/x.json",
                # which belongs to another user.
                raise ReferenceNotFoundError(f"no reference with key {key!r}")
            raise CorruptReferenceError(f"reference metadata under {key!r} claims key {record.key!r}")
        return record

    def _load_blob(self, key: str, suffix: str, what: str) -> bytes | None:
        self.get(key)  # the metadata decides whether the reference exists
        try:
            return self._path(key, suffix).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unavailable(f"read the {what} of {key!r}", exc) from exc

    def _records(self, user_id: str, strict: bool = False) -> Iterator[ReferenceRecord]:
        """Yield the user's committed references in directory order.

        With ``strict`` unreadable metadata raises instead of being skipped,
        and a root that is a file is an unavailable store.
        """
        directory = self.root / user_id
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        except NotADirectoryError as exc:
            if strict:
                raise self._unavailable(f"list references of {user_id!r}", exc) from exc
            return
        except OSError as exc:
            raise self._unavailable(f"list references of {user_id!r}", exc) from exc
        for entry in entries:
            match = _META_NAME.fullmatch(entry.name)
            if not match:
                continue  # blobs, temp files, strangers
            key = f"{user_id}/{match.group(1)}"
            try:
                record = decode_metadata(Path(entry.path).read_bytes())
                if record.key == key:
                    yield record
                elif record.key.lower() != key.lower():  # else: other user's spelling
                    log.warning("skipping %s: it claims key %r", entry.path, record.key)
            except FileNotFoundError:
                continue  # deleted while we listed
            except CorruptReferenceError as exc:
                if strict:
                    raise
                log.warning("skipping unreadable reference metadata %s: %s", entry.path, exc)
            except OSError as exc:
                raise self._unavailable(f"read {key!r}", exc) from exc

    def _list(self, user_id: str, strict: bool) -> list[ReferenceRecord]:
        return newest_first(list(self._records(validate_user_id(user_id), strict)))

    def users(self) -> builtins.list[str]:
        """Return the sorted ids of users with at least one readable reference."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._unavailable("list users", exc) from exc
        found: set[str] = set()
        for entry in entries:
            try:
                validate_user_id(entry.name)
            except ValueError:
                continue  # not a user directory (temp files, stray names)
            if entry.is_dir():
                # Take ids from the metadata: on a case-insensitive file system
                # the directory name may be another spelling of the user id.
                found.update(record.user_id for record in self._records(entry.name))
        return sorted(found)

    def stored_bytes(self, user_id: str | None = None) -> int:
        """Bytes on disk under the user's folder, or (None) the whole store: images, features, proofs, pointers.

        Derived from the files themselves, so it survives restarts and counts
        every process's writes; a user's folder is small (retention), the whole
        store is walked once (the API rescans it in the background).
        """
        top = self.root if user_id is None else self.root / validate_user_id(user_id)
        try:
            return tree_bytes(top)
        except OSError as exc:
            raise self._unavailable("measure stored bytes", exc) from exc

    def url(self, key: str) -> str | None:
        """Return None: local files have no URL (the caller serves the bytes)."""
        validate_key(key)
        return None

    # -- fingerprints (replay check, vision.store.proofs) -------------------

    def save_fingerprint(self, key: str, fingerprint: bytes) -> None:
        """Store the fingerprint of reference ``key`` beside it (:class:`ReferenceNotFoundError` if absent)."""
        self.get(key)
        blob = check_proof_args(split_key(key)[0], fingerprint, 1)
        try:
            self._write_atomic(self._path(key, FINGERPRINT_SUFFIX), blob)
        except OSError as exc:
            raise self._unavailable(f"save the fingerprint of {key!r}", exc) from exc

    def load_fingerprint(self, key: str) -> bytes | None:
        """The reference's fingerprint, or None when it has none yet (the caller computes it)."""
        return self._load_blob(key, FINGERPRINT_SUFFIX, "fingerprint")

    def _proof_dir(self, user_id: str) -> Path:
        validate_user_id(user_id)
        return self.root / user_id / PROOF_DIR

    def add_proof(self, user_id: str, fingerprint: bytes, *, keep: int) -> ProofRecord:
        """Remember an accepted proof's fingerprint; then delete the user's oldest beyond ``keep``.

        Raises
        ------
        InvalidUserIdError, TypeError, ValueError
            Bad arguments; nothing is written.
        StoreUnavailableError
            The directory cannot be written.
        """
        blob = check_proof_args(user_id, fingerprint, keep)
        directory = self._proof_dir(user_id)
        record = parse_proof_name(user_id, proof_name(new_proof_id()))
        assert record is not None  # a fresh id always parses
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._write_atomic(directory / proof_name(record.proof_id), blob)
            for old in self.list_proofs(user_id, load=False)[keep:]:
                (directory / proof_name(old.proof_id)).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unavailable(f"remember a proof of {user_id!r}", exc) from exc
        return ProofRecord(user_id, record.proof_id, record.created_at, blob)

    def list_proofs(self, user_id: str, limit: int | None = None, *, load: bool = True) -> builtins.list[ProofRecord]:
        """The user's remembered proofs, newest first (up to ``limit``); ``[]`` for an unknown user.

        With ``load`` each record carries its fingerprint bytes; a proof
        deleted while listing is skipped.
        """
        check_limit(limit)
        directory = self._proof_dir(user_id)
        try:
            names = [entry.name for entry in os.scandir(directory)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise self._unavailable(f"list proofs of {user_id!r}", exc) from exc

        def read(proof_id: str) -> bytes | None:
            try:
                return (directory / proof_name(proof_id)).read_bytes()
            except FileNotFoundError:
                return None  # pruned by a concurrent add
            except OSError as exc:
                raise self._unavailable(f"read a proof of {user_id!r}", exc) from exc

        return newest_loaded(parse_proof_names(user_id, names), limit, load, read)

    # -- the cross-user index (vision.store.proofs.GlobalProofIndex) -----------

    def add_global_proof(self, fingerprint: bytes, *, keep: int, digest: str = "") -> ProofRecord:
        """Add a compact fingerprint to ``<root>/.replay-index/``; delete the oldest beyond ``keep``."""
        blob = check_global_args(fingerprint, keep)
        record = parse_proof_name(GLOBAL_USER, proof_name(global_proof_id(digest)))
        assert record is not None  # a fresh id always parses
        directory = self.root / GLOBAL_DIR
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._write_atomic(directory / proof_name(record.proof_id), blob)
            for old in self.list_global_proofs(load=False)[keep:]:
                (directory / proof_name(old.proof_id)).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unavailable("add to the replay index", exc) from exc
        return ProofRecord(GLOBAL_USER, record.proof_id, record.created_at, blob)

    def list_global_proofs(self, limit: int | None = None, *, load: bool = True) -> builtins.list[ProofRecord]:
        """The index's entries, newest first (up to ``limit``); with ``load`` each carries its bytes."""
        check_limit(limit)
        try:
            names = [entry.name for entry in os.scandir(self.root / GLOBAL_DIR)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise self._unavailable("list the replay index", exc) from exc
        return newest_loaded(parse_proof_names(GLOBAL_USER, names), limit, load, self.load_global_proof)

    def load_global_proof(self, proof_id: str) -> bytes | None:
        """One entry's bytes, or None when it was pruned meanwhile."""
        try:
            return (self.root / GLOBAL_DIR / proof_name(proof_id)).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unavailable("read the replay index", exc) from exc
