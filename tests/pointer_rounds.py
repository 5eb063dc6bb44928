"""One writer process of the concurrent-register test (``tests/store/test_pointer_concurrency.py``).

Each round does what the API's register does (``GuardedStore.put``): put a
reference, then trim the user to ``keep``; then it reads the pointer as a
verification would and classifies what it sees.  Run in a process of its own
(multiprocessing "spawn"), so two writers share nothing but the store.
"""

from __future__ import annotations

from typing import Any

from vision.store import LocalReferenceStore, ReferenceNotFoundError
from vision.store.base import CorruptReferenceError


def open_store(kind: str, where: dict[str, str]) -> Any:
    """The store a writer uses: local at ``where["root"]``, or S3 at ``where["endpoint"]`` / ``where["bucket"]``."""
    if kind == "local":
        return LocalReferenceStore(where["root"])
    from moto_server import s3_client

    from vision.store.s3 import S3ReferenceStore
    from vision.store.s3_settings import DEFAULT_MAX_ATTEMPTS

    # The product's retry policy (vision.store.s3_settings: 2 attempts, standard mode), not the tests' single try:
    # under these races moto now and then answers 500 (it reads an object whose buffer a concurrent overwrite has
    # just closed: "I/O operation on closed file"), a transient server error real S3 also asks clients to retry.
    client = s3_client(
        where["endpoint"],
        "testing-key-id",
        "testing-secret-do-not-print",
        read_timeout=20,
        retries={"total_max_attempts": DEFAULT_MAX_ATTEMPTS, "mode": "standard"},
    )
    return S3ReferenceStore(client, where["bucket"])


def _live(store: Any, key: str) -> bool:
    try:
        store.get(key)
        store.load_image(key)
    except (ReferenceNotFoundError, CorruptReferenceError):
        return False
    return True


def register_rounds(
    kind: str, where: dict[str, str], user: str, rounds: int, keep: int, barrier: Any
) -> dict[str, int]:
    """``rounds`` registers of ``user``; counts of what the pointer showed after each.

    - ``behind``: the pointer named a reference older than the one this round had just published;
    - ``dangling``: it named a deleted reference, and still did when read again;
    - ``moved``: it named a reference deleted since, but had already moved to a newer one
      (the reader raced a newer register: the next read is right);
    - ``missing``: no pointer at all.
    """
    store = open_store(kind, where)
    counts = {"rounds": 0, "behind": 0, "dangling": 0, "moved": 0, "missing": 0}
    barrier.wait()
    for i in range(rounds):
        record = store.put(
            user, b"image-%d" % i, b"features", n_keypoints=100, width=640, height=480, content_type="image/jpeg"
        )
        store.trim(user, keep)
        pointed = store.latest(user)
        counts["rounds"] += 1
        if pointed is None:
            counts["missing"] += 1
            continue
        if (pointed.created_at, pointed.key) < (record.created_at, record.key):
            counts["behind"] += 1
        if not _live(store, pointed.key):
            again = store.latest(user)
            counts["dangling" if again is not None and again.key == pointed.key else "moved"] += 1
    return counts


def add_rounds(kind: str, where: dict[str, str], user: str, rounds: int, barrier: Any) -> dict[str, int]:
    """``rounds`` registers of ``user`` (put only, as the register flow stores one), racing :func:`remove_rounds`."""
    store = open_store(kind, where)
    barrier.wait()
    for i in range(rounds):
        store.put(user, b"image-%d" % i, b"features", n_keypoints=100, width=640, height=480, content_type="image/jpeg")
    return {"rounds": rounds}


def _settles(store: Any, user: str, dead: str) -> bool:
    """Whether the pointer, naming the deleted ``dead``, moves off it within about a second (a writer fixing it)."""
    import time

    for _ in range(200):
        time.sleep(0.005)
        now = store.latest(user)
        if now is None or now.key != dead:
            return True
    return False


def remove_rounds(kind: str, where: dict[str, str], user: str, rounds: int, barrier: Any) -> dict[str, int]:
    """``rounds`` tries to remove the reference ``user``'s pointer names (``delete_reference``), racing registers.

    Without a pointer, ``latest`` lists, so the remover may delete a reference the register has
    committed but not yet published; the register's publish then sees it gone and moves the pointer
    on itself.  A read in that moment sees a deleted reference for a moment: ``moved`` when the
    pointer leaves it, ``dangling`` (the failure) when it stays there.  Also counted: ``removed``;
    ``stale`` (the reference named was gone when the remover came to delete it: the same moment);
    ``empty`` (nothing to remove that round).
    """
    import time

    store = open_store(kind, where)
    counts = {"rounds": 0, "removed": 0, "dangling": 0, "moved": 0, "stale": 0, "empty": 0}
    barrier.wait()
    for _ in range(rounds):
        counts["rounds"] += 1
        pointed = store.latest(user)
        if pointed is None:
            counts["empty"] += 1
            time.sleep(0.001)  # let the register catch up
            continue
        try:
            store.delete_reference(user, pointed.key)
        except ReferenceNotFoundError:
            counts["stale"] += 1
            if not _settles(store, user, pointed.key):
                counts["dangling"] += 1
            continue
        counts["removed"] += 1
        after = store.latest(user)
        if after is not None and not _live(store, after.key):
            counts["moved" if _settles(store, user, after.key) else "dangling"] += 1
    return counts
