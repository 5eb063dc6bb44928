"""S3-only behaviour, against real HTTP endpoints (moto servers on 127.0.0.1).

The shared behaviour suite lives in ``test_local.py`` and already runs against
S3 through the parametrised ``backend`` fixture.  Here: object layout and
upload order, presigned URLs, settings, and failure handling: endpoint down,
server stopped mid-session, hung server, failed metadata upload, missing
bucket, access denied.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from vision.store import (
    ReferenceNotFoundError,
    S3ReferenceStore,
    StoreConfigError,
    StoreUnavailableError,
    new_key,
    s3_store_from_settings,
    store_from_settings,
)

# Generous for CI, far below botocore's defaults (60 s timeouts x 5 attempts).
QUICK_S = 5.0
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def all_objects(client: Any, bucket: str) -> list[str]:
    response = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in response.get("Contents", []))


def settings_for(endpoint_url: str, bucket: str, **extra: str) -> dict[str, str]:
    settings = {
        "VISION_STORE": "s3",
        "VISION_S3_BUCKET": bucket,
        "VISION_S3_ENDPOINT_URL": endpoint_url,
        "VISION_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "VISION_S3_CONNECT_TIMEOUT": "1",
        "VISION_S3_READ_TIMEOUT": "2",
    }
    settings.update(extra)
    return settings


def every_operation(store: S3ReferenceStore, key: str) -> dict[str, Callable[[], Any]]:
    """One call of each network-touching method."""
    return {
        "put": lambda: store.put("alice", b"img", b"feat", n_keypoints=1, width=1, height=1, content_type="image/png"),
        "list": lambda: store.list("alice"),
        "latest": lambda: store.latest("alice"),
        "users": store.users,
        "get": lambda: store.get(key),
        "load_image": lambda: store.load_image(key),
        "load_features": lambda: store.load_features(key),
        "save_features": lambda: store.save_features(key, b"x"),
        "delete": lambda: store.delete(key),
    }


def assert_unavailable_quickly(call: Callable[[], Any], reasons: set[str]) -> StoreUnavailableError:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        call()
    elapsed = time.monotonic() - started
    assert elapsed < QUICK_S, f"took {elapsed:.1f}s"
    assert info.value.reason in reasons, str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value.__cause__)
    return info.value


# ---------------------------------------------------------------------------
# Layout, URLs, prefixes
# ---------------------------------------------------------------------------


def test_objects_are_uploaded_metadata_last(
    moto_endpoint: str, make_client: Callable[..., Any], s3_bucket: str, put_ref: Callable[..., Any]
) -> None:
    client = make_client(moto_endpoint)
    uploaded: list[str] = []
    client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: uploaded.append(params["Key"])
    )
    record = put_ref(S3ReferenceStore(client, s3_bucket), "alice")
    stem = f"references/{record.key}"
    # the user's latest pointer comes after the reference's commit marker
    assert uploaded == [f"{stem}.img", f"{stem}.features", f"{stem}.json", "references/alice/latest.json"]
    assert all_objects(client, s3_bucket) == sorted(uploaded)
    head = client.head_object(Bucket=s3_bucket, Key=f"{stem}.img")
    assert head["ContentType"] == "image/jpeg"


def test_presigned_url_is_fetchable(s3_backend: Any, put_ref: Callable[..., Any], sample: Any) -> None:
    record = put_ref(s3_backend.store, "alice", content_type="image/webp")
    url = s3_backend.store.url(record.key)
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Expires=3600" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == sample.image
        assert response.headers["Content-Type"] == "image/webp"


def test_presigned_url_of_deleted_reference_is_404(s3_backend: Any, put_ref: Callable[..., Any]) -> None:
    record = put_ref(s3_backend.store, "alice")
    url = s3_backend.store.url(record.key)
    s3_backend.store.delete(record.key)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=5)
    assert info.value.code == 404


def test_presign_expiry_is_configurable(s3_client: Any, s3_bucket: str) -> None:
    store = S3ReferenceStore(s3_client, s3_bucket, presign_expiry_s=120)
    assert "X-Amz-Expires=120" in store.url(new_key("alice"))
    for bad in (0, -5, 8 * 24 * 3600, 1.5, True):
        with pytest.raises(StoreConfigError):
            S3ReferenceStore(s3_client, s3_bucket, presign_expiry_s=bad)


def test_prefixes_isolate_stores_in_one_bucket(s3_client: Any, s3_bucket: str, put_ref: Callable[..., Any]) -> None:
    first = S3ReferenceStore(s3_client, s3_bucket, prefix="one")  # "/" is added
    second = S3ReferenceStore(s3_client, s3_bucket, prefix="two/")
    root = S3ReferenceStore(s3_client, s3_bucket, prefix="")
    a = put_ref(first, "alice")
    b = put_ref(second, "alice")
    c = put_ref(root, "carol")
    assert first.list("alice") == [a]
    assert second.list("alice") == [b]
    assert root.list("carol") == [c]
    assert first.users() == ["alice"]
    # Seen from the bucket root, "one" and "two" are just top-level names.
    assert root.users() == ["carol", "one", "two"]
    assert all_objects(s3_client, s3_bucket)[0].startswith("carol/")
    for bad in ("/abs/", "../up/", "a/../b/"):
        with pytest.raises(StoreConfigError):
            S3ReferenceStore(s3_client, s3_bucket, prefix=bad)


def test_users_ignores_foreign_prefixes(
    s3_backend: Any, s3_client: Any, s3_bucket: str, put_ref: Callable[..., Any]
) -> None:
    put_ref(s3_backend.store, "alice")
    s3_client.put_object(Bucket=s3_bucket, Key="references/.hidden/x.json", Body=b"{}")
    s3_client.put_object(Bucket=s3_bucket, Key="references/loose-file.json", Body=b"{}")
    s3_client.put_object(Bucket=s3_bucket, Key="elsewhere/bob/x.json", Body=b"{}")
    assert s3_backend.store.users() == ["alice"]


def test_many_references_are_paginated(
    moto_endpoint: str, make_client: Callable[..., Any], s3_bucket: str, put_ref: Callable[..., Any]
) -> None:
    client = make_client(moto_endpoint)
    pages: list[int] = []

    def small_pages(params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = 5  # 12 references = 36 objects = 8 pages
        pages.append(1)

    client.meta.events.register("provide-client-params.s3.ListObjectsV2", small_pages)
    store = S3ReferenceStore(client, s3_bucket)
    records = [put_ref(store, "alice") for _ in range(12)]
    assert store.list("alice") == records[::-1]
    assert len(pages) > 1


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


def test_store_from_settings_builds_a_working_s3_store(
    moto_endpoint: str, s3_client: Any, create_bucket: Callable[[Any], str], put_ref: Callable[..., Any], sample: Any
) -> None:
    bucket = create_bucket(s3_client)
    store = store_from_settings(
        settings_for(
            moto_endpoint, bucket, VISION_STORE="S3", VISION_S3_PREFIX="custom/", VISION_S3_PRESIGN_EXPIRY="60"
        )
    )
    assert isinstance(store, S3ReferenceStore)
    record = put_ref(store, "alice")
    assert store.list("alice") == [record]
    assert all(key.startswith("custom/alice/") for key in all_objects(s3_client, bucket))
    url = store.url(record.key)
    assert "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == sample.image
    assert SECRET not in repr(store)


def test_settings_give_short_timeouts_and_path_style() -> None:
    store = s3_store_from_settings(settings_for("http://minio.local:9000", "bucket"))
    config = store.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.0, 2.0)
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    assert config.s3 == {"addressing_style": "path"}
    assert store.client.meta.region_name == "us-east-1"
    default = s3_store_from_settings({"VISION_S3_BUCKET": "b", "AWS_REGION": "eu-central-1"})
    assert default.client.meta.config.connect_timeout == 3.0
    assert default.client.meta.region_name == "eu-central-1"
    assert default.prefix == "references/"
    assert default.presign_expiry_s == 3600


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"VISION_S3_BUCKET": ""}, "VISION_S3_BUCKET"),
        ({"AWS_ACCESS_KEY_ID": ""}, "AWS_ACCESS_KEY_ID is not set"),
        ({"AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY is not set"),
        ({"VISION_S3_ENDPOINT_URL": "ftp://x"}, "http:// or https://"),
        ({"VISION_S3_PRESIGN_EXPIRY": "soon"}, "VISION_S3_PRESIGN_EXPIRY"),
        ({"VISION_S3_PRESIGN_EXPIRY": "0"}, "positive"),
        ({"VISION_S3_READ_TIMEOUT": "-1"}, "VISION_S3_READ_TIMEOUT"),
        ({"VISION_S3_PRESIGN_EXPIRY": "9999999"}, "presign expiry"),
    ],
)
def test_bad_s3_settings_are_config_errors(changes: dict[str, str], fragment: str) -> None:
    with pytest.raises(StoreConfigError, match=fragment) as info:
        s3_store_from_settings(settings_for("http://127.0.0.1:9", "bucket", **changes))
    assert SECRET not in str(info.value)
    assert "AKIDEXAMPLE" not in str(info.value)


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------


def test_endpoint_down_fails_quickly_everywhere(closed_port: int) -> None:
    store = s3_store_from_settings(settings_for(f"http://127.0.0.1:{closed_port}", "bucket"))
    key = new_key("alice")
    for name, call in every_operation(store, key).items():
        error = assert_unavailable_quickly(call, {"unreachable"})
        assert "unreachable" in str(error), name
    # Signing needs no network: a URL can still be made (fetching it will fail).
    assert store.url(key).startswith(f"http://127.0.0.1:{closed_port}/bucket/references/")


def test_server_stopped_between_put_and_load(
    private_moto: Any,
    make_client: Callable[..., Any],
    create_bucket: Callable[[Any], str],
    put_ref: Callable[..., Any],
    sample: Any,
) -> None:
    client = make_client(private_moto.url)
    store = S3ReferenceStore(client, create_bucket(client))
    record = put_ref(store, "alice")
    assert store.load_image(record.key) == sample.image  # pooled connection now open
    private_moto.stop()
    for call in (
        lambda: store.load_image(record.key),
        lambda: store.load_features(record.key),
        lambda: store.get(record.key),
        lambda: store.list("alice"),
        lambda: put_ref(store, "alice"),
    ):
        assert_unavailable_quickly(call, {"unreachable", "timeout"})


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """An endpoint that accepts TCP connections but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # the kernel completes handshakes; nobody reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_hung_server_times_out(hung_endpoint: str) -> None:
    store = s3_store_from_settings(
        settings_for(hung_endpoint, "bucket", VISION_S3_READ_TIMEOUT="0.5", VISION_S3_MAX_ATTEMPTS="1")
    )
    error = assert_unavailable_quickly(lambda: store.list("alice"), {"timeout"})
    assert "timed out" in str(error)
    assert_unavailable_quickly(lambda: store.load_image(new_key("alice")), {"timeout"})


