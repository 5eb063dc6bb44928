"""What the main before the package move wrote still works: a stored reference and saved profiles.

``tests/assets/compat_main_8d2a262`` was written by main at 8d2a262 (see its README): a local store
holding one reference (image, AKAZE + descriptor + XFeat feature blob, fingerprint, metadata, the
latest pointer) and a profile in JSON and in TOML.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vision import rules
from vision.flows.references import stored_features
from vision.profile import Profile, load_profile
from vision.service.verify import verify_bytes
from vision.store import LocalReferenceStore

OLD = Path(__file__).resolve().parent / "assets" / "compat_main_8d2a262"
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images" / "vlfeat"


@pytest.fixture
def store(tmp_path: Path) -> LocalReferenceStore:
    shutil.copytree(OLD / "store", tmp_path / "store")
    return LocalReferenceStore(tmp_path / "store")


def test_a_reference_stored_before_loads_and_gains_only_its_aliked_features(store: LocalReferenceStore) -> None:
    record = store.latest("compat-user")
    assert record is not None
    settings = Profile().feature_settings
    old = stored_features(store, record.key, settings, rules.get("robust").needs)[0]
    assert old.aliked is None  # written before the second opinion
    features, recomputed = stored_features(store, record.key, settings, rules.get("learned").needs)
    # the blob parses, with its descriptor and XFeat features; only ALIKED's are added (and stored back)
    assert recomputed and features.aliked is not None and len(features.aliked) > 100
    assert np.array_equal(features.points, old.points) and np.array_equal(features.xfeat.keypoints, old.xfeat.keypoints)
    assert features.embedding is not None and features.n_detected > 1000


def test_a_reference_stored_before_verifies(store: LocalReferenceStore) -> None:
    same = verify_bytes(store, (SAMPLES / "roofs2.jpg").read_bytes(), "compat-user", Profile())
    other = verify_bytes(store, (SAMPLES / "river1.jpg").read_bytes(), "compat-user", Profile())
    assert (same.message, same.extra["rule"], same.extra["replay"]) == ("Complete", "learned", False)
    assert other.message == "You took wrong picture"


def test_profiles_saved_before_load() -> None:
    assert load_profile(OLD / "profile.json") == Profile(min_inliers=17, learned_threshold=5.1)
    assert load_profile(OLD / "profile.toml") == Profile(fused_threshold=4.9)
