"""vision.rules.original_evidence: the note's rule reproduced, minus its crashes."""

from __future__ import annotations

import numpy as np
import pytest

from vision.core import verdict as v
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.rules.evidence import OriginalEvidence, decide_original
from vision.rules.original_evidence import N_BEST_MATCHES, original_evidence


@pytest.fixture(scope="module")
def same_images(pair_same):
    return decode_image(pair_same[0]).bgr, decode_image(pair_same[1]).bgr


def test_same_pair_accepted(same_images):
    ref, query = same_images
    evidence = original_evidence(ref, query)
    assert isinstance(evidence, OriginalEvidence)
    assert evidence.problem == ""
    assert evidence.n_ref_keypoints > 1000 and evidence.n_query_keypoints > 1000
    assert evidence.n_matches == N_BEST_MATCHES == 80
    assert evidence.area_px is not None and evidence.area_px > 30
    # a re-photograph of the same scene: the outline is on the order of the frame
    h, w = query.shape[:2]
    assert 0.2 * w * h < evidence.area_px < 5 * w * h
    verdict = decide_original(evidence, Profile())
    assert verdict.body() == {"status": 200, "message": v.COMPLETE, "result": True}


def test_blank_pair_is_a_problem_not_a_crash():
    blank = np.full((300, 400, 3), 128, np.uint8)
    evidence = original_evidence(blank, blank)
    assert evidence.area_px is None
    assert evidence.n_ref_keypoints == 0 and evidence.n_matches == 0
    assert "no descriptors" in evidence.problem
    verdict = decide_original(evidence, Profile())
    assert verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert evidence.problem in verdict.reason


def test_one_blank_side(same_images):
    blank = np.full((300, 400), 200, np.uint8)  # gray input works too
    evidence = original_evidence(same_images[0][:400, :600], blank)
    assert evidence.area_px is None and evidence.problem
    assert evidence.n_ref_keypoints > 0 and evidence.n_query_keypoints == 0
    assert not decide_original(evidence, Profile()).result


def test_few_keypoints_do_not_crash():
    img = np.full((200, 200), 128, np.uint8)
    img[90:110, 90:110] = 255  # a single square: a handful of keypoints at most
    evidence = original_evidence(img, img)
    assert evidence.n_matches == min(N_BEST_MATCHES, evidence.n_ref_keypoints, evidence.n_query_keypoints)
    verdict = decide_original(evidence, Profile())
    assert verdict.status == 200 and verdict.message in (v.COMPLETE, v.WRONG_PICTURE)
    if evidence.area_px is None:
        assert evidence.problem
