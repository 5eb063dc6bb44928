"""TestClient tests of every contract case and every bad input of the HTTP API."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from api_fixtures import (
    ASSETS,
    MODEL,
    FakeTagger,
    b64,
    bomb_png,
    failing_tagger,
    gray_jpeg,
    photo,
)
from fastapi.testclient import TestClient

from api import create_app
from vision.core import verdict as v
from vision.flows.prepare import prepare_photo
from vision.matchers.akaze import FeatureSettings, features_from_bytes, features_to_bytes
from vision.profile import Profile, save_profile
from vision.store import LocalReferenceStore, StoreUnavailableError

HOSTILE_IDS = ["../x", "a/b", "x" * 5000, "..", ".hidden", "a\x00b", "", "bob smith", "a\\b", "%2e%2e"]


@pytest.fixture
def store(tmp_path: Path) -> LocalReferenceStore:
    return LocalReferenceStore(tmp_path / "refs")


@pytest.fixture
def tagger() -> FakeTagger:
    return FakeTagger()


@pytest.fixture
def client(store: LocalReferenceStore, tagger: FakeTagger) -> TestClient:
    app = create_app({}, store=store, tagger=tagger, thresholds=Profile())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return b64(photo("DSC_0410.JPG")), b64(photo("DSC_0411.JPG"))


@pytest.fixture(scope="module")
def other() -> str:
    return b64(photo("sacre_coeur1.jpg"))


def assert_answer(resp, status: int, message: str, result: bool) -> dict:
    body = resp.json()
    assert resp.status_code == status, body
    assert (body["status"], body["message"], body["result"]) == (status, message, result), body
    assert "detail" not in body and "Traceback" not in resp.text
    return body


def _thumb_distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two photos' 64x64 gray thumbnails (0: the same picture)."""

    def thumb(data: bytes) -> np.ndarray:
        gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        return cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)

    return float(np.abs(thumb(a) - thumb(b)).mean())


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# -- register ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/stdimg", "/auth/test"])
def test_register_good_picture_with_name(client, store, pair, path):
    body = assert_answer(client.post(path, json={"data": pair[0], "name": "hong"}), 200, v.GOOD_PICTURE, True)
    assert body["key"].startswith("hong/") and body["name"] == "hong"
    assert "url" not in body  # the local store has no URL
    assert body["keypoints"] >= 80 and body["reason"]
    latest = store.latest("hong")
    assert latest is not None and latest.key == body["key"]
    stored = store.load_image(latest.key)  # re-encoded at the working resolution, no metadata
    assert cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR).shape == (666, 1000, 3)
    assert _thumb_distance(stored, photo("DSC_0410.JPG")) < 3
    assert features_from_bytes(store.load_features(latest.key)).settings == Profile().feature_settings
    assert latest.content_type == "image/jpeg" and (latest.width, latest.height) == (1000, 666)


def test_register_without_name_stores_under_anonymous_id(client, store, pair):
    body = assert_answer(client.post("/auth/stdimg", json={"data": pair[0]}), 200, v.GOOD_PICTURE, True)
    name = body["name"]
    assert name.startswith("anon-") and len(name) == 37 and body["key"].startswith(name + "/")
    assert store.latest(name).key == body["key"]
    # the returned name is usable for verification
    assert_answer(client.post("/auth/feature", json={"data": pair[1], "name": name}), 200, v.COMPLETE, True)
    # two anonymous registrations never share an id
    again = client.post("/auth/stdimg", json={"data": pair[0], "name": None}).json()
    assert again["name"] != name


def test_register_data_url_prefix_and_wrapped_lines(client, pair):
    text = pair[0]
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert_answer(
        client.post("/auth/stdimg", json={"data": "data:image/jpeg;base64," + wrapped, "name": "u1"}),
        200,
        v.GOOD_PICTURE,
        True,
    )


def test_register_latest_wins(client, store, pair, other):
    first = client.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}).json()["key"]
    second = client.post("/auth/stdimg", json={"data": other, "name": "hong"}).json()["key"]
    assert first != second and store.latest("hong").key == second
    # the latest reference (sacre coeur) is the one compared with
    body = assert_answer(
        client.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 200, v.WRONG_PICTURE, False
    )
    assert body["key"] == second


