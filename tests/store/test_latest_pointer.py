"""Issue 11, items 3 and 7: "latest" is one read whatever the number of references, and is never wrong silently.

Store calls are counted where they happen: file opens and directory scans
through Python's audit hooks (local store), HTTP requests through botocore's
``before-send`` event (S3 store against moto).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vision.store import CorruptReferenceError, ReferenceRecord
from vision.store.base import encode_metadata
from vision.store.ids import new_key

_AUDIT: dict[str, Any] = {"calls": None}
_AUDIT_LOCK = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    calls = _AUDIT["calls"]
    if calls is not None and event in ("open", "os.scandir", "os.listdir"):
        calls.append((event, str(args[0]) if args else ""))


sys.addaudithook(_audit)  # cannot be removed; inert unless a test is counting


@contextmanager
def counting(backend: Any) -> Iterator[list[Any]]:
    """Collect the store calls made inside the block: file opens/scans under the root, or S3 requests."""
    calls: list[Any] = []
    if backend.name == "local":
        root = str(backend.store.root)
        with _AUDIT_LOCK:
            _AUDIT["calls"] = seen = []
            try:
                yield calls
            finally:
                _AUDIT["calls"] = None
                calls.extend(c for c in seen if c[1].startswith(root))
        return
    events = backend.store.client.meta.events

    def record(request: Any, **_: Any) -> None:
        calls.append((request.method, request.url))

    events.register("before-send.s3", record)
    try:
        yield calls
    finally:
        events.unregister("before-send.s3", record)


def legacy_references(backend: Any, user: str, n: int) -> list[str]:
    """``n`` committed references written behind the store's back, oldest first (no pointer)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        ReferenceRecord(new_key(user), user, start + timedelta(minutes=i), 100, 640, 480, "image/jpeg")
        for i in range(n)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: backend.write_raw(r.key, ".json", encode_metadata(r)), records))
    return [r.key for r in records]


def test_latest_is_one_read_with_hundreds_of_references(backend, put_ref):
    legacy_references(backend, "alice", 300)
    newest = put_ref(backend.store, "alice")
    with counting(backend) as calls:
        latest = backend.store.latest("alice")
    assert latest == newest
    assert len(calls) == 1, calls  # one file open / one GET, not 300


def test_without_pointer_latest_lists_strictly(backend):
    keys = legacy_references(backend, "bob", 3)
    assert backend.store.latest("bob").key == keys[-1]  # stores written before the pointer still work
    backend.write_raw(keys[-1], ".json", b"{broken")
    # list() is for browsing and skips it; latest() must not answer with an older reference
    assert [r.key for r in backend.store.list("bob")] == keys[-2::-1]
    with pytest.raises(CorruptReferenceError):
        backend.store.latest("bob")


def write_pointer(backend: Any, user: str, data: bytes) -> None:
    store = backend.store
    if backend.name == "local":
        (store.root / user / "latest.json").write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}{user}/latest.json", Body=data)


def test_corrupt_pointer_is_an_error(backend, put_ref):
    put_ref(backend.store, "carol")
    put_ref(backend.store, "carol")
    write_pointer(backend, "carol", b"not json")
    with pytest.raises(CorruptReferenceError):
        backend.store.latest("carol")
    # a pointer copied from another user is corrupt too
    other = put_ref(backend.store, "dan")
    write_pointer(backend, "carol", encode_metadata(other))
    with pytest.raises(CorruptReferenceError):
        backend.store.latest("carol")


def test_delete_moves_the_pointer_back(backend, put_ref):
    first = put_ref(backend.store, "dave")
    second = put_ref(backend.store, "dave")
    backend.store.delete(second.key)
    assert backend.store.latest("dave") == first
    backend.store.delete(first.key)
    assert backend.store.latest("dave") is None
    assert not [o for o in backend.objects() if o.endswith("dave/latest.json")]


def test_trim_deletes_the_oldest(backend, put_ref):
    records = [put_ref(backend.store, "erin") for _ in range(4)]
    deleted = backend.store.trim("erin", 2)
    assert deleted == [records[1].key, records[0].key]
    assert [r.key for r in backend.store.list("erin")] == [records[3].key, records[2].key]
    assert backend.store.latest("erin") == records[3]
    assert not [o for o in backend.objects() if records[0].key.split("/")[1] in o]
    assert backend.store.trim("erin", 2) == []
