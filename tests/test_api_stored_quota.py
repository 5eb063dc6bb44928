"""Issue 22, item 6: total stored bytes per user and for the whole store, measured in the store (both stores).

The daily quotas (tests/test_api_quota.py) bound a day; these bound what is
kept.  The totals are read from the store (files on disk, the bucket's
listing), so a new API process on the same store refuses at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_fixtures import FakeTagger, b64, photo, s3_client
from fastapi.testclient import TestClient

from api import create_app
from vision.profile import Profile
from vision.store import LocalReferenceStore, S3ReferenceStore
from vision.web.quota import Admission, StoredBytesQuota, StoredRefusal

PHOTO = b64(photo("DSC_0410.JPG"))
OPEN = {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0", "VISION_MAX_REFERENCES_PER_USER": "10"}
DAY_OFF = {
    k: "0" for k in ("VISION_QUOTA_USER_MB_PER_DAY", "VISION_QUOTA_CLIENT_MB_PER_DAY", "VISION_QUOTA_TOTAL_MB_PER_DAY")
}


def local_store(tmp_path: Path, _moto: Any) -> LocalReferenceStore:
    return LocalReferenceStore(tmp_path / "refs")


def s3_store(tmp_path: Path, moto_url: str) -> S3ReferenceStore:
    bucket = f"quota-{uuid.uuid4().hex[:12]}"
    s3_client(moto_url).create_bucket(Bucket=bucket)
    return S3ReferenceStore(s3_client(moto_url), bucket)


STORES: dict[str, Callable[[Path, Any], Any]] = {"local": local_store, "s3": s3_store}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path: Path) -> Any:
    moto = request.getfixturevalue("moto_url") if request.param == "s3" else None
    return STORES[request.param](tmp_path, moto)


def client(store: Any, settings: dict[str, str]) -> TestClient:
    app = create_app({**OPEN, **DAY_OFF, **settings}, store=store, tagger=FakeTagger(), thresholds=Profile())
    return TestClient(app, raise_server_exceptions=False)


def one_registration(store: Any) -> int:
    """Bytes one registration of PHOTO adds to the store (image, features, metadata, fingerprint, pointer)."""
    before = store.stored_bytes(None)
    with client(store, {"VISION_QUOTA_USER_MB_TOTAL": "0", "VISION_QUOTA_TOTAL_MB_TOTAL": "0"}) as c:
        assert c.post("/auth/stdimg", json={"data": PHOTO, "name": "probe"}).status_code == 200
    size = store.stored_bytes(None) - before
    assert size == store.stored_bytes("probe") > 0
    return size


@pytest.mark.parametrize(
    ("setting", "names", "scope"),
    [
        ("VISION_QUOTA_USER_MB_TOTAL", ["hong"] * 4, "user"),
        ("VISION_QUOTA_TOTAL_MB_TOTAL", [f"u{i}" for i in range(4)], "service"),
    ],
)
def test_total_quota_refuses_with_a_contract_answer_and_survives_a_restart(store, setting, names, scope):
    size = one_registration(store)
    base = store.stored_bytes(None) if scope == "service" else 0  # the probe counts against the service
    # Room for two more registrations, and 1 kB (less than a photo): a third's photo does not fit.
    quota = {setting: f"{(base + 2 * size + 1000) / 1e6:.6f}"}
    with client(store, quota) as c:
        answers = [c.post("/auth/stdimg", json={"data": PHOTO, "name": n}) for n in names]
    assert [a.status_code for a in answers] == [200, 200, 429, 429], [a.text for a in answers]
    body = answers[2].json()
    assert (body["message"], body["result"], body["error"]) == ("Too Many Requests", False, "storage-quota")
    assert f"in total per {scope}" in body["reason"] and "storage quota reached" in body["reason"]
    stored = store.stored_bytes(None)
    # Nothing of the refused ones (sizes differ by a few bytes with the user id in metadata and pointer).
    assert abs(stored - (base + (0 if scope == "service" else size) + 2 * size)) < 500
    # A new process on the same store: the totals come from the store, not from memory.
    with client(store, quota) as c:
        again = c.post("/auth/stdimg", json={"data": PHOTO, "name": names[-1] if scope == "user" else "fresh"})
    assert again.status_code == 429 and again.json()["error"] == "storage-quota", again.text
    assert store.stored_bytes(None) == stored


def test_deleting_references_frees_the_user_quota(store):
    size = one_registration(store)
    quota = {"VISION_QUOTA_USER_MB_TOTAL": f"{(size + 1000) / 1e6:.6f}"}
    with client(store, quota) as c:
        assert c.post("/auth/stdimg", json={"data": PHOTO, "name": "kim"}).status_code == 200
        assert c.post("/auth/stdimg", json={"data": PHOTO, "name": "kim"}).status_code == 429
        for record in store.list("kim"):
            store.delete(record.key)
        assert c.post("/auth/stdimg", json={"data": PHOTO, "name": "kim"}).status_code == 200


def test_service_total_counts_admissions_between_scans(tmp_path):
    store = LocalReferenceStore(tmp_path / "refs")
    quota = StoredBytesQuota(store, user_mb=0, total_mb=0.001, refresh_s=3600)  # 1000 bytes
    first = quota.check(600, "a")  # the first check measures the (empty) store
    assert isinstance(first, Admission)
    refused = quota.check(600, "b")  # nothing written yet: the admitted 600 bytes still count
    assert isinstance(refused, StoredRefusal) and refused.scope == "service" and refused.stored_bytes == 600
    quota.cancel(first)  # ... until that register stores nothing after all
    assert isinstance(quota.check(1000, "c"), Admission)


def test_bad_total_quota_settings_stop_the_api(tmp_path):
    with pytest.raises(ValueError, match="VISION_QUOTA_TOTAL_MB_TOTAL"):
        create_app({"VISION_QUOTA_TOTAL_MB_TOTAL": "-1"}, store=LocalReferenceStore(tmp_path))
