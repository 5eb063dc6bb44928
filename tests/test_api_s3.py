"""The API with the S3 reference store, against moto's real HTTP server on loopback."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

from api_fixtures import DUMMY_KEY_ID, DUMMY_SECRET, FakeTagger, b64, free_port, photo, s3_client
from fastapi.testclient import TestClient
from moto_server import start_moto, stop_moto

from api import create_app
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import S3ReferenceStore


def new_bucket(url: str) -> str:
    name = f"refs-{uuid.uuid4().hex[:12]}"
    s3_client(url).create_bucket(Bucket=name)
    return name


def objects(url: str, bucket: str) -> list[str]:
    listing = s3_client(url).list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listing.get("Contents", [])]


def s3_app(url: str, bucket: str):
    store = S3ReferenceStore(s3_client(url), bucket)
    return create_app({}, store=store, tagger=FakeTagger(), thresholds=Profile()), store


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return b64(photo("DSC_0410.JPG")), b64(photo("DSC_0411.JPG"))


def test_register_and_verify_with_s3(moto_url, pair):
    bucket = new_bucket(moto_url)
    app, store = s3_app(moto_url, bucket)
    with TestClient(app) as c:
        body = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}).json()
        assert (body["status"], body["message"], body["result"]) == (200, v.GOOD_PICTURE, True)
        assert body["key"].startswith("hong/") and store.latest("hong").key == body["key"]
        # the URL is presigned and serves the stored photo (re-encoded at the working resolution)
        assert "X-Amz-Signature" in body["url"]
        fetched = httpx.get(body["url"], timeout=10)
        assert fetched.status_code == 200 and fetched.content == store.load_image(body["key"])
        assert fetched.content.startswith(b"\xff\xd8") and len(fetched.content) < len(photo("DSC_0410.JPG"))

        body = c.post("/auth/feature", json={"data": pair[1], "name": "hong"}).json()
        assert (body["status"], body["message"], body["result"]) == (200, v.COMPLETE, True)
        body = c.post("/auth/feature", json={"data": b64(photo("sacre_coeur1.jpg")), "name": "hong"}).json()
        assert (body["status"], body["message"]) == (200, v.WRONG_PICTURE)
        body = c.post("/auth/feature", json={"data": pair[1], "name": "nobody"}).json()
        assert (body["status"], body["message"]) == (400, v.NO_STD_IMG)
        # a hostile id reaches no S3 key
        body = c.post("/auth/stdimg", json={"data": pair[0], "name": "../hong"}).json()
        assert (body["status"], body["message"]) == (400, v.TAKE_PICTURE_AGAIN)
    # image, features, metadata and fingerprint of the one reference, the latest pointer,
    # the accepted proof's fingerprint, and its compact entry in the cross-user index (no user id in its key)
    names = objects(moto_url, bucket)
    assert len(names) == 7 and sum("/proofs/" in n for n in names) == 1, names
    index = [n for n in names if ".replay-index/" in n]
    assert len(index) == 1 and "hong" not in index[0], names


def test_s3_from_settings_never_logs_the_secret(moto_url, pair, caplog):
    bucket = new_bucket(moto_url)
    settings = {
        "VISION_STORE": "s3",
        "VISION_S3_BUCKET": bucket,
        "VISION_S3_ENDPOINT_URL": moto_url,
        "VISION_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "VISION_S3_MAX_ATTEMPTS": "1",
    }
    app = create_app(settings, tagger=FakeTagger(), thresholds=Profile())
    with caplog.at_level(logging.DEBUG, logger="vision"), TestClient(app) as c:
        body = c.post("/auth/test", json={"data": pair[0], "name": "lee"}).json()
        assert body["message"] == v.GOOD_PICTURE
        body = c.post("/auth/feature", json={"data": pair[1], "name": "lee"}).json()
        assert body["message"] == v.COMPLETE
    assert DUMMY_SECRET not in caplog.text


def test_stale_features_recomputed_and_saved_to_s3(moto_url, pair):
    bucket = new_bucket(moto_url)
    app, store = s3_app(moto_url, bucket)
    with TestClient(app) as c:
        key = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}).json()["key"]
        s3_client(moto_url).delete_object(Bucket=bucket, Key=f"references/{key}.features")
        assert store.load_features(key) is None
        body = c.post("/auth/feature", json={"data": pair[1], "name": "hong"}).json()
        assert body["message"] == v.COMPLETE
        assert store.load_features(key) is not None


def test_s3_goes_away_between_register_and_verify(pair, caplog):
    server, url = start_moto()
    try:
        bucket = new_bucket(url)
        app, _store = s3_app(url, bucket)
        with TestClient(app) as c:
            body = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}).json()
            assert body["message"] == v.GOOD_PICTURE
            stop_moto(server)
            with caplog.at_level(logging.ERROR, logger="vision"):
                res = c.post("/auth/feature", json={"data": pair[1], "name": "hong"})
            assert res.status_code == 500
            assert (res.json()["message"], res.json()["result"]) == (v.MISSING_STD_PICTURE, False)
            assert "unavailable" in res.json()["reason"]
            assert any("store unavailable" in r.getMessage() for r in caplog.records)
            assert DUMMY_SECRET not in caplog.text
            # /healthz does not depend on S3
            assert c.get("/healthz").status_code == 200
    finally:
        stop_moto(server)


def test_s3_unreachable_at_register(moto_url, pair, caplog):
    bucket = new_bucket(moto_url)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3ReferenceStore(s3_client(dead), bucket)
    app = create_app({}, store=store, tagger=FakeTagger(), thresholds=Profile())
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="vision"):
        res = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"})
    assert res.status_code == 500
    assert (res.json()["message"], res.json()["result"]) == (v.SOMETHING_WRONG, False)
    assert "key" not in res.json() and "url" not in res.json()
    assert any("unreachable" in r.getMessage() for r in caplog.records)
    # the bucket (on the live server) holds nothing of this user
    assert objects(moto_url, bucket) == []


def test_s3_failing_mid_register_leaves_no_partial_reference(moto_url, pair):
    """The connection drops at the third upload (metadata): nothing is listed, no object remains."""
    from botocore.exceptions import EndpointConnectionError

    bucket = new_bucket(moto_url)
    real = s3_client(moto_url)

    class Flaky:
        def __init__(self) -> None:
            self.puts = 0

        def put_object(self, **kwargs):
            self.puts += 1
            if self.puts == 3:
                real.put_object(**kwargs)  # it lands, but the answer is lost
                raise EndpointConnectionError(endpoint_url=moto_url)
            return real.put_object(**kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    store = S3ReferenceStore(Flaky(), bucket)
    app = create_app({}, store=store, tagger=FakeTagger(), thresholds=Profile())
    with TestClient(app) as c:
        res = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"})
        assert res.status_code == 500 and res.json()["message"] == v.SOMETHING_WRONG
        res = c.post("/auth/feature", json={"data": pair[1], "name": "hong"})
        assert res.status_code == 400 and res.json()["message"] == v.NO_STD_IMG
    assert store.list("hong") == [] and objects(moto_url, bucket) == []
