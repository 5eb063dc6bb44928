"""Fixtures for the reference-store tests.

``backend`` is parametrised over ``local`` and ``s3`` so one behaviour suite
(``test_local.py``'s contract tests) runs against both stores.  The S3 store
talks HTTP to a real moto server on 127.0.0.1 (no in-process mocking of
botocore), with dummy credentials given to the test client only: nothing is
put in ``os.environ``.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from moto_server import s3_client as new_s3_client
from moto_server import start_moto, stop_moto

from vision.store import LocalReferenceStore, ReferenceStore, split_key

DUMMY_KEY_ID = "testing-key-id"
DUMMY_SECRET = "testing-secret-do-not-print"


def make_s3_client(endpoint_url: str, **config: Any) -> Any:
    """:func:`moto_server.s3_client` with this folder's dummy credentials."""
    return new_s3_client(endpoint_url, DUMMY_KEY_ID, DUMMY_SECRET, **config)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server shared by the session."""
    server, url = start_moto()
    try:
        yield url
    finally:
        stop_moto(server)


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return make_s3_client(moto_endpoint)


def new_bucket(client: Any) -> str:
    """Create a uniquely named bucket (moto state is shared by every server in the process)."""
    name = f"refs-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_client() -> Callable[..., Any]:
    """``make_client(endpoint_url, **config)``: a fresh test client (see :func:`make_s3_client`)."""
    return make_s3_client


@pytest.fixture
def private_moto() -> Iterator[SimpleNamespace]:
    """A moto server of the test's own (for tests that stop it).

    Yields a namespace with ``url`` and ``stop()``; stopped at teardown if the
    test did not.
    """
    server, url = start_moto()
    state = {"stopped": False}

    def stop() -> None:
        if not state["stopped"]:
            state["stopped"] = True
            stop_moto(server)

    try:
        yield SimpleNamespace(url=url, stop=stop)
    finally:
        stop()


@pytest.fixture
def create_bucket() -> Callable[[Any], str]:
    """``create_bucket(client)``: make a fresh uniquely named bucket."""
    return new_bucket


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    return new_bucket(s3_client)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Backend:
    """A store plus raw access to what it wrote, for white-box checks."""

    name: str
    store: ReferenceStore
    #: Every stored file / object name, relative to the store root / prefix.
    objects: Callable[[], list[str]]
    #: Write raw bytes as ``<key><suffix>`` behind the store's back.
    write_raw: Callable[[str, str, bytes], None]
    #: Remove ``<key><suffix>`` behind the store's back.
    remove_raw: Callable[[str, str], None]


def _local_backend(root: Path) -> Backend:
    store = LocalReferenceStore(root)

    def path(key: str, suffix: str) -> Path:
        user_id, ref_id = split_key(key)
        return root / user_id / f"{ref_id}{suffix}"

    def objects() -> list[str]:
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def write_raw(key: str, suffix: str, data: bytes) -> None:
        path(key, suffix).parent.mkdir(parents=True, exist_ok=True)
        path(key, suffix).write_bytes(data)

    return Backend("local", store, objects, write_raw, lambda k, s: path(k, s).unlink())


def _s3_backend(client: Any, bucket: str) -> Backend:
    from vision.store import S3ReferenceStore

    store = S3ReferenceStore(client, bucket, prefix="references/")

    def objects() -> list[str]:
        names = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            names += [item["Key"] for item in page.get("Contents", [])]
        return sorted(names)

    def write_raw(key: str, suffix: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"references/{key}{suffix}", Body=data)

    def remove_raw(key: str, suffix: str) -> None:
        client.delete_object(Bucket=bucket, Key=f"references/{key}{suffix}")

    return Backend("s3", store, objects, write_raw, remove_raw)


@pytest.fixture
def local_backend(tmp_path: Path) -> Backend:
    return _local_backend(tmp_path / "references")


@pytest.fixture
def s3_backend(s3_client: Any, s3_bucket: str) -> Backend:
    return _s3_backend(s3_client, s3_bucket)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test runs once per store backend."""
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def store(backend: Backend) -> ReferenceStore:
    return backend.store


SAMPLE_IMAGE = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
SAMPLE_FEATURES = b"\x00\x01features-blob\x02"


@pytest.fixture
def sample() -> SimpleNamespace:
    """The bytes ``put_ref`` stores: ``sample.image`` and ``sample.features``."""
    return SimpleNamespace(image=SAMPLE_IMAGE, features=SAMPLE_FEATURES)


@pytest.fixture
def put_ref() -> Callable[..., Any]:
    """``put_ref(store, user_id, **overrides)``: put a sample reference."""

    def put(store: ReferenceStore, user_id: str, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "image": SAMPLE_IMAGE,
            "features": SAMPLE_FEATURES,
            "n_keypoints": 120,
            "width": 640,
            "height": 480,
            "content_type": "image/jpeg",
        }
        args.update(overrides)
        image, features = args.pop("image"), args.pop("features")
        return store.put(user_id, image, features, **args)

    return put