@pytest.mark.parametrize(
    ("failing_suffix", "error", "reason"),
    [
        (".json", EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "unreachable"),
        (".json", ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject"), "access-denied"),
        (".json", ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "PutObject"), "server-error"),
        (".features", ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "PutObject"), "server-error"),
    ],
)
def test_failed_upload_leaves_no_objects(
    moto_endpoint: str,
    make_client: Callable[..., Any],
    s3_bucket: str,
    put_ref: Callable[..., Any],
    failing_suffix: str,
    error: Exception,
    reason: str,
) -> None:
    client = make_client(moto_endpoint)
    attempted: list[str] = []

    def fail_on_suffix(params: dict[str, Any], **_: Any) -> None:
        attempted.append(params["Key"])
        if params["Key"].endswith(failing_suffix):
            raise error

    client.meta.events.register("provide-client-params.s3.PutObject", fail_on_suffix)
    store = S3ReferenceStore(client, s3_bucket)
    with pytest.raises(StoreUnavailableError) as info:
        put_ref(store, "alice")
    assert info.value.reason == reason
    assert attempted[-1].endswith(failing_suffix)
    assert all_objects(client, s3_bucket) == []
    assert store.list("alice") == []


def test_missing_bucket_is_reported(s3_client: Any, put_ref: Callable[..., Any]) -> None:
    store = S3ReferenceStore(s3_client, "no-such-bucket-here")
    for call in (lambda: put_ref(store, "alice"), lambda: store.list("alice"), store.users):
        error = assert_unavailable_quickly(call, {"no-bucket"})
        assert "does not exist" in str(error)
    with pytest.raises(StoreUnavailableError):
        store.get(new_key("alice"))  # moto answers NoSuchBucket here too


