"""AppTest of the Register page: examples, uploads, the keypoint slider, storing once, a habit's references."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from page_helpers import figure_values, headlines, open_page, texts
from PIL import Image

from vision.service.habits import habit_owner
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
_META = {"n_keypoints": 300, "width": 451, "height": 300, "content_type": "image/jpeg"}


def _upload_bytes(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt)
    return buf.getvalue()


def _upload(at, name: str, data: bytes):
    at.radio(key="register_source").set_value("Upload").run()
    at.file_uploader(key="register_upload").set_value((name, data, "image/jpeg")).run()
    assert not at.exception, at.exception
    return at


def test_example_is_a_good_picture(store_dir):
    at = open_page("pages/register.py")
    assert "Good Picture" in texts(at) and headlines(at)[0].startswith("✅ Good reference:")
    assert int(figure_values(at)["Distinctive points"].rstrip("+")) > 80
    assert len(at.get("image")) >= 1
    assert "↑" not in texts(at)  # no unexplained deltas


def test_keypoint_slider_flips_the_verdict(store_dir):
    at = open_page("pages/register.py")
    _upload(at, "small.jpg", (SAMPLES / "tag/chelsea.jpg").read_bytes())
    keypoints = int(figure_values(at)["Distinctive points"].rstrip("+"))
    at.slider(key="th_min_keypoints").set_value(min(500, keypoints + 1)).run()
    assert "Too Little Features" in texts(at) and headlines(at)[0].startswith("⚠️ Too plain")
    at.slider(key="th_min_keypoints").set_value(0).run()
    assert "Good Picture" in texts(at)


def test_small_photo_is_not_upscaled(store_dir):
    """A 217x232 photo is checked at its own size: no invented keypoints."""
    cat = np.asarray(Image.open(SAMPLES / "tag/chelsea.jpg").convert("RGB"))
    small = cat[30:262, 110:327]  # 232 rows x 217 columns
    at = _upload(open_page("pages/register.py"), "small.jpg", _upload_bytes(small))
    figures = figure_values(at)
    assert figures["Photo"] == "217x232" and figures["Checked at"] == "217x232"
    assert int(figures["Distinctive points"].rstrip("+")) < 500


def test_upload_blank_is_too_little_features(store_dir):
    blank = np.full((600, 800, 3), 127, np.uint8)
    at = _upload(open_page("pages/register.py"), "blank.jpg", _upload_bytes(blank))
    assert "Too Little Features" in texts(at)
    assert not any(b.key == "store_reference" for b in at.button)


def test_upload_garbage_is_take_picture_again(store_dir):
    at = _upload(open_page("pages/register.py"), "x.png", b"not an image at all")
    said = texts(at)
    assert "Take Picture Again" in said and "not a JPEG, PNG or WebP" in said


def _buttons(at) -> set[str]:
    return {b.key for b in at.button}


def _habit(at, user: str, habit: str):
    at.text_input(key="register_user").set_value(user).run()
    at.text_input(key="register_habit").set_value(habit).run()
    assert not at.exception, at.exception
    return at


def test_store_once_and_list_with_thumbnail_date_and_key(store_dir):
    at = _habit(open_page("pages/register.py"), "alice", "default")
    assert "No references stored for this habit yet." in texts(at)
    images_before = len(at.get("image"))
    at.button(key="store_reference").click().run()
    assert not at.exception
    assert "Stored for 'alice'" in texts(at)
    assert "store_reference" not in _buttons(at)  # no second store of the same photo
    records = LocalReferenceStore(store_dir).list("alice")  # the default habit: the user's own id
    assert len(records) == 1 and records[0].n_keypoints > 80
    said = texts(at)
    assert f"key {records[0].key}" in said and f"{records[0].created_at:%Y-%m-%d %H:%M} UTC" in said
    assert len(at.get("image")) == images_before + 1  # its thumbnail
    assert at.subheader[-1].value == "References of 'alice' (1 of 3)"
    assert f"remove_{records[0].key}" in _buttons(at)


def test_add_a_second_reference_into_a_habit(store_dir):
    store = LocalReferenceStore(store_dir)
    owner = habit_owner("bob", "desk")
    first = store.put(owner, (SAMPLES / "tag/chelsea.jpg").read_bytes(), b"", **_META)
    at = _habit(open_page("pages/register.py"), "bob", "desk")
    assert at.subheader[-1].value == "References of 'bob' · habit 'desk' (1 of 3)"
    assert at.button(key="store_reference").label == "Add as another reference for 'bob' · habit 'desk'"
    at.button(key="store_reference").click().run()
    assert not at.exception, at.exception
    assert "Stored for 'bob' · habit 'desk'" in texts(at)
    records = store.list(owner)
    assert len(records) == 2 and records[1] == first and records[0].n_keypoints > 80
    assert store.latest(owner) == records[0]
    assert store.list("bob") == []  # the default habit is another one
    assert at.subheader[-1].value == "References of 'bob' · habit 'desk' (2 of 3)"
    assert "Habits of 'bob' with references: desk." in texts(at)


def test_remove_asks_first_then_removes(store_dir):
    store = LocalReferenceStore(store_dir)
    owner = habit_owner("cy", "plant")
    old, new = (store.put(owner, (SAMPLES / "tag/chelsea.jpg").read_bytes(), b"", **_META) for _ in range(2))
    at = _habit(open_page("pages/register.py"), "cy", "plant")
    at.button(key=f"remove_{new.key}").click().run()
    assert "Remove this reference?" in texts(at)
    assert {"remove_confirm", "remove_cancel"} <= _buttons(at)
    at.button(key="remove_cancel").click().run()  # changed their mind: nothing removed
    assert "remove_confirm" not in _buttons(at) and store.list(owner) == [new, old]
    at.button(key=f"remove_{new.key}").click().run()
    at.button(key="remove_confirm").click().run()
    assert not at.exception, at.exception
    assert f"Removed the reference {new.key}." in texts(at)
    assert store.list(owner) == [old] and store.latest(owner) == old
    assert f"remove_{new.key}" not in _buttons(at) and f"remove_{old.key}" in _buttons(at)
    at.button(key=f"remove_{old.key}").click().run()
    assert "It is the habit's only reference" in texts(at)
    at.button(key="remove_confirm").click().run()
    assert store.list(owner) == [] and store.latest(owner) is None
    assert "No references stored for this habit yet." in texts(at)


def test_bad_habit_is_refused(store_dir):
    at = _habit(open_page("pages/register.py"), "dee", "Not A Habit")
    said = texts(at)
    assert "Cannot store for this user id or habit" in said and "1-32 characters" in said
    assert "store_reference" not in _buttons(at)


def test_empty_user_id_offers_no_store(store_dir):
    at = open_page("pages/register.py")
    at.text_input(key="register_user").set_value("").run()
    assert not at.exception
    assert not any(b.key == "store_reference" for b in at.button)
    assert "Enter a user id" in texts(at)


def test_hostile_user_id_is_refused(store_dir):
    at = open_page("pages/register.py")
    at.text_input(key="register_user").set_value("../etc").run()
    assert not at.exception
    assert not any(b.key == "store_reference" for b in at.button)
    assert "Cannot store for this user id" in texts(at)
    assert not any(store_dir.rglob("*.json")) if store_dir.exists() else True
