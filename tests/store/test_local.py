"""Reference-store behaviour.

The first part is the *contract suite*: every test takes the ``backend``
fixture (see ``conftest.py``) and so runs against both the local store and the
S3 store (moto server over HTTP).  The second part covers what only the local
store has: the file layout, crash safety, and configuration via
``store_from_settings`` / ``settings_from_env_and_secrets``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from vision.core.settings import settings_from_env_and_secrets
from vision.store import (
    CorruptReferenceError,
    InvalidUserIdError,
    LocalReferenceStore,
    ReferenceNotFoundError,
    ReferenceRecord,
    ReferenceStore,
    StoreConfigError,
    StoreUnavailableError,
    new_key,
    store_from_settings,
)

# conftest.py is not importable (tests/ has no packages): its Backend type is Any here.
Backend = Any

HOSTILE_USER_IDS = ["../x", "a/b", "..", ".", "a\x00b", "x" * 5000, "", "../../etc/passwd", "a\\b"]
HOSTILE_KEYS = [
    "../x/0123456789abcdef0123456789abcdef",
    "bob/../../0123456789abcdef0123456789abcdef",
    "bob/0123456789abcdef0123456789abcdef/../x",
    "bob/not-a-uuid",
    "bob",
    "",
]


# ---------------------------------------------------------------------------
# Contract suite: both backends
# ---------------------------------------------------------------------------


def test_store_satisfies_the_protocol(store: ReferenceStore) -> None:
    assert isinstance(store, ReferenceStore)


def test_put_returns_a_complete_record(store: ReferenceStore, put_ref: Callable[..., Any]) -> None:
    record = put_ref(store, "alice", n_keypoints=91, width=800, height=600, content_type="image/png")
    assert re.fullmatch(r"alice/[0-9a-f]{32}", record.key)
    assert record.user_id == "alice"
    assert record.created_at.tzinfo is not None
    assert record.created_at.utcoffset().total_seconds() == 0
    assert (record.n_keypoints, record.width, record.height) == (91, 800, 600)
    assert record.content_type == "image/png"
    document = json.loads(json.dumps(record.to_json()))
    assert ReferenceRecord.from_json(document) == record


def test_round_trip_get_and_load(store: ReferenceStore, put_ref: Callable[..., Any], sample: Any) -> None:
    record = put_ref(store, "alice")
    assert store.get(record.key) == record
    assert store.load_image(record.key) == sample.image
    assert store.load_features(record.key) == sample.features


def test_bytearray_and_empty_features_are_accepted(store: ReferenceStore, put_ref: Callable[..., Any]) -> None:
    record = put_ref(store, "alice", image=bytearray(b"img"), features=b"")
    assert store.load_image(record.key) == b"img"
    assert store.load_features(record.key) == b""


def test_list_is_newest_first_and_per_user(store: ReferenceStore, put_ref: Callable[..., Any]) -> None:
    first = put_ref(store, "alice")
    other = put_ref(store, "bob")
    second = put_ref(store, "alice")
    third = put_ref(store, "alice")
    assert store.list("alice") == [third, second, first]
    assert store.latest("alice") == third
    assert store.list("bob") == [other]
    # Prefix-named users are not mixed up ("alice" vs "alice2").
    put_ref(store, "alice2")
    assert [r.key for r in store.list("alice")] == [third.key, second.key, first.key]


def test_unknown_user_has_no_references(store: ReferenceStore) -> None:
    assert store.list("nobody") == []
    assert store.latest("nobody") is None
    assert store.users() == []


def test_users_lists_each_user_once_sorted(store: ReferenceStore, put_ref: Callable[..., Any]) -> None:
    for user in ["carol", "alice", "bob", "alice", "Alice"]:
        put_ref(store, user)
    assert store.users() == ["Alice", "alice", "bob", "carol"]


def test_save_features_replaces_the_blob(store: ReferenceStore, put_ref: Callable[..., Any], sample: Any) -> None:
    record = put_ref(store, "alice")
    store.save_features(record.key, b"recomputed")
    assert store.load_features(record.key) == b"recomputed"
    assert store.load_image(record.key) == sample.image
    assert store.get(record.key) == record


def test_save_features_of_unknown_key_fails(store: ReferenceStore) -> None:
    with pytest.raises(ReferenceNotFoundError):
        store.save_features(new_key("alice"), b"x")


def test_missing_features_blob_loads_as_none(backend: Backend, put_ref: Callable[..., Any]) -> None:
    record = put_ref(backend.store, "alice")
    backend.remove_raw(record.key, ".features")
    assert backend.store.load_features(record.key) is None
    # The caller recomputes and saves; that works without the old blob.
    backend.store.save_features(record.key, b"new")
    assert backend.store.load_features(record.key) == b"new"


def test_missing_image_is_corrupt_not_absent(backend: Backend, put_ref: Callable[..., Any]) -> None:
    # The contract's "Missing Std Picture": a reference exists but does not load.
    record = put_ref(backend.store, "alice")
    backend.remove_raw(record.key, ".img")
    with pytest.raises(CorruptReferenceError):
        backend.store.load_image(record.key)


def test_delete_removes_everything(backend: Backend, put_ref: Callable[..., Any]) -> None:
    store = backend.store
    keep = put_ref(store, "alice")
    gone = put_ref(store, "alice")
    store.delete(gone.key)
    assert store.list("alice") == [keep]
    with pytest.raises(ReferenceNotFoundError):
        store.get(gone.key)
    with pytest.raises(ReferenceNotFoundError):
        store.load_image(gone.key)
    with pytest.raises(ReferenceNotFoundError):
        store.load_features(gone.key)
    with pytest.raises(ReferenceNotFoundError):
        store.delete(gone.key)
    assert not [name for name in backend.objects() if gone.key.split("/")[1] in name]
    store.delete(keep.key)
    assert store.list("alice") == []
    assert store.latest("alice") is None


def test_unknown_key_is_not_found(store: ReferenceStore) -> None:
    key = new_key("alice")
    for call in (store.get, store.load_image, store.load_features, store.delete):
        with pytest.raises(ReferenceNotFoundError) as info:
            call(key)
        assert isinstance(info.value, KeyError)  # callers may catch KeyError
        assert key in str(info.value)


@pytest.mark.parametrize("user_id", HOSTILE_USER_IDS)
def test_hostile_user_ids_are_rejected_and_nothing_is_written(
    backend: Backend, put_ref: Callable[..., Any], user_id: str
) -> None:
    with pytest.raises(InvalidUserIdError):
        put_ref(backend.store, user_id)
    with pytest.raises(InvalidUserIdError):
        backend.store.list(user_id)
    with pytest.raises(InvalidUserIdError):
        backend.store.latest(user_id)
    assert backend.objects() == []


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_rejected(backend: Backend, key: str) -> None:
    store = backend.store
    for call in (store.get, store.load_image, store.load_features, store.delete, store.url):
        with pytest.raises(InvalidUserIdError):
            call(key)
    with pytest.raises(InvalidUserIdError):
        store.save_features(key, b"x")
    assert backend.objects() == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"image": b""}, ValueError),
        ({"image": "text"}, TypeError),
        ({"features": None}, TypeError),
        ({"content_type": "image/gif"}, ValueError),
        ({"content_type": "text/html"}, ValueError),
        ({"n_keypoints": -1}, ValueError),
        ({"n_keypoints": 3.5}, TypeError),
        ({"width": 0}, ValueError),
        ({"height": True}, TypeError),
    ],
)
def test_bad_put_arguments_write_nothing(
    backend: Backend, put_ref: Callable[..., Any], overrides: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        put_ref(backend.store, "alice", **overrides)
    assert backend.objects() == []


def test_concurrent_puts_from_16_threads(backend: Backend, put_ref: Callable[..., Any]) -> None:
    store = backend.store
    users = [f"user{i % 4}" for i in range(16)]  # several threads per user too
    results: list[ReferenceRecord] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))

    def work(index: int, user: str) -> None:
        try:
            barrier.wait()
            record = put_ref(store, user, image=f"image-{index}".encode(), n_keypoints=index)
            with lock:
                results.append(record)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len({r.key for r in results}) == 16
    listed = [r for user in sorted(set(users)) for r in store.list(user)]
    assert sorted(r.key for r in listed) == sorted(r.key for r in results)
    for record in results:
        assert store.load_image(record.key) == f"image-{record.n_keypoints}".encode()
    assert store.users() == sorted(set(users))


def test_uncommitted_blobs_are_not_listed(backend: Backend, put_ref: Callable[..., Any], sample: Any) -> None:
    # What a crash between the blob uploads and the metadata leaves behind.
    orphan = new_key("alice")
    backend.write_raw(orphan, ".img", sample.image)
    backend.write_raw(orphan, ".features", sample.features)
    assert backend.store.list("alice") == []
    assert backend.store.latest("alice") is None
    with pytest.raises(ReferenceNotFoundError):
        backend.store.get(orphan)
    with pytest.raises(ReferenceNotFoundError):
        backend.store.load_image(orphan)
    record = put_ref(backend.store, "alice")
    assert backend.store.list("alice") == [record]


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{not json", b"\xff\xfe", b"[]", b'{"version": 1}', b'{"version": 99}'],
)
def test_corrupt_metadata_is_skipped_by_list_and_reported_by_get(
    backend: Backend, put_ref: Callable[..., Any], garbage: bytes
) -> None:
    good = put_ref(backend.store, "alice")
    bad = put_ref(backend.store, "alice")
    backend.write_raw(bad.key, ".json", garbage)
    assert backend.store.list("alice") == [good]
    with pytest.raises(CorruptReferenceError):
        backend.store.get(bad.key)
    with pytest.raises(CorruptReferenceError):
        backend.store.load_image(bad.key)


def test_metadata_claiming_another_key_is_corrupt(backend: Backend, put_ref: Callable[..., Any]) -> None:
    # A metadata document copied under another name must not be trusted.
    victim = put_ref(backend.store, "victim")
    mine = put_ref(backend.store, "mallory")
    document = {"version": 1, **victim.to_json()}
    backend.write_raw(mine.key, ".json", json.dumps(document).encode())
    assert backend.store.list("mallory") == []
    with pytest.raises(CorruptReferenceError):
        backend.store.get(mine.key)


# ---------------------------------------------------------------------------
# Local store only
# ---------------------------------------------------------------------------


def test_local_layout_and_no_url(tmp_path: Path, put_ref: Callable[..., Any]) -> None:
    store = LocalReferenceStore(tmp_path)
    record = put_ref(store, "alice")
    ref_id = record.key.split("/")[1]
    assert sorted(p.name for p in (tmp_path / "alice").iterdir()) == sorted(
        [*(f"{ref_id}{suffix}" for suffix in (".img", ".features", ".json")), "latest.json", ".latest.lock"]
    )
    assert store.url(record.key) is None


def test_local_root_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalReferenceStore("refs")
    assert store.root == tmp_path / "refs"
    assert LocalReferenceStore().root == tmp_path / "references"


def test_failed_metadata_write_leaves_no_files(
    tmp_path: Path, put_ref: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalReferenceStore(tmp_path)
    real_write = LocalReferenceStore._write_atomic

    def failing_write(path: Path, data: bytes) -> None:
        if path.suffix == ".json":
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(LocalReferenceStore, "_write_atomic", staticmethod(failing_write))
    with pytest.raises(StoreUnavailableError, match="No space left") as info:
        put_ref(store, "alice")
    assert info.value.reason == "io-error"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert store.list("alice") == []


def test_hard_crash_between_blobs_and_metadata_leaves_nothing_listed(tmp_path: Path) -> None:
    # A real crash: the process dies (os._exit, no cleanup) while writing the metadata.
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from vision.store.local import LocalReferenceStore

        real = LocalReferenceStore._write_atomic
        def dying(path, data):
            if path.suffix == ".json":
                os._exit(17)
            real(path, data)
        LocalReferenceStore._write_atomic = staticmethod(dying)
        LocalReferenceStore(Path({str(tmp_path)!r})).put(
            "alice", b"img", b"feat", n_keypoints=1, width=1, height=1, content_type="image/png")
        """
    )
    repo_root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=repo_root, timeout=60)
    assert done.returncode == 17
    leftovers = sorted(p.suffix for p in (tmp_path / "alice").iterdir())
    assert leftovers == [".features", ".img"]  # orphans, but no metadata
    store = LocalReferenceStore(tmp_path)
    assert store.list("alice") == []
    assert store.users() == []


