"""vision.flows.references: a reference stored with its features, recomputed and saved back when stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
