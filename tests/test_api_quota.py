"""Issue 22, item 6: photos stored at the working resolution, and byte quotas per user, client and service."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_fixtures import REPO, FakeTagger, b64
from fastapi.testclient import TestClient

from api import create_app
from vision.profile import Profile
from vision.store import LocalReferenceStore
from vision.web.quota import StorageQuota
from vision.web.ratelimit import LimitStorage

PHOTO = (REPO / "samples" / "images" / "lightglue" / "DSC_0410.JPG").read_bytes()
OPEN = {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0"}


def client_for(tmp_path: Path, settings: dict[str, str]) -> tuple[TestClient, LocalReferenceStore]:
    store = LocalReferenceStore(tmp_path / "refs")
    app = create_app({**OPEN, **settings}, store=store, tagger=FakeTagger(), thresholds=Profile())
    return TestClient(app, raise_server_exceptions=False), store


def stored_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.img")) if root.exists() else 0


def stored_size(tmp_path: Path) -> int:
    """What one registration of PHOTO stores (re-encoded), measured, not assumed."""
    client, _store = client_for(tmp_path / "probe", {})
    with client:
        assert client.post("/auth/stdimg", json={"data": b64(PHOTO), "name": "probe"}).status_code == 200
    return stored_bytes(tmp_path / "probe" / "refs")


def test_the_stored_photo_is_the_re_encoded_working_image(tmp_path):
    size = stored_size(tmp_path)
    assert 0 < size < len(PHOTO)  # 1000 px JPEG of a 1024 px photo: smaller than what was sent


def test_store_original_keeps_the_bytes_as_sent(tmp_path):
    client, store = client_for(tmp_path, {"VISION_STORE_ORIGINAL": "1"})
    with client:
        client.post("/auth/stdimg", json={"data": b64(PHOTO), "name": "hong"})
    assert store.load_image(store.latest("hong").key) == PHOTO


@pytest.mark.parametrize(
    ("setting", "names", "scope"),
    [
        ("VISION_QUOTA_CLIENT_MB_PER_DAY", [f"new{i}" for i in range(4)], "client"),  # the attack: new names
        ("VISION_QUOTA_USER_MB_PER_DAY", ["hong"] * 4, "user"),
        ("VISION_QUOTA_TOTAL_MB_PER_DAY", [f"u{i}" for i in range(4)], "service"),
    ],
)
def test_a_register_over_quota_is_429_and_stores_nothing(tmp_path, setting, names, scope):
    size = stored_size(tmp_path)
    quota_mb = 2.5 * size / 1e6  # room for two registrations
    client, store = client_for(tmp_path, {setting: f"{quota_mb:.6f}", "VISION_MAX_REFERENCES_PER_USER": "10"})
    with client:
        answers = [client.post("/auth/stdimg", json={"data": b64(PHOTO), "name": n}) for n in names]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    body = answers[2].json()
    assert (body["status"], body["message"], body["result"], body["error"]) == (
        429,
        "Too Many Requests",
        False,
        "quota",
    )
    assert f"MB of reference photos a day per {scope}" in body["reason"]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert stored_bytes(tmp_path / "refs") == 2 * size  # nothing of the refused ones
    assert sum(len(store.list(u)) for u in set(names)) == 2


def test_quotas_of_zero_are_off(tmp_path):
    settings = {
        k: "0"
        for k in ("VISION_QUOTA_CLIENT_MB_PER_DAY", "VISION_QUOTA_USER_MB_PER_DAY", "VISION_QUOTA_TOTAL_MB_PER_DAY")
    }
    client, _store = client_for(tmp_path, settings)
    with client:
        assert all(
            client.post("/auth/stdimg", json={"data": b64(PHOTO), "name": f"n{i}"}).status_code == 200 for i in range(3)
        )


def test_bad_quota_settings_stop_the_api(tmp_path):
    with pytest.raises(ValueError, match="VISION_QUOTA_USER_MB_PER_DAY"):
        create_app({"VISION_QUOTA_USER_MB_PER_DAY": "-1"}, store=LocalReferenceStore(tmp_path))


def test_a_photo_larger_than_the_whole_quota_is_refused_and_charges_are_in_kilobytes():
    quota = StorageQuota(LimitStorage(), user_mb=1, client_mb=0, total_mb=0)
    assert quota.charge(999_000, "hong", "1.2.3.4") is None
    refusal = quota.charge(2_000, "hong", "1.2.3.4")
    assert refusal is not None and refusal.scope == "user" and refusal.retry_after_s > 0
    assert quota.charge(2_000_000, "kim", "1.2.3.4") is not None  # more than a day's quota at once
    assert quota.charge(1_000, "kim", "1.2.3.4") is None