def test_access_denied_is_reported(s3_client: Any) -> None:
    store = S3ReferenceStore(s3_client, "bucket")
    with Stubber(s3_client) as stubber:
        stubber.add_client_error(
            "list_objects_v2",
            service_error_code="AccessDenied",
            service_message="Access Denied",
            http_status_code=403,
        )
        stubber.add_client_error(
            "get_object",
            service_error_code="InvalidAccessKeyId",
            service_message="The key does not exist",
            http_status_code=403,
        )
        with pytest.raises(StoreUnavailableError, match="access denied") as info:
            store.list("alice")
        assert info.value.reason == "access-denied"
        with pytest.raises(StoreUnavailableError) as info:
            store.get(new_key("alice"))
        assert info.value.reason == "access-denied"


def test_no_credentials_is_reported(s3_client: Any) -> None:
    from botocore.exceptions import NoCredentialsError

    store = S3ReferenceStore(s3_client, "bucket")

    class NoCreds:
        def get_object(self, **_: Any) -> Any:
            raise NoCredentialsError()

    store.client = NoCreds()
    with pytest.raises(StoreUnavailableError, match="AWS_ACCESS_KEY_ID") as info:
        store.get(new_key("alice"))
    assert info.value.reason == "no-credentials"


def test_delete_of_unknown_key_still_removes_orphans(s3_backend: Any, s3_client: Any, s3_bucket: str) -> None:
    orphan = new_key("alice")
    s3_backend.write_raw(orphan, ".img", b"x")
    with pytest.raises(ReferenceNotFoundError):
        s3_backend.store.delete(orphan)
    assert all_objects(s3_client, s3_bucket) == []