def test_register_too_little_features(client, store, tmp_path):
    body = assert_answer(
        client.post("/auth/stdimg", json={"data": b64(gray_jpeg()), "name": "hong"}), 400, v.TOO_LITTLE_FEATURES, False
    )
    assert body["keypoints"] < 80
    assert store.latest("hong") is None and files_under(store.root) == []


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b64(b"hello, this is not an image at all"), "not a JPEG"),
        ("@@@ not base64 @@@", "base64"),
        ("", "empty"),
        ("   ", "empty"),
        (b64(bomb_png()), "pixels"),
        (b64(gray_jpeg()[:-50]), "truncated"),
        (b64(b"GIF89a" + b"\x00" * 64), "not a JPEG"),
    ],
    ids=["not-image", "bad-base64", "empty", "blank", "bomb", "truncated-jpeg", "gif"],
)
def test_register_bad_photo_is_take_picture_again(client, store, data, fragment):
    body = assert_answer(
        client.post("/auth/stdimg", json={"data": data, "name": "hong"}), 400, v.TAKE_PICTURE_AGAIN, False
    )
    assert fragment in body["reason"]
    assert files_under(store.root) == []


@pytest.mark.parametrize(
    "payload",
    [{}, {"name": "hong"}, {"data": None}, {"data": 123}, {"data": ["abc"]}, {"data": {"b64": "x"}}, {"data": True}],
    ids=["empty-object", "no-data", "null", "number", "array", "object", "bool"],
)
def test_register_wrong_fields(client, store, payload):
    body = assert_answer(client.post("/auth/stdimg", json=payload), 400, v.TAKE_PICTURE_AGAIN, False)
    assert "data" in body["reason"]
    assert files_under(store.root) == []


@pytest.mark.parametrize(
    "name",
    [*HOSTILE_IDS, 123, ["hong"], {"a": 1}, True],
    ids=[f"id{i}" for i in range(len(HOSTILE_IDS))] + ["int", "list", "dict", "bool"],
)
def test_register_hostile_names_store_nothing(client, store, pair, name):
    body = assert_answer(
        client.post("/auth/stdimg", json={"data": pair[0], "name": name}), 400, v.TAKE_PICTURE_AGAIN, False
    )
    assert "name" in body["reason"] or "user id" in body["reason"]
    assert len(body["reason"]) < 400  # a 5000-char id is not echoed back
    assert files_under(store.root) == [] and store.users() == []
    assert not (store.root.parent / "x").exists()


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "json"),
        ({"content": b"[1, 2]", "headers": {"content-type": "application/json"}}, "json"),
        ({"content": b'"just a string"', "headers": {"content-type": "application/json"}}, "json"),
        ({"content": b"", "headers": {"content-type": "application/json"}}, "empty"),
        ({"content": b"\xff\xfe\x00garbage", "headers": {"content-type": "application/json"}}, "json"),
        ({"content": b"[" * 100000, "headers": {"content-type": "application/json"}}, "json"),
        ({"content": b'{"data": "abc"}', "headers": {"content-type": "text/plain"}}, "content-type"),
        ({"data": {"data": "abc"}}, "content-type"),  # form-encoded
        ({"content": b'{"data": "abc"}'}, "content-type"),  # no content-type at all
    ],
    ids=["broken-json", "array", "string", "empty-body", "binary", "deep-nesting", "text-plain", "form", "none"],
)
def test_register_unusable_body(client, store, kwargs, code):
    body = assert_answer(client.post("/auth/stdimg", **kwargs), 400, v.TAKE_PICTURE_AGAIN, False)
    assert body["error"] == code
    assert files_under(store.root) == []


def test_oversize_body_refused_before_parsing(store, tagger, pair):
    app = create_app({"VISION_MAX_BODY_BYTES": "50000"}, store=store, tagger=tagger, thresholds=Profile())
    with TestClient(app) as c:
        payload = json.dumps({"data": pair[0], "name": "hong"}).encode()
        assert len(payload) > 50000
        for path, message in [
            ("/auth/stdimg", v.TAKE_PICTURE_AGAIN),
            ("/auth/feature", v.MISSING_PICTURE),
            ("/auth/tag", v.NO_TAG),
        ]:
            resp = c.post(path, content=payload, headers={"content-type": "application/json"})
            body = assert_answer(resp, 400, message, False)
            assert body["error"] == "too-large" and "50000" in body["reason"]

        def chunks():  # no Content-Length: the streamed bytes are counted
            for i in range(0, len(payload), 8192):
                yield payload[i : i + 8192]

        resp = c.post("/auth/stdimg", content=chunks(), headers={"content-type": "application/json"})
        assert_answer(resp, 400, v.TAKE_PICTURE_AGAIN, False)
        assert resp.json()["error"] == "too-large"
        # garbage over the limit is refused for its size, before any JSON parsing
        resp = c.post("/auth/stdimg", content=b"{" * 60000, headers={"content-type": "application/json"})
        assert resp.json()["error"] == "too-large"
    assert files_under(store.root) == []
    assert tagger.calls == 0


