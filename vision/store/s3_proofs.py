"""The S3 store's memory of accepted proofs and reference fingerprints (see :mod:`vision.store.proofs`).

Objects::

    <prefix><user_id>/<ref_id>.fingerprint           the reference's fingerprint
    <prefix><user_id>/proofs/<time>-<hex>.fp         one accepted proof's fingerprint
    <prefix>.replay-index/<time>-<hex>.fp            the cross-user index: a compact fingerprint, no user id

A mixin of :class:`vision.store.s3.S3ReferenceStore` (which supplies the
client, bucket, prefix and its error translation), kept apart so the store
module stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vision.store.ids import split_key, validate_user_id
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

__all__ = ["S3ProofMemory"]


class S3ProofMemory:
    """Fingerprint methods of the S3 store (needs ``client``, ``bucket``, ``prefix``, ``_call``...)."""

    client: Any
    bucket: str
    prefix: str
    _NOT_FOUND: type[Exception]

    if TYPE_CHECKING:  # supplied by S3ReferenceStore; declared for type checkers only

        def get(self, key: str) -> Any: ...
        def _call(self, action: str, fn: Any, /, *, not_found: bool = False, **kwargs: Any) -> Any: ...
        def _object_key(self, key: str, suffix: str) -> str: ...
        def _load_blob(self, key: str, suffix: str, what: str) -> bytes | None: ...
        def _get_bytes(self, action: str, object_key: str) -> bytes: ...
        def _list_pages(self, action: str, **kwargs: Any) -> Any: ...

    def save_fingerprint(self, key: str, fingerprint: bytes) -> None:
        """Store the fingerprint of reference ``key`` beside it (:class:`ReferenceNotFoundError` if absent)."""
        self.get(key)
        blob = check_proof_args(split_key(key)[0], fingerprint, 1)
        self._call(
            f"save the fingerprint of {key!r}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._object_key(key, FINGERPRINT_SUFFIX),
            Body=blob,
            ContentType="application/octet-stream",
        )

    def load_fingerprint(self, key: str) -> bytes | None:
        """The reference's fingerprint, or None when it has none yet (the caller computes it)."""
        return self._load_blob(key, FINGERPRINT_SUFFIX, "fingerprint")

    def _proof_prefix(self, user_id: str) -> str:
        validate_user_id(user_id)
        return f"{self.prefix}{user_id}/{PROOF_DIR}/"

    def add_proof(self, user_id: str, fingerprint: bytes, *, keep: int) -> ProofRecord:
        """Remember an accepted proof's fingerprint; then delete the user's oldest beyond ``keep``.

        One object per proof (no read-modify-write, so concurrent adds never
        lose one); the pruning is one batch delete.

        Raises
        ------
        InvalidUserIdError, TypeError, ValueError
            Bad arguments; nothing is written.
        StoreUnavailableError
            S3 refused or is unreachable.
        """
        blob = check_proof_args(user_id, fingerprint, keep)
        prefix = self._proof_prefix(user_id)
        record = parse_proof_name(user_id, proof_name(new_proof_id()))
        assert record is not None  # a fresh id always parses
        self._put_and_prune(
            f"remember a proof of {user_id!r}",
            prefix,
            record,
            blob,
            lambda: self.list_proofs(user_id, load=False)[keep:],
        )
        return ProofRecord(user_id, record.proof_id, record.created_at, blob)

    def _put_and_prune(
        self, action: str, prefix: str, record: ProofRecord, blob: bytes, stale: Callable[[], list[ProofRecord]]
    ) -> None:
        """Write ``blob`` as ``record`` under ``prefix``, then batch-delete what ``stale()`` lists after it."""
        self._call(
            action,
            self.client.put_object,
            Bucket=self.bucket,
            Key=prefix + proof_name(record.proof_id),
            Body=blob,
            ContentType="application/octet-stream",
        )
        old = stale()
        for start in range(0, len(old), 1000):  # delete_objects takes at most 1000 keys
            chunk = old[start : start + 1000]
            self._call(
                action,
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": prefix + proof_name(r.proof_id)} for r in chunk], "Quiet": True},
            )

    def list_proofs(self, user_id: str, limit: int | None = None, *, load: bool = True) -> list[ProofRecord]:
        """The user's remembered proofs, newest first (up to ``limit``); ``[]`` for an unknown user.

        One listing, then (with ``load``) one GET per proof; a proof deleted
        while listing is skipped.
        """
        check_limit(limit)
        prefix = self._proof_prefix(user_id)

        def read(proof_id: str) -> bytes | None:
            try:
                return self._get_bytes(f"read a proof of {user_id!r}", prefix + proof_name(proof_id))
            except self._NOT_FOUND:
                return None  # pruned by a concurrent add

        return newest_loaded(self._proof_records(f"list proofs of {user_id!r}", prefix, user_id), limit, load, read)

    def _proof_records(self, action: str, prefix: str, user_id: str) -> list[ProofRecord]:
        """The proof records of the objects under ``prefix`` (one listing), newest first."""
        return parse_proof_names(
            user_id,
            (
                item["Key"][len(prefix) :]
                for page in self._list_pages(action, Prefix=prefix)
                for item in page.get("Contents", [])
            ),
        )

    # -- the cross-user index (vision.store.proofs.GlobalProofIndex) -----------

    def add_global_proof(self, fingerprint: bytes, *, keep: int, digest: str = "") -> ProofRecord:
        """Add a compact fingerprint under ``<prefix>.replay-index/``; one batch delete of the oldest beyond ``keep``."""
        blob = check_global_args(fingerprint, keep)
        record = parse_proof_name(GLOBAL_USER, proof_name(global_proof_id(digest)))
        assert record is not None  # a fresh id always parses
        prefix = f"{self.prefix}{GLOBAL_DIR}/"
        self._put_and_prune(
            "add to the replay index", prefix, record, blob, lambda: self.list_global_proofs(load=False)[keep:]
        )
        return ProofRecord(GLOBAL_USER, record.proof_id, record.created_at, blob)

    def list_global_proofs(self, limit: int | None = None, *, load: bool = True) -> list[ProofRecord]:
        """The index's entries, newest first (up to ``limit``): one listing, then (``load``) one GET each."""
        check_limit(limit)
        records = self._proof_records("list the replay index", f"{self.prefix}{GLOBAL_DIR}/", GLOBAL_USER)
        return newest_loaded(records, limit, load, self.load_global_proof)

    def load_global_proof(self, proof_id: str) -> bytes | None:
        """One entry's bytes, or None when it was pruned meanwhile."""
        try:
            return self._get_bytes("read the replay index", f"{self.prefix}{GLOBAL_DIR}/{proof_name(proof_id)}")
        except self._NOT_FOUND:
            return None
