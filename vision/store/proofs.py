"""Memory of accepted proofs: one small fingerprint per accepted photo, per user.

The photo itself is never kept, only its fingerprint
(:mod:`vision.replay.fingerprint`, a few KB).  Both stores keep each proof in its
own blob named ``proofs/<UTC time>-<random hex>.fp`` under the user's folder
or prefix, so names sort by time, writes never collide, and no listing of
references sees them.  A retention limit (``keep``) bounds how many a user
has: adding one deletes the oldest beyond it.

The reference's own fingerprint is a fourth blob beside the reference
(:data:`FINGERPRINT_SUFFIX`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from vision.store.base import InvalidUserIdError, utc_now
from vision.store.ids import validate_user_id

__all__ = [
    "DEFAULT_KEEP",
    "FINGERPRINT_SUFFIX",
    "GLOBAL_DIR",
    "GLOBAL_USER",
    "MAX_FINGERPRINT_BYTES",
    "MAX_KEEP",
    "PROOF_DIR",
    "ProofMemory",
    "ProofRecord",
    "check_proof_args",
    "new_proof_id",
    "parse_proof_name",
    "proof_name",
]

FINGERPRINT_SUFFIX = ".fingerprint"
PROOF_DIR = "proofs"
PROOF_SUFFIX = ".fp"
GLOBAL_DIR = ".replay-index"
"""Folder / prefix of the cross-user index of accepted proofs: not a valid user id, so no user listing sees it."""
GLOBAL_USER = ""
"""The ``user_id`` of the index's records: none is stored (privacy)."""
DEFAULT_KEEP = 30
"""Accepted proofs remembered per user unless the profile says otherwise."""
MAX_KEEP = 1000
MAX_FINGERPRINT_BYTES = 64 * 1024
"""A fingerprint is a few KB; anything much larger is not one (bounded storage per user)."""

_STAMP = "%Y%m%dT%H%M%S%fZ"
_PROOF_NAME = re.compile(r"(\d{8}T\d{12}Z-[0-9a-f]{32})\.fp")


@dataclass(frozen=True)
class ProofRecord:
    """One remembered proof.

    Attributes
    ----------
    user_id : str
    proof_id : str
        ``"<UTC time>-<32 hex>"``, sortable by time.
    created_at : datetime
        Timezone-aware UTC time the proof was accepted (from the id).
    fingerprint : bytes
        The serialised fingerprint (empty when only listed, not loaded).
    """

    user_id: str
    proof_id: str
    created_at: datetime
    fingerprint: bytes = b""


def new_proof_id(now: datetime | None = None) -> str:
    """A fresh proof id: the UTC time (microseconds) and 32 random hex digits."""
    stamp = (now or utc_now()).astimezone(UTC).strftime(_STAMP)
    return f"{stamp}-{uuid.uuid4().hex}"


def proof_name(proof_id: str) -> str:
    """The blob name of a proof, ``<proof_id>.fp``; ``InvalidUserIdError`` for a malformed id."""
    name = f"{proof_id}{PROOF_SUFFIX}"
    if not _PROOF_NAME.fullmatch(name):
        raise InvalidUserIdError(f"malformed proof id {proof_id[:80]!r}")
    return name