def test_default_body_limit_is_15_mb():
    app = create_app({})
    assert app.state.runtime.max_body_bytes == 15_000_000


def test_store_unavailable_at_register(tmp_path, tagger, pair, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's root should be")
    store = LocalReferenceStore(blocker)
    app = create_app({}, store=store, tagger=tagger, thresholds=Profile())
    with TestClient(app) as c, caplog.at_level(logging.INFO, logger="vision"):
        body = assert_answer(
            c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}), 500, v.SOMETHING_WRONG, False
        )
    assert "unavailable" in body["reason"] and "key" not in body
    assert any("store unavailable" in r.getMessage() for r in caplog.records)
    assert blocker.read_text().startswith("a file")


def test_unexpected_error_is_contract_500_without_trace(store, tagger, pair, caplog):
    class Exploding(LocalReferenceStore):
        def put(self, *a, **k):
            raise RuntimeError("boom at line 42")

        def latest(self, user_id):
            raise KeyError("surprise")

    app = create_app({}, store=Exploding(store.root), tagger=tagger, thresholds=Profile())
    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR, logger="vision"):
        r1 = c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"})
        r2 = c.post("/auth/feature", json={"data": pair[1], "name": "hong"})
    assert_answer(r1, 500, v.SOMETHING_WRONG, False)
    assert_answer(r2, 500, v.MISSING_STD_PICTURE, False)
    for r in (r1, r2):
        assert "boom" not in r.text and "surprise" not in r.text and "line" not in r.text
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)


# -- verify ------------------------------------------------------------------------------


@pytest.fixture
def registered(client, pair) -> str:
    body = client.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}).json()
    assert body["message"] == v.GOOD_PICTURE
    return body["key"]


def test_verify_complete(client, registered, pair):
    body = assert_answer(client.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 200, v.COMPLETE, True)
    assert body["inliers"] >= 15 and body["key"] == registered


def test_verify_wrong_picture(client, registered, other):
    body = assert_answer(
        client.post("/auth/feature", json={"data": other, "name": "hong"}), 200, v.WRONG_PICTURE, False
    )
    assert body["reason"]


def test_verify_plain_photo_is_wrong_picture(client, registered):
    assert_answer(
        client.post("/auth/feature", json={"data": b64(gray_jpeg()), "name": "hong"}), 200, v.WRONG_PICTURE, False
    )


def test_verify_unknown_user(client, registered, pair):
    body = assert_answer(client.post("/auth/feature", json={"data": pair[1], "name": "kim"}), 400, v.NO_STD_IMG, False)
    assert "kim" in body["reason"]


@pytest.mark.parametrize(
    "payload",
    [{"data": "x"}, {"data": "x", "name": None}, {"data": "x", "name": 7}, {"data": "x", "name": ["hong"]}]
    + [{"data": "x", "name": n} for n in HOSTILE_IDS],
    ids=["missing", "null", "int", "list"] + [f"hostile{i}" for i in range(len(HOSTILE_IDS))],
)
def test_verify_missing_or_invalid_name(client, store, registered, payload):
    before = files_under(store.root)
    assert_answer(client.post("/auth/feature", json=payload), 400, v.NO_STD_IMG, False)
    assert files_under(store.root) == before


@pytest.mark.parametrize(
    "data",
    [None, 42, "", "!!!!", b64(b"definitely not a photo"), b64(bomb_png()), b64(gray_jpeg()[:200])],
    ids=["null", "number", "empty", "bad-base64", "not-image", "bomb", "truncated"],
)
def test_verify_missing_picture(client, store, registered, data):
    before = {p: p.read_bytes() for p in files_under(store.root)}
    assert_answer(client.post("/auth/feature", json={"data": data, "name": "hong"}), 400, v.MISSING_PICTURE, False)
    assert {p: p.read_bytes() for p in files_under(store.root)} == before


