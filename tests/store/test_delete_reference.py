"""Issue 24: deleting one reference (``delete_reference``) in both stores, its refusals and the latest pointer.

Every test runs against the local store and S3 (a real moto server, ``backend`` in conftest.py).
What a deletion removes is checked on the stored objects themselves; the pointer on what ``latest``
reads.  The race tests make "another process" act at the exact moment that matters, through the
store's own listing.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from conftest import make_s3_client, new_bucket
from pointer_rounds import add_rounds, open_store, remove_rounds

from vision.store import InvalidUserIdError, LocalReferenceStore, ReferenceNotFoundError, StoreUnavailableError
from vision.store.base import newest_first
from vision.store.guard import CircuitBreaker, GuardedStore
from vision.store.ids import new_key, split_key

ROUNDS = {
    "local": int(os.environ.get("REMOVE_ROUNDS_LOCAL", "300")),
    "s3": int(os.environ.get("REMOVE_ROUNDS_S3", "60")),
}


def _objects_of(backend: Any, key: str) -> list[str]:
    """Stored objects (any suffix) of reference ``key``."""
    ref_id = split_key(key)[1]
    return [name for name in backend.objects() if ref_id in name]


def _pointer_objects(backend: Any, user: str) -> list[str]:
    return [name for name in backend.objects() if name.endswith(f"{user}/latest.json")]


def test_removes_image_features_fingerprint_metadata_and_moves_the_pointer(backend, put_ref):
    store = backend.store
    old, mid, new = (put_ref(store, "kim") for _ in range(3))
    store.save_fingerprint(new.key, b"fingerprint")
    assert len(_objects_of(backend, new.key)) == 4  # image, features, fingerprint, metadata
    assert store.delete_reference("kim", new.key) == mid  # the pointer's reference: it moves to the newest left
    assert _objects_of(backend, new.key) == []
    assert store.latest("kim") == mid
    assert store.delete_reference("kim", old.key) == mid  # an older one: the pointer stays
    assert _objects_of(backend, old.key) == [] and store.latest("kim") == mid
    assert store.delete_reference("kim", mid.key) is None  # the last one: the pointer goes with it
    assert store.latest("kim") is None and store.list("kim") == []
    assert _pointer_objects(backend, "kim") == []
    with pytest.raises(ReferenceNotFoundError):
        store.get(mid.key)


def test_unknown_foreign_and_malformed_keys_are_refused_and_change_nothing(backend, put_ref):
    store = backend.store
    mine, theirs = put_ref(store, "kim"), put_ref(store, "lee")
    orphan = new_key("kim")
    backend.write_raw(orphan, ".img", b"an orphan blob of an interrupted put")
    before = backend.objects()
    refusals = [
        ("kim", orphan, ReferenceNotFoundError, "no reference with key"),
        ("kim", theirs.key, ReferenceNotFoundError, "is not one of 'kim'"),
        ("kim", "../etc/" + "0" * 32, InvalidUserIdError, "user id"),
        ("kim", "kim/not-hex", InvalidUserIdError, "hex"),
        ("../kim", mine.key, InvalidUserIdError, "user id"),
    ]
    for user, key, error, words in refusals:
        with pytest.raises(error, match=words):
            store.delete_reference(user, key)
        assert backend.objects() == before, (user, key)  # the orphan blob too: nothing touched
    assert store.latest("kim") == mine and store.latest("lee") == theirs


def test_a_delete_racing_another_delete_leaves_the_pointer_on_neither(backend, put_ref, monkeypatch):
    """Another process deletes ``mid`` after this delete listed it as the replacement, before the swap.

    That process's own pointer update ran while the pointer still named ``new`` (so it did nothing);
    the pointer must still end on ``old``, the only live reference, not on ``mid``.
    """
    store = backend.store
    old, mid, new = (put_ref(store, "max") for _ in range(3))
    listing = store._list
    raced: list[str] = []

    def list_then_race(user_id: str, strict: bool) -> list[Any]:
        records = listing(user_id, strict)
        if not raced:
            raced.append(mid.key)
            backend.remove_raw(mid.key, ".json")  # the other process's delete: metadata first...
            store._unpublish(mid.key)  # ...then its pointer update, which sees 'new' and leaves it
        return records

    monkeypatch.setattr(store, "_list", list_then_race)
    assert store.delete_reference("max", new.key) == old
    assert raced == [mid.key]
    assert store.latest("max") == old


def test_a_reference_deleted_before_its_publish_is_not_published(backend, put_ref, monkeypatch):
    """A listing shows a committed reference before its put moved the pointer; it is deleted in that moment.

    Its deleter's pointer update saw the pointer on ``old`` and left it; the put's publish then must not
    leave the pointer on the deleted reference.
    """
    store = backend.store
    old = put_ref(store, "quin")
    read = store._read_pointer_versioned
    deleted: list[str] = []

    def delete_then_read(user_id: str) -> Any:
        if not deleted:
            newest = store.list(user_id)[0]  # committed, not yet published
            deleted.append(newest.key)
            store.delete_reference(user_id, newest.key)
        return read(user_id)

    monkeypatch.setattr(store, "_read_pointer_versioned", delete_then_read)
    new = put_ref(store, "quin")
    assert deleted == [new.key]
    assert store.latest("quin") == old


def _fail_blob_removal(backend: Any, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make removing ``key``'s blobs fail after its metadata went (a directory in the way; an S3 outage)."""
    if backend.name == "local":
        backend.remove_raw(key, ".features")
        path = backend.store.root / key.replace("/", os.sep)
        (path.parent / f"{path.name}.features").mkdir()
        (path.parent / f"{path.name}.features" / "x").write_bytes(b"x")
        return
    events = backend.store.client.meta.events

    def refuse(request: Any, **_: Any) -> None:
        if request.method == "POST" and "delete" in request.url:  # DeleteObjects: the blobs
            raise EndpointConnectionError(endpoint_url=request.url)

    events.register("before-send.s3", refuse)
    monkeypatch.setattr(backend, "cleanup", lambda: events.unregister("before-send.s3", refuse), raising=False)


