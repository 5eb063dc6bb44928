"""Habits (issue 24): proof photos kept beside the history (``VISION_KEEP_PROOF_PHOTOS``), local and S3 on moto."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from api_fixtures import FakeTagger, b64, s3_client
from fastapi.testclient import TestClient

from api import create_app
from vision.profile import Profile
from vision.service.habits import habit_owner
from vision.store import LocalReferenceStore, S3ReferenceStore
from vision.store.history import history_log

HABITS = Path(__file__).resolve().parents[1] / "samples" / "habits"
DAY, NIGHT = (HABITS / "facade_day.jpg").read_bytes(), (HABITS / "facade_night_proof.jpg").read_bytes()
OPEN = {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0"}


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A real local store, or an S3 store on a fresh bucket of the module's moto server."""
    if kind == "local":
        return LocalReferenceStore(tmp_path)
    client = s3_client(request.getfixturevalue("moto_url"))
    bucket = f"proofs-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3ReferenceStore(client, bucket)


def verify_once(store: Any, settings: dict[str, str]) -> str:
    """Register the day photo in kim's ``facade`` habit, verify the night photo; the verification id."""
    app = create_app({**OPEN, **settings}, store=store, tagger=FakeTagger(), thresholds=Profile())
    with TestClient(app) as client:
        body = client.post("/auth/stdimg", json={"data": b64(DAY), "name": "kim", "habit": "facade"}).json()
        assert body["result"] is True, body
        body = client.post("/auth/feature", json={"data": b64(NIGHT), "name": "kim", "habit": "facade"}).json()
        assert body["status"] == 200 and body["verification_id"], body
        return str(body["verification_id"])


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_proof_photo_kept_reencoded_when_on(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store(kind, tmp_path, request)
    vid = verify_once(store, {"VISION_KEEP_PROOF_PHOTOS": "1"})
    owner = habit_owner("kim", "facade")
    log = history_log(store)
    assert log.get(owner, vid).data["proof_photo"] is True  # type: ignore[union-attr]
    photo = log.photo(owner, vid)
    assert photo is not None and photo.startswith(b"\xff\xd8") and b"Exif" not in photo[:64]
    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and max(image.shape[:2]) <= 1000  # the working resolution, not the bytes as sent
    assert photo != NIGHT


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_no_proof_photo_by_default(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store(kind, tmp_path, request)
    vid = verify_once(store, {})
    owner = habit_owner("kim", "facade")
    log = history_log(store)
    assert "proof_photo" not in log.get(owner, vid).data  # type: ignore[union-attr]
    assert log.photo(owner, vid) is None
    assert not any(name.endswith(".jpg") for name in log.blobs.names(owner))


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_proof_photo_goes_with_its_entry(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store(kind, tmp_path, request)
    log = type(history_log(store))(history_log(store).blobs, keep=1)
    first = log.append("lea", {"n": 1}, b"\xff\xd8first")
    second = log.append("lea", {"n": 2}, b"\xff\xd8second")
    assert log.photo("lea", first.entry_id) is None and log.get("lea", first.entry_id) is None
    assert log.photo("lea", second.entry_id) == b"\xff\xd8second"
    assert sorted(log.blobs.names("lea")) == sorted([f"{second.entry_id}.json", f"{second.entry_id}.jpg"])


def test_an_oversized_photo_or_entry_writes_nothing(tmp_path: Path) -> None:
    log = history_log(LocalReferenceStore(tmp_path))
    with pytest.raises(ValueError, match="proof photo"):
        log.append("lea", {"n": 1}, b"x" * (5 * 1024 * 1024))
    with pytest.raises(ValueError, match="history entry"):
        log.append("lea", {"big": "x" * 20_000}, b"\xff\xd8small")
    assert log.blobs.names("lea") == []
