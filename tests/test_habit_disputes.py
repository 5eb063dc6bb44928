"""Disputes become tuning data (issue 24): API verify -> dispute -> disputes folder -> lab loader -> review.

Local store and S3 on moto; proof photos kept (``VISION_KEEP_PROOF_PHOTOS``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from api_fixtures import FakeTagger, b64, s3_client
from fastapi.testclient import TestClient

from api import create_app
from vision.lab.data import open_folder
from vision.profile import Profile
from vision.service.habit_flows import review_dispute
from vision.service.habits import habit_owner
from vision.store import LocalReferenceStore, S3ReferenceStore
from vision.store.disputes import DISPUTES_DIR, disputes_of
from vision.store.history import history_log

HABITS = Path(__file__).resolve().parents[1] / "samples" / "habits"
DAY, NIGHT = (HABITS / "facade_day.jpg").read_bytes(), (HABITS / "facade_night_proof.jpg").read_bytes()
OPEN = {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0"}


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    if kind == "local":
        return LocalReferenceStore(tmp_path / "refs")
    client = s3_client(request.getfixturevalue("moto_url"))
    bucket = f"disputes-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3ReferenceStore(client, bucket)


def dispute_two(store: Any, keep: str) -> tuple[list[dict[str, Any]], str]:
    """kim's day reference; two night proofs, each disputed (``same``, then ``different``); answers and owner."""
    app = create_app({**OPEN, "VISION_KEEP_PROOF_PHOTOS": keep}, store=store, tagger=FakeTagger(), thresholds=Profile())
    answers = []
    with TestClient(app) as client:
        assert client.post("/auth/stdimg", json={"data": b64(DAY), "name": "kim", "habit": "facade"}).json()["result"]
        for claim in ("same", "different"):
            body = client.post("/auth/feature", json={"data": b64(NIGHT), "name": "kim", "habit": "facade"}).json()
            claimed = {"name": "kim", "habit": "facade", "id": body["verification_id"], "claim": claim}
            answers.append(client.post("/auth/dispute", json=claimed).json())
    return answers, habit_owner("kim", "facade")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_dispute_to_lab_round_trip(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store(kind, tmp_path, request)
    answers, owner = dispute_two(store, "1")
    assert [a["tuning_pair"] for a in answers] == [True, True], answers
    disputes = disputes_of(store)
    folder = disputes.materialise(tmp_path / "copy")
    if kind == "local":
        assert folder == store.root / DISPUTES_DIR  # the local store's own folder
    labelled = open_folder(folder)
    pairs = sorted(labelled.pairs, key=lambda p: p.query)
    assert [(p.label, p.kind, p.reviewed) for p in pairs] == [(1, "dispute", False), (0, "dispute", False)]
    assert all((folder / p.ref).read_bytes()[:2] == b"\xff\xd8" for p in pairs)
    assert {p.scene for p in pairs} == {owner}  # the habit is the scene (held out whole)
    first, second = answers[0]["id"], answers[1]["id"]
    review_dispute(store, first, flip=False)  # 'same' confirmed
    review_dispute(store, second, flip=True)  # 'different' was wrong: label 1
    pairs = sorted(open_folder(disputes.materialise(tmp_path / "copy")).pairs, key=lambda p: p.query)
    assert [(p.label, p.reviewed) for p in pairs] == [(1, True), (1, True)]
    marked = history_log(store).get(owner, second)
    assert marked is not None and marked.data["dispute"] == {"claim": "different", "label": 1, "reviewed": True}


def test_without_kept_photos_a_dispute_writes_no_pair(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store("local", tmp_path, request)
    answers, _ = dispute_two(store, "0")
    assert [(a["message"], a["tuning_pair"]) for a in answers] == [("Recorded", False)] * 2
    assert disputes_of(store).rows() == [] and not (store.root / DISPUTES_DIR).exists()
    assert "disputes" not in " ".join(store.users())


def test_bad_reviews_change_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = make_store("local", tmp_path, request)
    dispute_two(store, "1")
    before = [r for r in disputes_of(store).rows()]
    with pytest.raises(KeyError):
        review_dispute(store, "20260101T000000000000Z-" + "0" * 32, flip=True)
    with pytest.raises(ValueError):
        review_dispute(store, "../../etc/passwd", flip=True)
    assert disputes_of(store).rows() == before
    assert store.users() == ["kim@@facade"]  # the disputes folder is never taken for a user
