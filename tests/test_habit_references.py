"""Issue 24: a habit's references listed and removed one by one (``vision.service.habits``), local and S3 (moto)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_fixtures import s3_client

from vision.service.habits import HabitError, habit_owner, habit_references, remove_habit_reference
from vision.store import InvalidUserIdError, LocalReferenceStore, ReferenceNotFoundError, S3ReferenceStore
from vision.store.guard import GuardedStore


def _put(store: Any, owner: str) -> Any:
    return store.put(owner, b"\xff\xd8img", b"f", n_keypoints=100, width=640, height=480, content_type="image/jpeg")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path) -> Any:
    """The store behind the API's guard, as the dashboard and the API use it."""
    if request.param == "local":
        inner: Any = LocalReferenceStore(tmp_path)
    else:
        url = request.getfixturevalue("moto_url")
        bucket = f"habit-{uuid.uuid4().hex[:12]}"
        s3_client(url).create_bucket(Bucket=bucket)
        inner = S3ReferenceStore(s3_client(url), bucket)
    guard = GuardedStore(inner)
    yield guard
    guard.close()


def test_remove_one_reference_of_a_habit(store) -> None:
    desk = habit_owner("bob", "desk")
    day, night = _put(store, desk), _put(store, desk)
    default = _put(store, "bob")
    assert habit_references(store, "bob", "desk") == [night, day]
    assert remove_habit_reference(store, "bob", "desk", night.key) == [day]
    assert store.latest(desk) == day  # the habit's pointer moved to the one left
    assert remove_habit_reference(store, "bob", "desk", day.key) == []
    assert store.latest(desk) is None and habit_references(store, "bob", "desk") == []
    assert habit_references(store, "bob", "default") == [default]  # another habit: untouched


def test_keys_outside_the_habit_and_bad_names_are_refused(store) -> None:
    desk, gym = habit_owner("bob", "desk"), habit_owner("bob", "gym")
    mine, other_habit, other_user = _put(store, desk), _put(store, gym), _put(store, "carol")
    with pytest.raises(ReferenceNotFoundError, match=r"no reference .* in habit 'desk' of 'bob'"):
        remove_habit_reference(store, "bob", "desk", other_habit.key)
    with pytest.raises(ReferenceNotFoundError):
        remove_habit_reference(store, "bob", "desk", other_user.key)
    with pytest.raises(ReferenceNotFoundError):
        remove_habit_reference(store, "bob", "desk", f"{desk}/{uuid.uuid4().hex}")  # well-formed, unknown
    with pytest.raises(HabitError, match="1-32 characters"):
        remove_habit_reference(store, "bob", "Desk!", mine.key)
    with pytest.raises(InvalidUserIdError, match="@@"):
        remove_habit_reference(store, "bob@@desk", "default", mine.key)
    with pytest.raises(InvalidUserIdError):
        remove_habit_reference(store, "bob", "desk", "../../etc/passwd")
    assert habit_references(store, "bob", "desk") == [mine]
    assert habit_references(store, "bob", "gym") == [other_habit] and store.list("carol") == [other_user]