def test_verify_missing_data_field(client, registered):
    assert_answer(client.post("/auth/feature", json={"name": "hong"}), 400, v.MISSING_PICTURE, False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"{oops", "headers": {"content-type": "application/json"}},
        {"content": b"", "headers": {"content-type": "application/json"}},
        {"content": b"[]", "headers": {"content-type": "application/json"}},
        {"data": {"data": "x", "name": "hong"}},
    ],
    ids=["broken-json", "empty", "array", "form"],
)
def test_verify_unusable_body_is_missing_picture(client, registered, kwargs):
    assert_answer(client.post("/auth/feature", **kwargs), 400, v.MISSING_PICTURE, False)


def test_verify_never_fetches_urls(client, registered, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("the API tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for url in ["http://169.254.169.254/latest/meta-data/", "https://example.com/ref.jpg"]:
        body = client.post("/auth/feature", json={"data": url, "name": "hong", "url": url}).json()
        assert (body["status"], body["message"]) == (400, v.MISSING_PICTURE)
        body = client.post("/auth/feature", json={"data": b64(b"x"), "name": url}).json()
        assert (body["status"], body["message"]) == (400, v.NO_STD_IMG)


def _only_reference(store: LocalReferenceStore, user: str):
    record = store.latest(user)
    base = store.root / record.key
    return record, base.with_suffix(".img"), base.with_suffix(".features")


def test_verify_recomputes_stale_features_and_saves_them(client, store, registered, pair):
    record, _, features_path = _only_reference(store, "hong")
    stale = prepare_photo(photo("DSC_0410.JPG"), FeatureSettings(working_side=400)).features
    store.save_features(record.key, features_to_bytes(stale))
    assert_answer(client.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 200, v.COMPLETE, True)
    assert features_from_bytes(features_path.read_bytes()).settings == Profile().feature_settings


@pytest.mark.parametrize("damage", ["delete", "garbage"])
def test_verify_recomputes_missing_or_corrupt_features(client, store, registered, pair, damage):
    _, _, features_path = _only_reference(store, "hong")
    if damage == "delete":
        features_path.unlink()
    else:
        features_path.write_bytes(b"not an npz")
    assert_answer(client.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 200, v.COMPLETE, True)
    assert features_from_bytes(features_path.read_bytes()).n_detected > 80


@pytest.mark.parametrize("damage", ["image-deleted", "image-garbage", "image-truncated"])
def test_verify_reference_that_does_not_load(client, store, registered, pair, damage, caplog):
    _, image_path, features_path = _only_reference(store, "hong")
    features_path.unlink()  # features must be recomputed from the (broken) image
    if damage == "image-deleted":
        image_path.unlink()
    elif damage == "image-garbage":
        image_path.write_bytes(b"garbage, not a jpeg")
    else:
        image_path.write_bytes(photo("DSC_0410.JPG")[:5000])
    with caplog.at_level(logging.ERROR, logger="vision"):
        body = assert_answer(
            client.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 500, v.MISSING_STD_PICTURE, False
        )
    assert "reference" in body["reason"]
    assert caplog.records


def test_verify_store_unavailable(store, tagger, pair, caplog):
    class Down(LocalReferenceStore):
        def latest(self, user_id):
            raise StoreUnavailableError("endpoint unreachable (connection refused)", reason="unreachable")

    app = create_app({}, store=Down(store.root), tagger=tagger, thresholds=Profile())
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="vision"):
        body = assert_answer(
            c.post("/auth/feature", json={"data": pair[1], "name": "hong"}), 500, v.MISSING_STD_PICTURE, False
        )
    assert "unreachable" in body["reason"]
    assert any("unreachable" in r.getMessage() for r in caplog.records)


# -- tag --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cat() -> str:
    return b64((ASSETS / "chelsea.jpg").read_bytes())


def test_tag_matched_and_not_matched(client, tagger, cat):
    body = assert_answer(client.post("/auth/tag", json={"data": cat, "tag": "dog"}), 200, v.MATCHED, True)
    assert body["backend"] == "fake" and body["concept"] == "dog"
    assert_answer(client.post("/auth/tag", json={"data": cat, "tag": "grass"}), 200, v.MATCHED, True)
    assert_answer(client.post("/auth/tag", json={"data": cat, "tag": "car"}), 200, v.NOT_MATCHED, False)
    assert tagger.calls == 3
    assert all(len(s) == 3 and s[2] == 3 for s in tagger.shapes)  # BGR arrays reach the tagger


def test_tag_threshold_from_thresholds(store, cat):
    app = create_app({}, store=store, tagger=FakeTagger({"dog": 0.3}), thresholds=Profile(tag_min_confidence=0.5))
    with TestClient(app) as c:
        assert_answer(c.post("/auth/tag", json={"data": cat, "tag": "dog"}), 200, v.NOT_MATCHED, False)


@pytest.mark.parametrize(
    "payload",
    [
        {"data": "x"},
        {"data": "x", "tag": None},
        {"data": "x", "tag": ""},
        {"data": "x", "tag": "   "},
        {"data": "x", "tag": 5},
        {"data": "x", "tag": ["dog"]},
    ],
    ids=["missing", "null", "empty", "blank", "number", "list"],
)
def test_tag_no_tag(client, tagger, payload):
    assert_answer(client.post("/auth/tag", json=payload), 400, v.NO_TAG, False)
    assert tagger.calls == 0


@pytest.mark.parametrize(
    "data",
    [None, 3, "", "%%%", b64(b"not an image"), b64(bomb_png())],
    ids=["null", "number", "empty", "bad-base64", "not-image", "bomb"],
)
def test_tag_bad_photo_is_no_tag(client, tagger, data):
    body = assert_answer(client.post("/auth/tag", json={"data": data, "tag": "dog"}), 400, v.NO_TAG, False)
    assert "photo" in body["reason"] or "data" in body["reason"]
    assert tagger.calls == 0


def test_tag_unusable_body(client, tagger):
    assert_answer(
        client.post("/auth/tag", content=b"nope", headers={"content-type": "application/json"}), 400, v.NO_TAG, False
    )
    assert_answer(client.post("/auth/tag", data={"data": "x", "tag": "dog"}), 400, v.NO_TAG, False)


@pytest.mark.parametrize("fail", ["tagger-error", "runtime-error"])
def test_tag_backend_fault(store, cat, fail, caplog):
    tagger = failing_tagger("deadline exceeded") if fail == "tagger-error" else FakeTagger(fail=RuntimeError("onnx"))
    app = create_app({}, store=store, tagger=tagger, thresholds=Profile())
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="vision"):
        body = assert_answer(c.post("/auth/tag", json={"data": cat, "tag": "dog"}), 500, v.CLARIFAI_API_FAULT, False)
    assert "fake" in body["reason"]
    assert any("fake" in r.getMessage() for r in caplog.records)


