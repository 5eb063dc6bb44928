"""Habits (issue 24): several references per habit, the history log in both stores, history and dispute endpoints."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from api_fixtures import FakeTagger, b64, s3_client
from fastapi.testclient import TestClient
from stall_proxy import StallProxy

from api import create_app
from vision.core import verdict as v
from vision.flows.prepare import prepare_photo
from vision.flows.references import save_reference, stored_features
from vision.flows.verify import StoredMemory, replay_step, verify_photo
from vision.profile import Profile
from vision.rules.base import Needs
from vision.service import habit_flows
from vision.service.habits import HabitError, habit_owner, verify_habit_bytes
from vision.store import LocalReferenceStore, S3ReferenceStore, StoreUnavailableError
from vision.store.guard import CircuitBreaker, GuardedStore
from vision.store.history import history_log
from vision.web.settings import ApiSettings

HABITS = Path(__file__).resolve().parents[1] / "samples" / "habits"


def _photo(name: str) -> bytes:
    return (HABITS / name).read_bytes()


@pytest.fixture(scope="module")
def night_habit(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, LocalReferenceStore]:
    """An API on a local store where bob's ``facade`` habit has a day and a night reference.

    The simulated night reference is too dark for AKAZE's 80-keypoint register minimum (it has none;
    XFeat still matches it), so it is saved the way the register flow saves one, without that check.
    """
    store = LocalReferenceStore(tmp_path_factory.mktemp("habits"))
    app = create_app({}, store=store, tagger=FakeTagger(), thresholds=Profile())
    with TestClient(app, raise_server_exceptions=False) as client:
        body = client.post(
            "/auth/stdimg", json={"data": b64(_photo("facade_day.jpg")), "name": "bob", "habit": "facade"}
        ).json()
        assert body["result"] is True, body
        night = _photo("facade_night_ref.jpg")
        save_reference(store, habit_owner("bob", "facade"), night, prepare_photo(night, Profile().feature_settings))
        yield client, store


def test_night_photo_accepted_only_through_its_night_reference(night_habit) -> None:
    client, store = night_habit
    owner = habit_owner("bob", "facade")
    day_key, night_key = [r.key for r in reversed(store.list(owner))]
    night = _photo("facade_night_proof.jpg")
    # The day reference alone rejects the night photo (the habit-less flow of another user with only it).
    alone = client.post("/auth/stdimg", json={"data": b64(_photo("facade_day.jpg")), "name": "carol"}).json()
    assert alone["result"] is True
    assert client.post("/auth/feature", json={"data": b64(night), "name": "carol"}).json()["result"] is False
    body = client.post("/auth/feature", json={"data": b64(night), "name": "bob", "habit": "facade"}).json()
    assert body["message"] == v.COMPLETE and body["matched_reference"] == night_key != day_key, body
    assert body["habit"] == "facade" and body["replay"] is False and len(body["verification_id"]) == 55


def test_resent_reference_is_a_replay_of_the_habit(night_habit) -> None:
    client, _ = night_habit
    day = b64(_photo("facade_day.jpg"))
    body = client.post("/auth/feature", json={"data": day, "name": "bob", "habit": "facade"}).json()
    assert body["result"] is False and body["replay"] is True and body["matched_reference"] is None, body


def test_history_pages_and_dispute(night_habit) -> None:
    client, _ = night_habit
    first = client.get("/auth/history", params={"name": "bob", "habit": "facade", "limit": 1}).json()
    assert first["status"] == 200 and len(first["entries"]) == 1 and first["next"], first
    rest = client.get("/auth/history", params={"name": "bob", "habit": "facade", "before": first["next"]}).json()
    entries = first["entries"] + rest["entries"]
    assert [e["result"] for e in entries] == [False, True]  # newest first: the replay, then the acceptance
    assert entries[1]["reference"] and entries[1]["profile"] and "photo" not in entries[1]
    vid = entries[0]["id"]
    claim = {"name": "bob", "habit": "facade", "id": vid, "claim": "same"}
    assert client.post("/auth/dispute", json=claim).json()["message"] == "Recorded"
    again = client.get("/auth/history", params={"name": "bob", "habit": "facade", "limit": 1}).json()
    assert again["entries"][0]["dispute"] == {"claim": "same", "label": 1, "reviewed": False}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "bob", "habit": "facade", "id": "20260101T000000000000Z-" + "0" * 32, "claim": "same"}, 404),
        ({"name": "bob", "habit": "facade", "id": "../../etc", "claim": "same"}, 400),
        ({"name": "bob", "habit": "facade", "id": "x", "claim": "maybe"}, 400),
        ({"name": "bob", "habit": "Not A Habit", "id": "x", "claim": "same"}, 400),
    ],
)
def test_bad_dispute_is_refused(night_habit, body, status) -> None:
    client, _ = night_habit
    assert client.post("/auth/dispute", json=body).json()["status"] == status


def test_bad_history_reads_are_refused(night_habit) -> None:
    client, _ = night_habit
    for params in ({"name": "bob", "habit": "facade", "limit": 1000}, {"name": "bob", "before": "../x"}, {}):
        assert client.get("/auth/history", params=params).json()["status"] == 400, params


def test_replace_and_the_reference_cap(tmp_path: Path) -> None:
    store = LocalReferenceStore(tmp_path)
    app = create_app({"VISION_MAX_REFERENCES_PER_HABIT": "2"}, store=store, tagger=FakeTagger(), thresholds=Profile())
    day = b64(_photo("facade_day.jpg"))
    with TestClient(app) as client:
        for _ in range(3):
            body = client.post("/auth/stdimg", json={"data": day, "name": "dan", "habit": "desk"}).json()
        assert len(body["references"]) == 2 and body["name"] == "dan"
        body = client.post("/auth/stdimg", json={"data": day, "name": "dan", "habit": "desk", "replace": True}).json()
        assert body["references"] == [body["key"]]
        bad = client.post("/auth/stdimg", json={"data": day, "name": "dan", "habit": "desk", "replace": "yes"}).json()
        assert bad["status"] == 400
    assert store.list("dan") == []  # the default habit is untouched


def test_owner_ids_cannot_reach_another_users_habit() -> None:
    assert habit_owner("bob", "default") == "bob"
    with pytest.raises(HabitError):
        habit_owner("bob@@desk", "plant")
    long = habit_owner("x" * 60, "desk")
    assert long.startswith("@@") and len(long) == 42 and long != habit_owner("x" * 60, "gym")


@pytest.mark.parametrize("path", ["/auth/stdimg", "/auth/feature"])
def test_a_client_id_with_the_habit_separator_is_refused_without_a_habit(night_habit, path: str) -> None:
    client, store = night_habit
    before = sorted(p.name for p in store.root.rglob("*"))
    body = client.post(path, json={"data": b64(_photo("facade_day.jpg")), "name": "bob@@facade"}).json()
    assert body["result"] is False and "@@" in body["reason"]  # never bob's 'facade' habit
    assert sorted(p.name for p in store.root.rglob("*")) == before


def _history_round(log, owner: str) -> None:
    writers = [
        threading.Thread(target=lambda i=i: [log.append(owner, {"i": i, "j": j}) for j in range(5)]) for i in range(2)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    entries, nxt = log.page(owner, 100)
    assert sorted((e.data["i"], e.data["j"]) for e in entries) == [(i, j) for i in range(2) for j in range(5)]
    assert nxt is None
    small = type(log)(log.blobs, keep=3)
    small.append(owner, {"last": True})
    kept, _ = small.page(owner, 100)
    assert len(kept) == 3 and kept[0].data == {"last": True}
    with pytest.raises(ValueError):
        log.append(owner, {"big": "x" * 20_000})


def test_local_history_two_writers_and_retention(tmp_path: Path) -> None:
    _history_round(history_log(LocalReferenceStore(tmp_path)), "eve")


def test_s3_history_two_writers_and_retention(moto_url: str) -> None:
    bucket = f"hist-{uuid.uuid4().hex[:12]}"
    s3_client(moto_url).create_bucket(Bucket=bucket)
    store = S3ReferenceStore(s3_client(moto_url), bucket)
    _history_round(history_log(store), "eve")
    assert store.list("eve") == []  # history objects are not references


def test_habit_without_references(tmp_path: Path) -> None:
    verdict = verify_habit_bytes(LocalReferenceStore(tmp_path), _photo("facade_day.jpg"), "zed@@desk")
    assert (verdict.status, verdict.message) == (400, v.NO_STD_IMG)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("0", ">= 1"), ("21", "1..20"), ("three", "whole number"), ("2.5", "whole number")],
)
def test_max_references_per_habit_is_parsed_with_its_bounds(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match="VISION_MAX_REFERENCES_PER_HABIT") as info:
        ApiSettings.from_settings({"VISION_MAX_REFERENCES_PER_HABIT": raw})
    assert message in str(info.value)
    assert ApiSettings.from_settings({"VISION_MAX_REFERENCES_PER_HABIT": "20"}).max_references_per_habit == 20
    assert ApiSettings.from_settings({}).max_references_per_habit == 3


def test_history_io_goes_through_the_store_guard(moto_url: str) -> None:
    """A hanging S3 (a stalling proxy in front of moto): history calls time out, then the breaker opens."""
    bucket = f"hang-{uuid.uuid4().hex[:12]}"
    s3_client(moto_url).create_bucket(Bucket=bucket)
    with StallProxy(moto_url) as proxy:
        client = s3_client(proxy.url)
        # botocore loads its models and opens the connection on a client's first call (can exceed the 0.5 s
        # below on a loaded machine): made here, unguarded, so the guard times only the history's own I/O
        client.head_bucket(Bucket=bucket)
        breaker = CircuitBreaker(failures=2, reset_s=60)
        guard = GuardedStore(S3ReferenceStore(client, bucket), timeout_s=0.5, breaker=breaker)
        try:
            log = history_log(guard)
            entry = log.append("kim@@desk", {"n": 1})  # the store answers: through the guard
            proxy.stall = True
            start = time.perf_counter()
            with pytest.raises(StoreUnavailableError) as info:
                log.page("kim@@desk", 5)
            assert info.value.reason == "timeout" and time.perf_counter() - start < 2
            page = habit_flows.history_page(guard, "kim", "desk", None, None)
            assert (page.status, page.reason) == (500, "the history cannot be read")
            assert breaker.state == "open"
            start = time.perf_counter()
            claim = habit_flows.dispute(guard, "kim", "desk", entry.entry_id, "same")
            assert claim.status == 500 and time.perf_counter() - start < 0.2  # circuit open: refused at once
        finally:
            proxy.stall = False
            guard.close()


LIGHTGLUE = HABITS.parent / "images" / "lightglue"
THREE = [LIGHTGLUE / "DSC_0410.JPG", LIGHTGLUE / "sacre_coeur1.jpg", LIGHTGLUE / "DSC_0411.JPG"]


@pytest.fixture()
def three_references(tmp_path: Path) -> tuple[LocalReferenceStore, list]:
    """Habit ``nia@@church`` with three references (registered in THREE's order): store and records, oldest first."""
    store = LocalReferenceStore(tmp_path)
    for path in THREE:
        data = path.read_bytes()
        save_reference(store, "nia@@church", data, prepare_photo(data, Profile().feature_settings))
    return store, list(reversed(store.list("nia@@church")))


def test_a_copy_of_the_third_reference_is_a_replay(three_references) -> None:
    store, records = three_references
    verdict = verify_habit_bytes(store, THREE[2].read_bytes(), "nia@@church", Profile())
    assert verdict.result is False and verdict.extra["replay"] is True, verdict
    assert verdict.extra["replay_of"]["id"] == records[2].key and verdict.extra["replay_of"]["kind"] == "reference"


def test_the_replay_check_covers_references_other_than_the_matched_one(three_references) -> None:
    """Accepted through the 1st reference, the copy of the 3rd is still found (before, only the 1st was checked)."""
    store, records = three_references
    profile = Profile()
    loaded = [(r, stored_features(store, r.key, profile.feature_settings, Needs())[0]) for r in records]
    copy = THREE[2].read_bytes()
    accepted = verify_photo(loaded[0][1], copy, profile)
    assert accepted.verdict.result is True, accepted.verdict  # DSC_0411 is a genuine view of DSC_0410
    alone = replay_step(accepted, loaded[0][1], profile, StoredMemory(store, records[0]))
    assert alone.verdict.extra["replay"] is False  # the matched reference alone does not see the copy
    habit = replay_step(accepted, loaded[0][1], profile, StoredMemory(store, records[0], others=tuple(loaded[1:])))
    assert habit.verdict.extra["replay"] is True and habit.verdict.extra["replay_of"]["id"] == records[2].key
