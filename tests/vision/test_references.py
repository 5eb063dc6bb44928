"""vision.flows.references: a reference stored with its features, recomputed and saved back when stale."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vision.core.errors import ImageInputError
from vision.flows.prepare import prepare_photo
from vision.flows.references import LoadedReference, load_reference, save_reference
from vision.matchers.akaze import FeatureSettings, features_from_bytes
from vision.store import LocalReferenceStore, ReferenceNotFoundError

SETTINGS = FeatureSettings(working_side=480, max_keypoints=400)
OTHER = FeatureSettings(working_side=400, max_keypoints=300)


@pytest.fixture(scope="module")
def photo(pair_same):
    return prepare_photo(pair_same[0], SETTINGS)


@pytest.fixture
def store(tmp_path) -> LocalReferenceStore:
    return LocalReferenceStore(tmp_path / "refs")


@pytest.fixture
def saved(store, pair_same, photo):
    return save_reference(store, "alice", pair_same[0], photo)


def features_file(root: Path) -> Path:
    [path] = [p for p in root.rglob("*") if p.is_file() and p.suffix == ".features"]
    return path


def test_save_reference_record(store, saved, pair_same, photo):
    assert saved.user_id == "alice" and saved.key.startswith("alice/")
    assert (saved.width, saved.height) == photo.header.upright_size == (1024, 682)
    assert saved.content_type == "image/jpeg"
    assert saved.n_keypoints == photo.features.n_detected
    assert store.latest("alice") == saved
    assert store.load_image(saved.key) == pair_same[0]  # the original bytes, untouched
    stored = features_from_bytes(store.load_features(saved.key))
    np.testing.assert_array_equal(stored.descriptors, photo.features.descriptors)
    assert stored.settings == SETTINGS


def test_load_uses_stored_features(store, saved, photo):
    loaded = load_reference(store, saved.key, SETTINGS)
    assert isinstance(loaded, LoadedReference)
    assert loaded.recomputed is False
    assert loaded.record == saved
    np.testing.assert_array_equal(loaded.features.descriptors, photo.features.descriptors)
    np.testing.assert_array_equal(loaded.features.points, photo.features.points)


def test_load_recomputes_and_saves_when_blob_deleted(store, saved, photo, tmp_path):
    features_file(tmp_path / "refs").unlink()
    assert store.load_features(saved.key) is None
    loaded = load_reference(store, saved.key, SETTINGS)
    assert loaded.recomputed is True
    np.testing.assert_array_equal(loaded.features.descriptors, photo.features.descriptors)
    blob = store.load_features(saved.key)
    assert blob is not None and features_from_bytes(blob).settings == SETTINGS
    assert load_reference(store, saved.key, SETTINGS).recomputed is False  # written back


def test_load_recomputes_garbage_blob(store, saved, photo):
    store.save_features(saved.key, b"this is not an npz")
    loaded = load_reference(store, saved.key, SETTINGS)
    assert loaded.recomputed is True
    assert features_from_bytes(store.load_features(saved.key)).n_detected == photo.features.n_detected


def test_load_recomputes_for_other_settings(store, saved):
    loaded = load_reference(store, saved.key, OTHER)
    assert loaded.recomputed is True
    assert loaded.features.settings == OTHER
    assert max(loaded.features.image_size) == OTHER.working_side
    assert features_from_bytes(store.load_features(saved.key)).settings == OTHER
    again = load_reference(store, saved.key, OTHER)
    assert again.recomputed is False
    np.testing.assert_array_equal(again.features.descriptors, loaded.features.descriptors)
    assert load_reference(store, saved.key, SETTINGS).recomputed is True  # and back


def test_load_missing_key(store, saved):
    with pytest.raises(ReferenceNotFoundError):
        load_reference(store, "alice/" + "0" * 32, SETTINGS)


def test_stale_features_and_broken_image(store, pair_same, photo, tmp_path):
    record = save_reference(store, "bob", b"\xff\xd8\xff\xe0 broken jpeg bytes", photo)
    # the stored features are still usable: the broken image is never decoded
    assert load_reference(store, record.key, SETTINGS).recomputed is False
    # features that must be recomputed from a broken image: an input error, not a crash
    with pytest.raises(ImageInputError):
        load_reference(store, record.key, OTHER)


# -- issue 22, item 6: what the API stores (keep_original=False) ----------------------------------


def test_re_encoded_reference_is_the_working_image(store, pair_same, photo):
    saved = save_reference(store, "alice", pair_same[0], photo, keep_original=False)
    assert (saved.width, saved.height) == (photo.image.shape[1], photo.image.shape[0]) == (480, 320)
    assert saved.content_type == "image/jpeg"
    stored = cv2.imdecode(np.frombuffer(store.load_image(saved.key), np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == photo.image.shape
    assert np.abs(stored.astype(int) - photo.image.astype(int)).mean() < 3


def test_recomputed_features_of_a_re_encoded_reference_are_nearly_the_same(store, pair_same, photo, tmp_path):
    saved = save_reference(store, "alice", pair_same[0], photo, keep_original=False)
    features_file(tmp_path / "refs").unlink()
    loaded = load_reference(store, saved.key, SETTINGS)
    assert loaded.recomputed is True
    assert loaded.features.image_size == photo.features.image_size
    assert abs(loaded.features.n_detected - photo.features.n_detected) <= 0.1 * photo.features.n_detected
    near = np.linalg.norm(loaded.features.points[:, None] - photo.features.points[None], axis=2).min(axis=1) < 1.5
    assert near.mean() > 0.8


def test_a_padded_photo_is_stored_at_its_pictures_size(store, photo):
    """Comment padding (here 7 MB, under the decode budget) is not stored."""
    ok, encoded = cv2.imencode(".jpg", photo.image)
    assert ok
    comment = b"\xff\xfe" + (65_000).to_bytes(2, "big") + b"p" * 64_998
    padded = encoded.tobytes()[:2] + comment * 110 + encoded.tobytes()[2:]
    assert len(padded) > 7_000_000
    saved = save_reference(store, "pad", padded, prepare_photo(padded, SETTINGS), keep_original=False)
    assert len(store.load_image(saved.key)) < 600_000


def test_stored_photo_is_upright_and_has_no_metadata(store, photo):
    """EXIF (orientation, GPS position) is applied or dropped: the stored JPEG has none."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # a GPS position
    buf = io.BytesIO()
    Image.fromarray(photo.image[:, :, ::-1]).save(buf, "JPEG", exif=exif.tobytes())
    sent = buf.getvalue()
    assert b"Exif\x00\x00" in sent
    saved = save_reference(store, "gps", sent, prepare_photo(sent, SETTINGS), keep_original=False)
    stored = store.load_image(saved.key)
    assert b"Exif\x00\x00" not in stored
    height, width = photo.image.shape[:2]
    assert cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR).shape == (width, height, 3)