def test_tag_clarifai_not_configured_is_api_fault(store, cat, caplog):
    app = create_app({"VISION_TAGGER": "clarifai"}, store=store)
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="vision"):
        body = assert_answer(c.post("/auth/tag", json={"data": cat, "tag": "cat"}), 500, v.CLARIFAI_API_FAULT, False)
    assert "CLARIFAI_PAT" in body["reason"]


@pytest.mark.skipif(not MODEL.is_file(), reason="offline tagger model not shipped")
def test_tag_with_real_offline_tagger(store, cat):
    app = create_app({"VISION_TAGGER": "local"}, store=store, thresholds=Profile())
    with TestClient(app) as c:
        body = assert_answer(c.post("/auth/tag", json={"data": cat, "tag": "cat"}), 200, v.MATCHED, True)
        assert body["backend"] == "local" and body["score"] > 0.5
        assert_answer(c.post("/auth/tag", json={"data": cat, "tag": "car"}), 200, v.NOT_MATCHED, False)


# -- the rest -----------------------------------------------------------------------------


def test_healthz_docs_openapi(client):
    assert client.get("/healthz").json() == {"status": 200, "message": "ok", "result": True}
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/auth/stdimg", "/auth/test", "/auth/feature", "/auth/tag", "/healthz"} <= set(spec["paths"])
    register = spec["paths"]["/auth/stdimg"]["post"]
    assert "anon-" in register["description"]
    schema = register["requestBody"]["content"]["application/json"]["schema"]
    assert "data" in schema["properties"] and schema["required"] == ["data"]
    assert {"200", "400", "500"} <= set(register["responses"])


def test_unknown_route_and_method(client):
    r = client.post("/auth/nothing", json={})
    assert r.status_code == 404 and r.json()["status"] == 404 and r.json()["result"] is False
    r = client.get("/auth/stdimg")
    assert r.status_code == 405 and r.json()["status"] == 405


def test_import_touches_no_network_and_builds_nothing(monkeypatch):
    import api

    rt = api.app.state.runtime
    assert rt._store is None and rt._tagger is None  # built on first use only


