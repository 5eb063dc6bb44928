"""vision.flows.prepare: the register and verify flows end to end, and the cheap re-decision."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from rule_helpers import decide_pair

from vision.core import verdict as v
from vision.core.errors import NotAnImageError
from vision.flows.prepare import prepare_photo, reference_features, register_photo
from vision.flows.verify import verify_photo
from vision.matchers.akaze import FeatureSettings, features_from_bytes, features_to_bytes
from vision.profile import Profile
from vision.rules.evidence import PairMatch, match_features

DEFAULT = Profile()
VERIFY_TIMINGS = {"decode", "features", "match", "ransac", "decision"}


@pytest.fixture(scope="module")
def ref_photo(pair_same):
    return prepare_photo(pair_same[0], DEFAULT.feature_settings)


@pytest.fixture(scope="module")
def same_result(ref_photo, pair_same):
    return verify_photo(ref_photo.features, pair_same[1], DEFAULT)


# -- register --------------------------------------------------------------


def test_register_good_photo(pair_same):
    verdict, photo = register_photo(pair_same[0], DEFAULT)
    assert verdict.body() == {"status": 200, "message": v.GOOD_PICTURE, "result": True}
    assert verdict.extra["keypoints"] == photo.features.n_detected > 80
    # the default (learned) rule also computes the global descriptor, XFeat and ALIKED features to store with the reference
    assert set(verdict.extra["timings_ms"]) == {"decode", "features", "embedding", "xfeat", "aliked"}
    assert photo.features.embedding is not None and len(photo.features.xfeat) > 100
    fused, _ = register_photo(pair_same[0], replace(DEFAULT, rule="fused"))
    assert set(fused.extra["timings_ms"]) == {"decode", "features", "embedding"}
    robust, _ = register_photo(pair_same[0], replace(DEFAULT, rule="robust"))
    assert set(robust.extra["timings_ms"]) == {"decode", "features"}
    assert all(t >= 0 for t in verdict.extra["timings_ms"].values())
    assert max(photo.image.shape[:2]) == DEFAULT.working_side
    assert photo.header.format == "JPEG"
    assert photo.features.image_size == (photo.image.shape[1], photo.image.shape[0])
    json.dumps(verdict.to_json())


def test_register_blank_photo(blank_jpeg):
    verdict, photo = register_photo(blank_jpeg, DEFAULT)
    assert verdict.body() == {"status": 400, "message": v.TOO_LITTLE_FEATURES, "result": False}
    assert verdict.extra["keypoints"] == 0
    assert photo is not None and len(photo.features) == 0


@pytest.mark.parametrize("data", [b"\x00\x01 definitely not a photo" * 50, b""])
def test_register_unreadable(data):
    verdict, photo = register_photo(data, DEFAULT)
    assert verdict.body() == {"status": 400, "message": v.TAKE_PICTURE_AGAIN, "result": False}
    assert photo is None
    assert verdict.reason  # the specific cause
    assert verdict.extra["error"] in ("NotAnImageError", "EmptyImageError")


def test_register_threshold_from_profile(pair_same):
    verdict, photo = register_photo(pair_same[0], replace(DEFAULT, min_keypoints=10**6))
    assert verdict.message == v.TOO_LITTLE_FEATURES and photo is not None


# -- verify ----------------------------------------------------------------


def test_verify_same_pair_complete(same_result):
    assert same_result.verdict.body() == {"status": 200, "message": v.COMPLETE, "result": True}
    evidence = same_result.evidence
    assert evidence.H is not None and evidence.problems == []
    assert evidence.n_inliers >= 100
    assert evidence.area_fraction > 0.3
    assert set(same_result.timings) == VERIFY_TIMINGS
    assert all(t >= 0 for t in same_result.timings.values())
    body = same_result.to_json()
    assert body["timings_ms"] == same_result.timings
    assert {"status", "message", "result", "reason", "inliers"} <= set(body)
    json.dumps(body)


def test_verify_different_pair_wrong(ref_photo, pair_different):
    result = verify_photo(ref_photo.features, pair_different[1], DEFAULT)
    assert result.verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert result.evidence.score < DEFAULT.min_inliers
    assert result.verdict.reason


def test_verify_featureless_query(ref_photo, blank_jpeg):
    result = verify_photo(ref_photo.features, blank_jpeg, DEFAULT)
    assert result.verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert result.verdict.reason.startswith("no homography")
    assert result.evidence.n_query_keypoints == 0 and result.evidence.H is None


def test_verify_against_featureless_reference(blank_jpeg, pair_same):
    blank_ref = prepare_photo(blank_jpeg).features
    result = verify_photo(blank_ref, pair_same[1], DEFAULT)
    assert result.verdict.message == v.WRONG_PICTURE and not result.verdict.result
    assert "no homography" in result.verdict.reason


@pytest.mark.parametrize("data", [b"GIF89a garbage", b"", b"\xff\xd8\xff\xe0 truncated"])
def test_verify_undecodable(ref_photo, data):
    result = verify_photo(ref_photo.features, data, DEFAULT)
    assert result.verdict.body() == {"status": 400, "message": v.MISSING_PICTURE, "result": False}
    assert result.evidence is None and result.timings == {}
    assert result.verdict.extra["error"]


# -- the cheap step on cached matches ----------------------------------------


def test_decide_pair_moves_with_thresholds(same_result):
    pair = same_result.pair
    assert isinstance(pair, PairMatch)
    before = (pair.candidates.ref_idx.copy(), pair.candidates.query_idx.copy(), pair.candidates.distance.copy())
    evidence, verdict, timings = decide_pair(pair, DEFAULT)
    assert verdict.message == v.COMPLETE
    assert set(timings) == {"ransac", "decision"}
    n = evidence.n_inliers
    strict = replace(DEFAULT, min_inliers=n + 1)
    evidence2, verdict2, _ = decide_pair(pair, strict, "robust")  # the learned rule still accepts: many inliers
    assert verdict2.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert verdict2.reason.startswith(f"{evidence2.n_inliers} inliers < {n + 1} required")
    # the same cached matches were reused, unchanged
    assert same_result.pair.candidates is pair.candidates
    np.testing.assert_array_equal(pair.candidates.ref_idx, before[0])
    np.testing.assert_array_equal(pair.candidates.query_idx, before[1])
    np.testing.assert_array_equal(pair.candidates.distance, before[2])
    # a stricter ratio test keeps fewer tentative matches from the same candidates
    loose, _, _ = decide_pair(pair, replace(DEFAULT, ratio=0.95))
    tight, _, _ = decide_pair(pair, replace(DEFAULT, ratio=0.6))
    assert loose.n_candidates == tight.n_candidates == len(pair.candidates)
    assert tight.n_tentative < loose.n_tentative


def test_decide_pair_area_threshold(same_result):
    _evidence, verdict, _ = decide_pair(same_result.pair, replace(DEFAULT, min_area_fraction=1.0))
    assert not verdict.result and "outline covers" in verdict.reason


def test_match_features_empty(ref_photo, blank_jpeg):
    pair = match_features(ref_photo.features, prepare_photo(blank_jpeg).features)
    assert len(pair.candidates) == 0
    evidence, verdict, _ = decide_pair(pair, DEFAULT)
    assert evidence.n_tentative == 0 and evidence.H is None and not verdict.result


# -- stored reference features -----------------------------------------------

SMALL = FeatureSettings(working_side=400, max_keypoints=300)


@pytest.fixture(scope="module")
def small_ref(pair_same):
    return prepare_photo(pair_same[0], SMALL).features


def test_reference_features_uses_a_usable_blob(small_ref):
    # the image is garbage: decoding it would raise, so nothing was recomputed
    features, recomputed = reference_features(features_to_bytes(small_ref), b"not an image", SMALL)
    assert recomputed is False
    np.testing.assert_array_equal(features.descriptors, small_ref.descriptors)
    assert features.settings == SMALL


@pytest.mark.parametrize("blob", [None, b"", b"garbage blob"], ids=["missing", "empty", "garbage"])
def test_reference_features_recomputed_when_blob_unusable(pair_same, small_ref, blob):
    features, recomputed = reference_features(blob, pair_same[0], SMALL)
    assert recomputed is True
    assert features.settings == SMALL
    np.testing.assert_array_equal(features.descriptors, small_ref.descriptors)


def test_reference_features_recomputed_for_other_settings(pair_same, small_ref):
    other = FeatureSettings(working_side=320, max_keypoints=300)
    features, recomputed = reference_features(features_to_bytes(small_ref), pair_same[0], other)
    assert recomputed is True
    assert features.settings == other
    assert features.image_size[0] == 320
    # and the recomputed blob is then usable as is
    again, recomputed = reference_features(features_to_bytes(features), b"", other)
    assert recomputed is False and features_from_bytes(features_to_bytes(again)).settings == other


def test_reference_features_broken_image_raises():
    with pytest.raises(NotAnImageError):
        reference_features(None, b"not an image at all", SMALL)