def parse_proof_name(user_id: str, name: str) -> ProofRecord | None:
    """The record a blob name stands for, or None when it is not a proof blob (temp files, strangers)."""
    match = _PROOF_NAME.fullmatch(name)
    if not match:
        return None
    proof_id = match.group(1)
    try:
        created = datetime.strptime(proof_id[:22], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return ProofRecord(user_id, proof_id, created)


def check_proof_args(user_id: str, fingerprint: bytes, keep: int) -> bytes:
    """Validate :meth:`add_proof`'s arguments before anything is written; returns the blob as bytes.

    Raises
    ------
    InvalidUserIdError
        Bad user id.
    TypeError, ValueError
        Not bytes, empty or oversized blob, ``keep`` not in ``1..MAX_KEEP``.
    """
    validate_user_id(user_id)
    if not isinstance(fingerprint, (bytes, bytearray, memoryview)):
        raise TypeError(f"fingerprint must be bytes, not {type(fingerprint).__name__}")
    blob = bytes(fingerprint)
    if not 0 < len(blob) <= MAX_FINGERPRINT_BYTES:
        raise ValueError(f"fingerprint must be 1..{MAX_FINGERPRINT_BYTES} bytes, got {len(blob)}")
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= MAX_KEEP:
        raise ValueError(f"keep must be an int in 1..{MAX_KEEP}, got {keep!r}")
    return blob


def check_limit(limit: int | None) -> None:
    """``limit`` of :meth:`list_proofs`: None or a positive int."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")


def newest_proofs_first(records: list[ProofRecord]) -> list[ProofRecord]:
    """Sort newest first (the id starts with the time; the random tail breaks ties)."""
    return sorted(records, key=lambda r: r.proof_id, reverse=True)


def parse_proof_names(user_id: str, names: Iterable[str]) -> list[ProofRecord]:
    """The proof records among file or object names (others skipped), newest first."""
    return newest_proofs_first([r for r in (parse_proof_name(user_id, n) for n in names) if r is not None])


def newest_loaded(
    records: list[ProofRecord], limit: int | None, load: bool, read: Callable[[str], bytes | None]
) -> list[ProofRecord]:
    """The first ``limit`` of ``records`` (newest first), each with ``read(proof_id)``'s bytes when ``load``.

    A record whose bytes are gone (``read`` returns None: pruned by a concurrent add) is left out.
    """
    records = records[:limit] if limit else records
    if not load:
        return records
    loaded = [(r, read(r.proof_id)) for r in records]
    return [ProofRecord(r.user_id, r.proof_id, r.created_at, data) for r, data in loaded if data is not None]


@runtime_checkable
class ProofMemory(Protocol):
    """The fingerprint methods both reference stores have (beside :class:`~vision.store.base.ReferenceStore`)."""

    def save_fingerprint(self, key: str, fingerprint: bytes) -> None:
        """Store the fingerprint of reference ``key`` beside it."""
        ...

    def load_fingerprint(self, key: str) -> bytes | None:
        """The reference's fingerprint, or None when it has none yet."""
        ...

    def add_proof(self, user_id: str, fingerprint: bytes, *, keep: int) -> ProofRecord:
        """Remember an accepted proof's fingerprint; delete the oldest beyond ``keep``."""
        ...

    def list_proofs(self, user_id: str, limit: int | None = None, *, load: bool = True) -> list[ProofRecord]:
        """The user's remembered proofs, newest first."""
        ...


def check_global_args(fingerprint: bytes, keep: int) -> bytes:
    """Validate :meth:`add_global_proof`'s arguments (as :func:`check_proof_args`, without a user)."""
    if not isinstance(fingerprint, (bytes, bytearray, memoryview)):
        raise TypeError(f"fingerprint must be bytes, not {type(fingerprint).__name__}")
    blob = bytes(fingerprint)
    if not 0 < len(blob) <= MAX_FINGERPRINT_BYTES:
        raise ValueError(f"fingerprint must be 1..{MAX_FINGERPRINT_BYTES} bytes, got {len(blob)}")
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= MAX_GLOBAL_KEEP:
        raise ValueError(f"keep must be an int in 1..{MAX_GLOBAL_KEEP}, got {keep!r}")
    return blob


MAX_GLOBAL_KEEP = 100_000


@runtime_checkable
class GlobalProofIndex(Protocol):
    """The cross-user index of recent accepted proofs (compact fingerprints, no user ids), in both stores.

    Entries are named like proofs (``<UTC time>-<32 hex>.fp``), so they sort by
    time; the hex is the caller's (a content hash: the same entry twice is one).
    """

    def add_global_proof(self, fingerprint: bytes, *, keep: int, digest: str = "") -> ProofRecord:
        """Add an entry; delete the oldest beyond ``keep``."""
        ...

    def list_global_proofs(self, limit: int | None = None, *, load: bool = True) -> list[ProofRecord]:
        """The index's entries, newest first (``user_id`` is empty)."""
        ...

    def load_global_proof(self, proof_id: str) -> bytes | None:
        """One entry's bytes, or None when it was pruned."""
        ...


def global_proof_id(digest: str = "") -> str:
    """A fresh index entry id: the UTC time and ``digest`` (32 lowercase hex) or random hex."""
    proof_id = new_proof_id()
    if digest:
        if not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise ValueError(f"digest must be 32 lowercase hex digits, got {digest[:40]!r}")
        proof_id = proof_id[:-32] + digest
    return proof_id