def test_profile_file_is_used_and_reloaded(tmp_path, store, tagger, pair):
    profile = tmp_path / "profile.json"
    save_profile(Profile(min_keypoints=100000), profile)
    app = create_app({"VISION_PROFILE": str(profile)}, store=store, tagger=tagger)
    with TestClient(app) as c:
        assert_answer(c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}), 400, v.TOO_LITTLE_FEATURES, False)
        save_profile(Profile(min_keypoints=50), profile)
        import os

        os.utime(profile, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
        assert_answer(c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}), 200, v.GOOD_PICTURE, True)
        profile.write_text("{broken")  # a half-written profile keeps the last good thresholds
        os.utime(profile, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
        assert_answer(c.post("/auth/stdimg", json={"data": pair[0], "name": "hong"}), 200, v.GOOD_PICTURE, True)


def test_bad_profile_fails_at_startup(tmp_path, store):
    profile = tmp_path / "bad.json"
    profile.write_text('{"thresholds": {"min_inliers": 1}}')
    app = create_app({"VISION_PROFILE": str(profile)}, store=store)
    with pytest.raises(ValueError, match="min_inliers"), TestClient(app):
        pass


def test_logs_hold_no_image_data(client, registered, pair, caplog):
    with caplog.at_level(logging.DEBUG):
        client.post("/auth/feature", json={"data": pair[1], "name": "hong"})
        client.post("/auth/feature", json={"data": "A" * 5000 + "!", "name": "hong"})
        client.post("/auth/stdimg", json={"data": pair[0], "name": "y" * 5000})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text  # there are log lines
    assert pair[1][:40] not in text and pair[1][-40:] not in text
    assert "A" * 200 not in text and "y" * 200 not in text


def test_healthz_stays_responsive_during_slow_work(store, cat):
    tagger = FakeTagger(delay_s=1.0)  # busy well past the health check at 0.3 s
    app = create_app({"VISION_WORKERS": "1"}, store=store, tagger=tagger, thresholds=Profile())
    with TestClient(app) as c:
        results = []
        workers = [
            threading.Thread(target=lambda: results.append(c.post("/auth/tag", json={"data": cat, "tag": "dog"})))
            for _ in range(2)
        ]
        for t in workers:
            t.start()
        time.sleep(0.3)
        start = time.perf_counter()
        assert c.get("/healthz").status_code == 200
        assert time.perf_counter() - start < 0.5
        for t in workers:
            t.join(10)
    assert [r.json()["message"] for r in results] == [v.MATCHED, v.MATCHED]


@pytest.fixture
def small_client(store: LocalReferenceStore, tagger: FakeTagger) -> TestClient:
    """Like ``client``, on a 640 px working image: the same rule and verdicts, less CPU per request."""
    app = create_app({}, store=store, tagger=tagger, thresholds=Profile(working_side=640))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_concurrent_users_keep_their_own_references(small_client, store, pair, other):
    """16 threads register and verify as different users; each latest reference is its own.

    The point is isolation under concurrency, not accuracy, so the photos are
    worked on at 640 px (the default learned rule still decides).
    """
    client = small_client
    images = {0: pair[0], 1: other}
    errors: list[str] = []
    keys: dict[str, str] = {}
    outcomes: list[str] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        name = f"user{i:02d}"
        try:
            body = client.post("/auth/stdimg", json={"data": images[i % 2], "name": name}).json()
            assert body["message"] == v.GOOD_PICTURE, body
            with lock:
                keys[name] = body["key"]
            verdict = client.post("/auth/feature", json={"data": pair[1], "name": name}).json()
            assert verdict["key"] == body["key"], verdict
            if i % 2:
                assert verdict["message"] == v.WRONG_PICTURE, verdict
            elif verdict["message"] != v.COMPLETE:
                # every even user sends the same proof: once one has proved with it, the cross-user index
                # (vision/replay/global_index.py) says so to the others, without naming anyone
                assert verdict["message"] == v.WRONG_PICTURE and verdict["replay_of"]["kind"] == "another_user"
            with lock:
                outcomes.append(verdict["message"])
        except Exception as exc:
            with lock:
                errors.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert outcomes.count(v.COMPLETE) >= 1 and len(outcomes) == 16
    for name, key in keys.items():
        latest = store.latest(name)
        assert latest.key == key and latest.user_id == name
        mine, theirs = ("DSC_0410.JPG", "sacre_coeur1.jpg")[:: 1 if int(name[-2:]) % 2 == 0 else -1]
        stored = store.load_image(key)  # re-encoded at the working resolution: compare the pictures
        assert _thumb_distance(stored, photo(mine)) < _thumb_distance(stored, photo(theirs)) / 3
    assert store.users() == sorted(keys)
