"""Reference store in an S3 bucket (AWS, MinIO or any S3-compatible service).

Objects::

    <prefix><user_id>/<ref_id>.img        image bytes (ContentType = the image type)
    <prefix><user_id>/<ref_id>.features   opaque features blob
    <prefix><user_id>/<ref_id>.json       metadata, uploaded after the blobs (commit marker)
    <prefix><user_id>/latest.json         copy of the newest reference's metadata, uploaded last

S3 has no multi-object transactions, so the metadata object plays the commit
role: ``list`` reads only ``.json`` objects, and a failed ``put`` deletes what
it had uploaded (best effort; anything left over is an unlisted orphan).

Every botocore failure is translated into a store error
(:mod:`vision.store.s3_errors`): network trouble and timeouts, missing bucket,
denied access and missing credentials become
:class:`~vision.store.base.StoreUnavailableError` with a ``reason``; a missing
object becomes :class:`~vision.store.base.ReferenceNotFoundError`.  Messages
carry the error code and text S3 returned, never credentials.  The store is
built from settings by :func:`vision.store.s3_settings.s3_store_from_settings`.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from vision.store.base import (
    BlobReferenceStore,
    CorruptReferenceError,
    ReferenceNotFoundError,
    ReferenceRecord,
    StoreConfigError,
    StoreUnavailableError,
    check_put_args,
    decode_metadata,
    encode_metadata,
    newest_first,
    utc_now,
)
from vision.store.ids import new_key, split_key, validate_key, validate_user_id
from vision.store.proofs import FINGERPRINT_SUFFIX
from vision.store.s3_errors import NotFound as _NotFound
from vision.store.s3_errors import is_botocore as _is_botocore
from vision.store.s3_errors import translate as _translate
from vision.store.s3_pointer import read_versioned, swap
from vision.store.s3_proofs import S3ProofMemory

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_PRESIGN_EXPIRY_S",
    "S3ReferenceStore",
]

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "references/"
DEFAULT_PRESIGN_EXPIRY_S = 3600
#: SigV4 presigned URLs are valid for at most seven days.
MAX_PRESIGN_EXPIRY_S = 7 * 24 * 3600

_IMAGE, _FEATURES, _META = BlobReferenceStore.IMAGE_SUFFIX, BlobReferenceStore.FEATURES_SUFFIX, ".json"
_META_NAME = re.compile(r"([0-9a-f]{32})\.json")
T = TypeVar("T")


class S3ReferenceStore(S3ProofMemory, BlobReferenceStore):
    """A :class:`~vision.store.base.ReferenceStore` in an S3 bucket.

    Parameters
    ----------
    client : botocore S3 client
        ``boto3.client("s3", ...)``; see :func:`s3_store_from_settings` for one
        with sensible timeouts.  Clients are thread-safe, so one store may serve
        concurrent requests.
    bucket : str
        Existing bucket name.
    prefix : str, default ``"references/"``
        Key prefix of every object; ``""`` for the bucket root.  A missing
        trailing ``/`` is added.
    presign_expiry_s : int, default 3600
        Lifetime of the URLs returned by :meth:`url`, 1 s to 7 days.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = DEFAULT_PREFIX,
        presign_expiry_s: int = DEFAULT_PRESIGN_EXPIRY_S,
    ) -> None:
        if not isinstance(bucket, str) or not bucket.strip():
            raise StoreConfigError("S3 bucket name is empty")
        if not isinstance(prefix, str) or prefix.startswith("/") or ".." in prefix:
            raise StoreConfigError(f"S3 prefix must be a relative key prefix, got {prefix!r}")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if (
            not isinstance(presign_expiry_s, int)
            or isinstance(presign_expiry_s, bool)
            or not 1 <= presign_expiry_s <= MAX_PRESIGN_EXPIRY_S
        ):
            raise StoreConfigError(
                f"presign expiry must be 1..{MAX_PRESIGN_EXPIRY_S} seconds, got {presign_expiry_s!r}"
            )
        self.client = client
        self.bucket = bucket.strip()
        self.prefix = prefix
        self.presign_expiry_s = presign_expiry_s

    _NOT_FOUND: type[Exception] = _NotFound  # for S3ProofMemory

    def __repr__(self) -> str:
        return f"S3ReferenceStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    # -- helpers -----------------------------------------------------------

    def _object_key(self, key: str, suffix: str) -> str:
        user_id, ref_id = split_key(key)  # validated: no escape from the prefix
        return f"{self.prefix}{user_id}/{ref_id}{suffix}"

    def _call(self, action: str, fn: Callable[..., T], /, *, not_found: bool = False, **kwargs: Any) -> T:
        """Run one client call, translating botocore errors.

        With ``not_found=True`` a missing object raises the internal
        ``_NotFound`` for the caller to interpret; otherwise a 404 is reported
        as :class:`StoreUnavailableError` like any other unexpected answer.
        """
        try:
            return fn(**kwargs)
        except Exception as exc:
            if not _is_botocore(exc):
                raise
            error = _translate(exc, action, self.bucket)
            if isinstance(error, _NotFound) and not not_found:
                error = StoreUnavailableError(f"S3 bucket {self.bucket!r}: cannot {action}: {error}", reason="error")
            raise error from exc

    def _get_bytes(self, action: str, object_key: str) -> bytes:
        """Download one object; raises ``_NotFound`` when it does not exist."""

        def fetch() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=object_key)
            # Reading the body is network I/O too: a read timeout or a reset
            # mid-stream must be translated like the request itself.
            with response["Body"] as body:
                return body.read()

        return self._call(action, fetch, not_found=True)

    def _delete_quietly(self, object_keys: list[str]) -> None:
        """Best-effort removal of objects (rollback); failures are only logged."""
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in object_keys], "Quiet": True},
            )
            for error in response.get("Errors", []):
                log.warning("could not remove s3://%s/%s: %s", self.bucket, error.get("Key"), error.get("Code"))
        except Exception as exc:
            log.warning("could not remove %s from s3://%s: %s", object_keys, self.bucket, exc)

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
        """Upload image, features, then metadata; see :class:`~vision.store.base.ReferenceStore`.

        Raises
        ------
        InvalidUserIdError, ValueError, TypeError
            Bad arguments; nothing is uploaded.
        StoreUnavailableError
            An upload failed; the objects of this put are deleted (best effort).
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
        uploads = [
            (self._object_key(record.key, _IMAGE), image, content_type),
            (self._object_key(record.key, _FEATURES), features, "application/octet-stream"),
            (self._object_key(record.key, _META), encode_metadata(record), "application/json"),
        ]
        done = 0
        try:
            for object_key, body, object_type in uploads:
                self.client.put_object(Bucket=self.bucket, Key=object_key, Body=body, ContentType=object_type)
                done += 1
            self._publish(record)  # the user's latest pointer, last
        except BaseException as exc:
            never_connected = isinstance(exc, (EndpointConnectionError, ConnectTimeoutError))
            if done or not never_connected:
                # All three keys, the metadata included: a timed-out or
                # rejected-late upload may still have landed on the server.
                self._delete_quietly([object_key for object_key, _, _ in uploads])
            if isinstance(exc, Exception) and _is_botocore(exc):
                error = _translate(exc, f"store a reference for {user_id!r}", self.bucket)
                if isinstance(error, _NotFound):  # 404 on a PUT: treat as unavailable
                    error = StoreUnavailableError(
                        f"S3 bucket {self.bucket!r}: cannot store a reference: {error}", reason="error"
                    )
                raise error from exc
            raise
        return record

    def save_features(self, key: str, features: bytes) -> None:
        """Replace the features blob of an existing reference.

        Raises
        ------
        ReferenceNotFoundError
            No reference has this key.
        """
        self.get(key)
        if not isinstance(features, (bytes, bytearray, memoryview)):
            raise TypeError(f"features must be bytes, not {type(features).__name__}")
        self._call(
            f"save features of {key!r}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._object_key(key, _FEATURES),
            Body=bytes(features),
            ContentType="application/octet-stream",
        )

    def delete(self, key: str) -> None:
        """Delete a reference: metadata first (un-commit), then its blobs.

        Raises
        ------
        ReferenceNotFoundError
            No metadata existed (orphan blobs under the key are still removed).
        """
        validate_key(key)
        try:
            self._call(
                f"check {key!r}",
                self.client.head_object,
                not_found=True,
                Bucket=self.bucket,
                Key=self._object_key(key, _META),
            )
            existed = True
        except _NotFound:
            existed = False
        self._call(
            f"delete {key!r}",
            self.client.delete_object,
            Bucket=self.bucket,
            Key=self._object_key(key, _META),
        )
        try:
            self._delete_blobs(key)
        finally:
            # The reference is gone with its metadata: the pointer moves on even when a blob stays behind.
            if existed:
                self._unpublish(key)
        if not existed:
            raise ReferenceNotFoundError(f"no reference with key {key!r}")

    def _delete_blobs(self, key: str) -> None:
        """Remove the image, features and fingerprint of ``key`` (one request); :class:`StoreUnavailableError`."""
        response = self._call(
            f"delete {key!r}",
            self.client.delete_objects,
            Bucket=self.bucket,
            Delete={
                "Objects": [{"Key": self._object_key(key, s)} for s in (_IMAGE, _FEATURES, FINGERPRINT_SUFFIX)],
                "Quiet": True,
            },
        )
        errors = response.get("Errors", [])
        if errors:
            codes = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in errors)
            raise StoreUnavailableError(
                f"S3 bucket {self.bucket!r}: cannot delete the blobs of {key!r} ({codes})",
                reason="access-denied" if any(e.get("Code") == "AccessDenied" for e in errors) else "error",
            )

    # -- the latest pointer --------------------------------------------------

    def _pointer_key(self, user_id: str) -> str:
        return f"{self.prefix}{validate_user_id(user_id)}/{self.POINTER_NAME}"

    def _read_pointer_versioned(self, user_id: str) -> tuple[bytes | None, str | None]:
        action = f"read the latest reference of {user_id!r}"
        return read_versioned(self._call, self.client, self.bucket, self._pointer_key(user_id), action)

    def _swap_pointer(self, user_id: str, raw: bytes | None, expected: str | None) -> bool:
        """A conditional write or delete of the pointer (:mod:`vision.store.s3_pointer`)."""
        action = f"update the latest pointer of {user_id!r}"
        return swap(self._call, self.client, self.bucket, self._pointer_key(user_id), raw, expected, action)

    # -- reading -----------------------------------------------------------

    def get(self, key: str) -> ReferenceRecord:
        """Return the metadata of ``key``.

        Raises
        ------
        ReferenceNotFoundError
            No metadata object under ``key``.
        CorruptReferenceError
            The metadata cannot be parsed or names another key.
        """
        validate_key(key)
        try:
            raw = self._get_bytes(f"read {key!r}", self._object_key(key, _META))
        except _NotFound:
            raise ReferenceNotFoundError(f"no reference with key {key!r}") from None
        return decode_metadata(raw, expected_key=key)

    def _load_blob(self, key: str, suffix: str, what: str) -> bytes | None:
        self.get(key)  # the metadata decides whether the reference exists
        try:
            return self._get_bytes(f"load the {what} of {key!r}", self._object_key(key, suffix))
        except _NotFound:
            return None

    def _list_pages(self, action: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield ``list_objects_v2`` pages, translating errors raised while paging."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, **kwargs))
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as exc:
                if not _is_botocore(exc):
                    raise
                error = _translate(exc, action, self.bucket)
                if isinstance(error, _NotFound):
                    error = StoreUnavailableError(
                        f"S3 bucket {self.bucket!r}: cannot {action}: {error}", reason="error"
                    )
                raise error from exc
            yield page

    def _list(self, user_id: str, strict: bool) -> list[ReferenceRecord]:
        """The user's references newest first; ``[]`` for an unknown user.

        One paginated listing of ``<prefix><user_id>/`` plus one GET per
        ``.json`` object; unreadable metadata is logged and skipped, or
        raised with ``strict``.
        """
        validate_user_id(user_id)
        user_prefix = f"{self.prefix}{user_id}/"
        records = []
        action = f"list references of {user_id!r}"
        for page in self._list_pages(action, Prefix=user_prefix):
            for item in page.get("Contents", []):
                match = _META_NAME.fullmatch(item["Key"][len(user_prefix) :])
                if not match:
                    continue  # blobs and strangers
                key = f"{user_id}/{match.group(1)}"
                try:
                    raw = self._get_bytes(f"read {key!r}", item["Key"])
                    records.append(decode_metadata(raw, expected_key=key))
                except _NotFound:
                    continue  # deleted while we listed
                except CorruptReferenceError as exc:
                    if strict:
                        raise
                    log.warning("skipping unreadable reference metadata %s: %s", item["Key"], exc)
        return newest_first(records)

    def users(self) -> builtins.list[str]:
        """Return the sorted ids of users with objects under the prefix.

        Uses the ``/`` delimiter, so it costs one listing page per 1000 users,
        not one per object.  A user whose only objects are orphans of a failed
        rollback would also appear (their ``list`` is empty).
        """
        found = []
        for page in self._list_pages("list users", Prefix=self.prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self.prefix) :].rstrip("/")
                try:
                    found.append(validate_user_id(name))
                except ValueError:
                    continue  # not written by this store
        return sorted(set(found))

    def stored_bytes(self, user_id: str | None = None) -> int:
        """Bytes of the objects under ``<prefix><user_id>/``, or (None) under the whole prefix (one listing).

        Derived from the bucket's listing (``Size`` of each object), so it survives
        restarts and counts every process's writes.
        """
        prefix = self.prefix if user_id is None else f"{self.prefix}{validate_user_id(user_id)}/"
        return sum(
            int(item.get("Size", 0))
            for page in self._list_pages("measure stored bytes", Prefix=prefix)
            for item in page.get("Contents", [])
        )

    def url(self, key: str) -> str | None:
        """Return a presigned GET URL of the image, valid for ``presign_expiry_s``.

        Signing happens locally (no request is sent), so the URL is returned
        even for a key that does not exist; fetching it then answers 404.
        """
        validate_key(key)
        return self._call(
            f"sign a URL for {key!r}",
            self.client.generate_presigned_url,
            ClientMethod="get_object",
            Params={"Bucket": self.bucket, "Key": self._object_key(key, _IMAGE)},
            ExpiresIn=self.presign_expiry_s,
        )
