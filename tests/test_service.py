"""The framework-free flows of vision.service (what api.py and the dashboard call)."""

from __future__ import annotations

import pytest
from api_fixtures import ASSETS, Counter, FakeTagger, b64, failing_tagger, gray_jpeg, photo

from vision.core import verdict as v
from vision.profile import Profile
from vision.service import common as service_common
from vision.service import register as service_register
from vision.service import tag as service_tag
from vision.service import verify as service_verify
from vision.store import LocalReferenceStore, validate_user_id


@pytest.fixture
def store(tmp_path) -> LocalReferenceStore:
    return LocalReferenceStore(tmp_path / "refs")


def test_register_and_verify_bytes(store):
    gate = Counter()
    reg = service_register.register_bytes(store, photo("DSC_0410.JPG"), "hong", Profile(), gate=gate)
    assert (reg.status, reg.message, reg.result) == (200, v.GOOD_PICTURE, True)
    assert reg.extra["key"] == store.latest("hong").key and reg.extra["name"] == "hong"
    ok = service_verify.verify_bytes(store, photo("DSC_0411.JPG"), "hong", Profile(), gate=gate)
    assert (ok.status, ok.message, ok.result) == (200, v.COMPLETE, True)
    assert ok.extra["inliers"] >= 15 and ok.extra["key"] == reg.extra["key"]
    bad = service_verify.verify_bytes(store, photo("sacre_coeur1.jpg"), "hong", Profile(), gate=gate)
    assert (bad.status, bad.message, bad.result) == (200, v.WRONG_PICTURE, False)
    # CPU work ran inside the gate: register's decode, per verify the match, and the replay check of the
    # accepted verification; the header checks (milliseconds, bounded by the body cap) run outside it (issue 22)
    assert gate.entered == 4 and gate.active == 0


def test_register_anonymous(store):
    reg = service_register.register_bytes(store, photo("DSC_0410.JPG"), None)
    name = reg.extra["name"]
    assert name.startswith(service_common.ANONYMOUS_PREFIX) and validate_user_id(name) == name
    assert store.latest(name).key == reg.extra["key"]


def test_register_too_little_features_stores_nothing(store):
    reg = service_register.register_bytes(store, gray_jpeg(), "hong")
    assert (reg.status, reg.message) == (400, v.TOO_LITTLE_FEATURES)
    assert store.users() == []


@pytest.mark.parametrize("data", [None, 5, "", "***", b64(b"text")])
def test_register_b64_bad_data(store, data):
    reg = service_register.register_b64(store, data, "hong")
    assert (reg.status, reg.message, reg.result) == (400, v.TAKE_PICTURE_AGAIN, False)
    assert store.users() == []


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 5000, "", 12])
def test_register_bad_name(store, name):
    reg = service_register.register_b64(store, b64(photo("DSC_0410.JPG")), name)
    assert (reg.status, reg.message) == (400, v.TAKE_PICTURE_AGAIN)
    assert store.users() == []


def test_verify_without_a_photo_does_not_tell_whether_the_user_exists(store):
    # a missing or malformed user id is answered first; then the photo, before any store lookup,
    # so a probe without a usable photo gets the same answer for existing and unknown users
    assert service_verify.verify_b64(store, None, None).message == v.NO_STD_IMG
    assert service_verify.verify_b64(store, "garbage!", "../x").message == v.NO_STD_IMG
    service_register.register_bytes(store, photo("DSC_0410.JPG"), "hong")
    for user in ("hong", "nobody"):
        assert service_verify.verify_b64(store, "garbage!", user).message == v.MISSING_PICTURE
        assert service_verify.verify_b64(store, b64(b"\x89PNG not really"), user).message == v.MISSING_PICTURE
    assert service_verify.verify_bytes(store, b"", "hong").message == v.MISSING_PICTURE


def test_verify_bad_photo_does_not_touch_reference_features(store):
    service_register.register_bytes(store, photo("DSC_0410.JPG"), "hong")
    key = store.latest("hong").key
    (store.root / f"{key}.features").unlink()
    out = service_verify.verify_bytes(store, b"\x89PNG not really", "hong")
    assert out.message == v.MISSING_PICTURE
    assert store.load_features(key) is None  # answered before the reference was loaded


def test_tag_bytes(store):
    cat = (ASSETS / "chelsea.jpg").read_bytes()
    tagger = FakeTagger({"cat": 0.9})
    assert service_tag.tag_bytes(tagger, cat, "cat").message == v.MATCHED
    assert service_tag.tag_bytes(tagger, cat, "dog").message == v.NOT_MATCHED
    assert service_tag.tag_bytes(tagger, cat, " ").message == v.NO_TAG
    assert service_tag.tag_bytes(tagger, b"nope", "cat").message == v.NO_TAG
    fault = service_tag.tag_bytes(failing_tagger("quota exceeded"), cat, "cat")
    assert (fault.status, fault.message) == (500, v.CLARIFAI_API_FAULT) and "quota exceeded" in fault.reason


def test_tag_factory_built_lazily_and_failures_are_faults(store):
    cat = (ASSETS / "chelsea.jpg").read_bytes()
    built = []

    def factory():
        built.append(1)
        return FakeTagger({"cat": 0.9})

    assert service_tag.tag_b64(factory, b64(cat), None).message == v.NO_TAG and built == []
    assert service_tag.tag_b64(factory, b64(cat), "cat").message == v.MATCHED and built == [1]

    def broken():
        raise OSError("model file missing")

    out = service_tag.tag_bytes(broken, cat, "cat")
    assert (out.status, out.message) == (500, v.CLARIFAI_API_FAULT)


def test_describe_user_id_is_short():
    assert len(service_common.describe_user_id("x" * 5000)) < 60
    assert service_common.describe_user_id(None) == "<NoneType>"
    assert service_common.describe_user_id("hong") == "'hong'"


class _RegisterDuringLoad(LocalReferenceStore):
    """A store where, while a verification loads the reference, another register replaces it (keep=1)."""

    raced = False

    def load_features(self, key):
        if not self.raced:
            self.raced = True
            user = key.split("/")[0]
            service_register.register_bytes(self, photo("DSC_0410.JPG"), user, Profile())
            self.trim(user, 1)  # retention deletes the reference being loaded
        return super().load_features(key)


def test_verify_follows_the_pointer_when_its_reference_is_replaced_meanwhile(tmp_path):
    """Issue 22, item 5: a concurrent register + retention is not "You don't have std img"."""
    store = _RegisterDuringLoad(tmp_path / "refs")
    first = service_register.register_bytes(store, photo("DSC_0410.JPG"), "hong", Profile())
    ok = service_verify.verify_bytes(store, photo("DSC_0411.JPG"), "hong", Profile())
    assert store.raced
    assert (ok.status, ok.message) == (200, v.COMPLETE)
    assert ok.extra["key"] != first.extra["key"] and ok.extra["key"] == store.latest("hong").key