def test_temp_files_and_strangers_are_ignored(tmp_path: Path, put_ref: Callable[..., Any]) -> None:
    store = LocalReferenceStore(tmp_path)
    record = put_ref(store, "alice")
    (tmp_path / "alice" / f".{record.key.split('/')[1]}.json.abc123.tmp").write_text("{half")
    (tmp_path / "alice" / "notes.json").write_text("{}")
    (tmp_path / "README").write_text("hi")
    (tmp_path / ".cache").mkdir()
    (tmp_path / "empty-user").mkdir()
    assert store.list("alice") == [record]
    assert store.users() == ["alice"]


def test_unwritable_root_is_store_unavailable(tmp_path: Path, put_ref: Callable[..., Any]) -> None:
    # Running as root defeats chmod, so block the root with a plain file.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    store = LocalReferenceStore(blocker / "refs")
    with pytest.raises(StoreUnavailableError, match="cannot store"):
        put_ref(store, "alice")
    assert store.list("alice") == []


def test_created_at_is_strictly_increasing(tmp_path: Path, put_ref: Callable[..., Any]) -> None:
    store = LocalReferenceStore(tmp_path)
    records = [put_ref(store, "alice") for _ in range(30)]
    stamps = [r.created_at for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(s.tzinfo == UTC for s in stamps)
    assert store.list("alice") == records[::-1]


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def test_store_from_settings_defaults_to_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_from_settings({})
    assert isinstance(store, LocalReferenceStore)
    assert store.root == tmp_path / "references"
    assert store_from_settings({"VISION_STORE": " Local ", "VISION_STORE_DIR": "x"}).root == tmp_path / "x"


def test_store_from_settings_rejects_unknown_kind_and_bucketless_s3() -> None:
    with pytest.raises(StoreConfigError, match="local, s3"):
        store_from_settings({"VISION_STORE": "ftp"})
    with pytest.raises(StoreConfigError, match="VISION_S3_BUCKET"):
        store_from_settings({"VISION_STORE": "s3"})
    with pytest.raises(StoreConfigError, match="VISION_S3_BUCKET"):
        store_from_settings({"VISION_STORE": "s3", "VISION_S3_BUCKET": "  "})


def test_settings_merge_flattens_nested_secrets() -> None:
    env = {"VISION_STORE": "local", "HOME": "/root", "VISION_S3_REGION": "eu-west-1"}
    secrets = {
        "VISION_STORE": "s3",
        "clarifai_pat": "pat",
        "s3": {"bucket": "photos", "endpoint_url": "http://minio:9000", "presign_expiry": 600},
        "aws": {"access_key_id": "AKIA", "secret_access_key": "shh"},
        "vision": {"s3": {"prefix": "refs/"}},
        "flags": {"debug": True, "unused": None},
    }
    merged = settings_from_env_and_secrets(env, secrets)
    assert merged["VISION_STORE"] == "s3"  # secrets win
    assert merged["HOME"] == "/root"
    assert merged["VISION_S3_REGION"] == "eu-west-1"
    assert merged["CLARIFAI_PAT"] == "pat"
    assert merged["VISION_S3_BUCKET"] == "photos"
    assert merged["S3_BUCKET"] == "photos"
    assert merged["VISION_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert merged["VISION_S3_PRESIGN_EXPIRY"] == "600"
    assert merged["AWS_ACCESS_KEY_ID"] == "AKIA"
    assert merged["AWS_SECRET_ACCESS_KEY"] == "shh"
    assert merged["VISION_S3_PREFIX"] == "refs/"
    assert merged["VISION_FLAGS_DEBUG"] == "true"
    assert "FLAGS_UNUSED" not in merged
    assert env == {"VISION_STORE": "local", "HOME": "/root", "VISION_S3_REGION": "eu-west-1"}


def test_settings_aliases_do_not_override_explicit_names() -> None:
    secrets = {"VISION_S3_BUCKET": "explicit", "s3": {"bucket": "alias"}}
    assert settings_from_env_and_secrets({}, secrets)["VISION_S3_BUCKET"] == "explicit"


def test_settings_without_secrets_is_a_copy_of_env() -> None:
    env = {"A": "1"}
    merged = settings_from_env_and_secrets(env, None)
    assert merged == env and merged is not env


def test_settings_tolerate_streamlit_without_a_secrets_file() -> None:
    class MissingSecrets(dict):
        def items(self):  # type: ignore[override]
            raise FileNotFoundError("No secrets files found")

    assert settings_from_env_and_secrets({"A": "1"}, MissingSecrets()) == {"A": "1"}
