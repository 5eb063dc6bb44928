"""Memory of accepted proofs and reference fingerprints, on both stores (local and moto S3).

Every test takes the ``backend`` fixture (``conftest.py``), so it runs
against the local store and against the S3 store over HTTP to a moto server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vision.store import InvalidUserIdError, ReferenceNotFoundError
from vision.store.proofs import MAX_FINGERPRINT_BYTES

Backend = Any


def _blob(i: int) -> bytes:
    return f"fingerprint-{i:03d}".encode() * 10


def test_proofs_are_listed_newest_first_with_their_bytes(backend: Backend) -> None:
    store = backend.store
    added = [store.add_proof("alice", _blob(i), keep=10) for i in range(4)]
    listed = store.list_proofs("alice")
    assert [r.proof_id for r in listed] == [r.proof_id for r in reversed(added)]
    assert [r.fingerprint for r in listed] == [_blob(i) for i in (3, 2, 1, 0)]
    assert all(r.user_id == "alice" for r in listed)
    assert listed[0].created_at > listed[-1].created_at
    assert [r.proof_id for r in store.list_proofs("alice", limit=2)] == [added[3].proof_id, added[2].proof_id]


def test_retention_keeps_only_the_newest(backend: Backend) -> None:
    store = backend.store
    for i in range(7):
        store.add_proof("bob", _blob(i), keep=3)
    assert [r.fingerprint for r in store.list_proofs("bob")] == [_blob(6), _blob(5), _blob(4)]
    proof_files = [name for name in backend.objects() if "/proofs/" in name]
    assert len(proof_files) == 3  # the older ones are deleted, not only hidden


def test_proofs_of_users_are_separate_and_invisible_to_references(backend: Backend, put_ref: Callable) -> None:
    store = backend.store
    record = put_ref(store, "carol")
    store.add_proof("carol", _blob(1), keep=5)
    store.add_proof("dave", _blob(2), keep=5)
    assert [r.fingerprint for r in store.list_proofs("carol")] == [_blob(1)]
    assert [r.fingerprint for r in store.list_proofs("dave")] == [_blob(2)]
    assert store.list_proofs("erin") == []
    assert [r.key for r in store.list("carol")] == [record.key]  # proofs are not references
    assert store.list("dave") == []


def test_reference_fingerprint_lives_beside_the_reference(backend: Backend, put_ref: Callable) -> None:
    store = backend.store
    record = put_ref(store, "frank")
    assert store.load_fingerprint(record.key) is None
    store.save_fingerprint(record.key, _blob(7))
    assert store.load_fingerprint(record.key) == _blob(7)
    store.delete(record.key)
    assert not [name for name in backend.objects() if record.key.split("/")[1] in name]
    with pytest.raises(ReferenceNotFoundError):
        store.save_fingerprint(record.key, _blob(8))


@pytest.mark.parametrize(
    ("user_id", "blob", "keep", "error"),
    [
        ("../x", _blob(0), 5, InvalidUserIdError),
        ("gina", b"", 5, ValueError),
        ("gina", b"x" * (MAX_FINGERPRINT_BYTES + 1), 5, ValueError),
        ("gina", "text", 5, TypeError),
        ("gina", _blob(0), 0, ValueError),
        ("gina", _blob(0), True, ValueError),
    ],
)
def test_bad_arguments_write_nothing(backend: Backend, user_id: Any, blob: Any, keep: Any, error: type) -> None:
    with pytest.raises(error):
        backend.store.add_proof(user_id, blob, keep=keep)
    assert backend.objects() == []


def test_hostile_user_id_cannot_list(backend: Backend) -> None:
    with pytest.raises(InvalidUserIdError):
        backend.store.list_proofs("../etc")
    with pytest.raises(ValueError):
        backend.store.list_proofs("hank", limit=0)
