"""AppTest of the Register page: examples, uploads, the keypoint slider, storing once, deleting."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from page_helpers import figure_values, headlines, open_page, texts
from PIL import Image

from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


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


def test_store_once_list_and_delete(store_dir):
    at = open_page("pages/register.py")
    at.text_input(key="register_user").set_value("alice").run()
    at.button(key="store_reference").click().run()
    assert not at.exception
    assert "Stored for 'alice'" in texts(at)
    assert not any(b.key == "store_reference" for b in at.button)  # no second store of the same photo
    at.run()
    records = LocalReferenceStore(store_dir).list("alice")
    assert len(records) == 1 and records[0].n_keypoints > 80
    delete = [b for b in at.button if b.key == f"delete_{records[0].key}"]
    assert delete, "the stored reference is listed with a delete button"
    assert records[0].key not in texts(at)  # dates and sizes, not storage keys
    delete[0].click().run()
    assert LocalReferenceStore(store_dir).list("alice") == []


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
