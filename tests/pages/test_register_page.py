"""AppTest of the Register page: samples, uploads, the keypoint slider, storing and deleting."""

from __future__ import annotations

import io

import numpy as np
from page_helpers import open_page, texts
from PIL import Image

from vision.store import LocalReferenceStore

SAMPLE = "images/lightglue/DSC_0410.JPG"


def _upload_bytes(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt)
    return buf.getvalue()


def test_sample_is_a_good_picture(store_dir):
    at = open_page("pages/register.py")
    assert "Good Picture" in texts(at)
    assert at.metric[0].label == "AKAZE keypoints" and int(at.metric[0].value.rstrip("+")) > 80
    assert len(at.get("image")) >= 1


def test_keypoint_slider_flips_the_verdict(store_dir):
    at = open_page("pages/register.py")
    keypoints = int(at.metric[0].value.rstrip("+"))
    at.slider(key="th_min_keypoints").set_value(500).run()
    assert keypoints < 500 or "Good Picture" in texts(at)
    at.slider(key="th_min_keypoints").set_value(0).run()
    assert "Good Picture" in texts(at)


def test_upload_blank_is_too_little_features(store_dir):
    at = open_page("pages/register.py")
    at.radio(key="register_source").set_value("Upload").run()
    blank = np.full((600, 800, 3), 127, np.uint8)
    at.file_uploader(key="register_upload").set_value(("blank.jpg", _upload_bytes(blank), "image/jpeg")).run()
    assert not at.exception
    assert "Too Little Features" in texts(at)
    assert not any(b.key == "store_reference" for b in at.button)


def test_upload_garbage_is_take_picture_again(store_dir):
    at = open_page("pages/register.py")
    at.radio(key="register_source").set_value("Upload").run()
    at.file_uploader(key="register_upload").set_value(("x.png", b"not an image at all", "image/png")).run()
    assert not at.exception
    said = texts(at)
    assert "Take Picture Again" in said and "not a JPEG, PNG or WebP" in said


def test_store_list_and_delete(store_dir):
    at = open_page("pages/register.py")
    at.text_input(key="register_user").set_value("alice").run()
    at.button(key="store_reference").click().run()
    assert not at.exception
    assert "Stored as alice/" in texts(at)
    records = LocalReferenceStore(store_dir).list("alice")
    assert len(records) == 1 and records[0].n_keypoints > 80
    at.run()
    delete = [b for b in at.button if b.key == f"delete_{records[0].key}"]
    assert delete, "the stored reference is listed with a delete button"
    delete[0].click().run()
    assert LocalReferenceStore(store_dir).list("alice") == []


def test_hostile_user_id_is_refused(store_dir):
    at = open_page("pages/register.py")
    at.text_input(key="register_user").set_value("../etc").run()
    at.button(key="store_reference").click().run()
    assert not at.exception
    assert "Could not store" in texts(at)
    assert not any(store_dir.rglob("*.json")) if store_dir.exists() else True