def test_a_failed_blob_removal_still_moves_the_pointer(backend, put_ref, monkeypatch):
    store = backend.store
    old, new = put_ref(store, "ned"), put_ref(store, "ned")
    _fail_blob_removal(backend, new.key, monkeypatch)
    try:
        with pytest.raises(StoreUnavailableError):
            store.delete_reference("ned", new.key)
    finally:
        getattr(backend, "cleanup", lambda: None)()
    with pytest.raises(ReferenceNotFoundError):
        store.get(new.key)  # the metadata went first: the reference is gone...
    assert store.latest("ned") == old  # ...and the pointer does not name it


def test_the_guard_routes_it_with_its_timeout(tmp_path, put_ref):
    store = LocalReferenceStore(tmp_path)
    kept, doomed = put_ref(store, "ola"), put_ref(store, "ola")
    guard = GuardedStore(store, timeout_s=0.3, breaker=CircuitBreaker(failures=1))
    with pytest.raises(ReferenceNotFoundError):
        guard.delete_reference("ola", new_key("ola"))  # an answer of a working store: the circuit stays closed
    assert guard.breaker.state == "closed"
    assert guard.delete_reference("ola", doomed.key) == kept

    class SlowStore(LocalReferenceStore):
        def delete(self, key: str) -> None:
            time.sleep(1.0)
            super().delete(key)

    slow = GuardedStore(SlowStore(tmp_path), timeout_s=0.3)
    with pytest.raises(StoreUnavailableError) as caught:
        slow.delete_reference("ola", kept.key)
    assert caught.value.reason == "timeout"
    guard.close()
    slow.close()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_removing_while_another_process_registers_keeps_the_pointer_live(kind, tmp_path, moto_endpoint):
    """One process registers, another removes whatever the pointer names; the pointer never dangles."""
    if kind == "local":
        where = {"root": str(tmp_path / "refs")}
    else:
        where = {"endpoint": moto_endpoint, "bucket": new_bucket(make_s3_client(moto_endpoint))}
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(2)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        adder = pool.submit(add_rounds, kind, where, "pia", ROUNDS[kind], barrier)
        remover = pool.submit(remove_rounds, kind, where, "pia", ROUNDS[kind], barrier)
        added, counts = adder.result(timeout=600), remover.result(timeout=600)
    print(kind, added, counts)
    assert counts["dangling"] == 0, counts
    assert counts["removed"] > 0, counts
    store = open_store(kind, where)
    remaining = newest_first(store.list("pia"))
    assert len(remaining) == ROUNDS[kind] - counts["removed"]
    assert store.latest("pia") == (remaining[0] if remaining else None)
