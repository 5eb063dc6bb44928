"""The learned rule's second opinion (ALIKED + LightGlue in the grey zone): the arithmetic, the verify path, the lab."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vision.flows.verify import verify_pair_bytes
from vision.lab.aliked_evidence import EVIDENCE_NAME, gather_aliked
from vision.lab.data import LabelledPair, LabelledSet
from vision.matchers.akaze import features_from_bytes, features_to_bytes
from vision.profile import Profile
from vision.rules import get as get_rule
from vision.rules.second_opinion import counted_evidence, in_grey_zone, second_opinion_accepts

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IMAGES = SAMPLES / "images"
DEFAULT = Profile()
# A real night photo of the Sacre-Coeur from the side, against a daytime one (LightGlue's assets, Apache-2.0):
# AKAZE and XFeat find no inliers; ALIKED + LightGlue find about 30.
NIGHT_REF, NIGHT_QUERY = "lightglue/sacre_coeur1.jpg", "lightglue/sacre_coeur2.jpg"


def test_grey_zone_is_rejected_and_alike_and_on() -> None:
    accepted = np.array([True, False, False, False])
    similarity = np.array([0.9, 0.9, 0.39, np.nan])
    assert in_grey_zone(accepted, similarity, DEFAULT).tolist() == [False, True, False, False]
    off = replace(DEFAULT, second_opinion_min_inliers=0)
    assert not in_grey_zone(accepted, similarity, off).any()
    assert bool(in_grey_zone(False, None, replace(DEFAULT, second_opinion_min_similarity=-1.0)))


def test_second_opinion_accepts_only_in_the_grey_zone_and_never_on_nan() -> None:
    first = np.array([True, False, False, False, False])
    evidence = np.zeros(5)
    similarity = np.array([0.1, 0.45, 0.45, 0.2, 0.8])
    aliked = np.array([0.0, 21.0, 20.0, 300.0, np.nan])
    got = second_opinion_accepts(first, evidence, similarity, aliked, DEFAULT)
    # accepted stays; 21 in the zone accepts, 20 at a low similarity does not (score 4.84 < 5.04);
    # outside the zone nothing counts; not scored never accepts
    assert got.tolist() == [True, True, False, False, False]


def test_aliked_inliers_also_count_in_the_learned_score() -> None:
    # the first stage found 6 XFeat inliers (under learned_min_inliers); ALIKED finds 12 on photos that look alike
    evidence = np.array([6.0, 6.0, 6.0, 6.0])
    similarity = np.array([0.75, 0.75, 0.5, 0.75])
    aliked = np.array([12.0, 9.0, 12.0, 4.0])
    counted = counted_evidence(evidence, similarity, aliked, DEFAULT)
    assert counted.tolist() == [12.0, 9.0, 12.0, 6.0]
    got = second_opinion_accepts(np.zeros(4, bool), evidence, similarity, aliked, DEFAULT)
    # log(13) + 4 x 0.75 = 5.56 >= 5.04 accepts; 9 < learned_min_inliers does not; at 0.5 the score is 4.56
    assert got.tolist() == [True, False, False, False]
    # below the gate ALIKED's inliers are not counted (it never runs there)
    assert counted_evidence(evidence, np.full(4, 0.3), aliked, DEFAULT).tolist() == evidence.tolist()
    off = replace(DEFAULT, second_opinion_min_inliers=0)
    assert counted_evidence(evidence, similarity, aliked, off).tolist() == evidence.tolist()
    assert not second_opinion_accepts(np.zeros(4, bool), evidence, similarity, aliked, off).any()


def test_second_verdict_says_which_way_aliked_accepted() -> None:
    from vision.core import verdict as v
    from vision.matchers.xfeat_geometry import no_geometry
    from vision.rules.learned_steps import XFeatMatch
    from vision.rules.second_opinion import SecondOpinion, second_verdict

    first = v.Verdict(200, v.WRONG_PICTURE, False, "6 XFeat inliers < 10 required", {"rule": "learned"})
    empty = XFeatMatch(no_geometry(), np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), 0)
    by_score = second_verdict(first, SecondOpinion(empty, 12, 1.0), 0.75, DEFAULT, evidence=6)
    assert by_score.result and by_score.extra["decided_by"] == "aliked"
    assert "12 checked inliers < 21; log(1 + 12) + 4 x similarity 0.75 = 5.56 >= 5.04" in by_score.reason
    assert by_score.extra["aliked_score"] == pytest.approx(5.565, abs=1e-3)
    alone = second_verdict(first, SecondOpinion(empty, 25, 1.0), 0.41, DEFAULT, evidence=6)
    assert alone.result and "25 checked inliers >= 21" in alone.reason
    few = second_verdict(first, SecondOpinion(empty, 8, 1.0), 0.9, DEFAULT, evidence=6)
    assert not few.result and "8 < 10 required" in few.reason and "first: 6 XFeat" in few.reason


def test_profile_checks_the_second_opinion_numbers() -> None:
    with pytest.raises(ValueError, match="second_opinion_min_inliers"):
        Profile(second_opinion_min_inliers=3)
    with pytest.raises(ValueError, match="second_opinion_min_similarity"):
        Profile(second_opinion_min_similarity=1.5)
    assert Profile(second_opinion_min_inliers=0).second_opinion_min_inliers == 0


def test_a_real_night_photo_is_accepted_only_by_the_second_opinion() -> None:
    ref, query = (IMAGES / NIGHT_REF).read_bytes(), (IMAGES / NIGHT_QUERY).read_bytes()
    body = verify_pair_bytes(ref, query, DEFAULT)
    assert body["message"] == "Complete" and body["result"] is True
    assert body["decided_by"] == "aliked" and body["second_opinion"] == "accepted"
    assert body["aliked_inliers"] >= DEFAULT.second_opinion_min_inliers
    assert body["akaze_inliers"] < DEFAULT.learned_min_inliers and body["xfeat_inliers"] < DEFAULT.learned_min_inliers
    assert "ALIKED second opinion" in body["reason"] and "aliked" in body["timings_ms"]
    without = verify_pair_bytes(ref, query, replace(DEFAULT, second_opinion_min_inliers=0))
    assert without["message"] == "You took wrong picture" and "second_opinion" not in without


def test_a_stranger_in_the_grey_zone_stays_rejected() -> None:
    # a facade against the night Sacre-Coeur: alike to the descriptor, no geometry for ALIKED either
    body = verify_pair_bytes(
        (IMAGES / "lightglue/DSC_0410.JPG").read_bytes(), (IMAGES / NIGHT_QUERY).read_bytes(), DEFAULT
    )
    assert body["result"] is False
    if body.get("second_opinion"):
        assert body["second_opinion"] == "rejected" and body["aliked_inliers"] < DEFAULT.second_opinion_min_inliers


def test_features_blob_keeps_aliked_and_rejects_bad_arrays() -> None:
    from vision.flows.prepare import prepare_photo

    photo = prepare_photo((IMAGES / NIGHT_REF).read_bytes(), DEFAULT.feature_settings, needs=get_rule("learned").needs)
    assert photo.features.aliked is not None and len(photo.features.aliked) > 100
    back = features_from_bytes(features_to_bytes(photo.features))
    assert back.aliked is not None and np.array_equal(back.aliked.keypoints, photo.features.aliked.keypoints)
    assert back.aliked.descriptors.shape[1] == 128
    broken = replace(photo.features, aliked=replace(photo.features.aliked, scores=photo.features.aliked.scores[:-1]))
    with pytest.raises(ValueError, match="ALIKED arrays"):
        features_from_bytes(features_to_bytes(broken))


def test_the_lab_scores_the_gate_and_lowering_it_scores_only_the_new_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    import vision.lab.aliked_evidence as evidence

    calls: list[str] = []
    real = evidence.aliked_match
    monkeypatch.setattr(evidence, "aliked_match", lambda *a, **k: calls.append("match") or real(*a, **k))
    pairs = [
        LabelledPair(NIGHT_REF, NIGHT_QUERY, 1, "viewpoint_landmark"),
        LabelledPair("vlfeat/roofs1.jpg", "vlfeat/river1.jpg", 0, "hard_negative"),
    ]
    labelled = LabelledSet(IMAGES, "two pairs", "test", pairs)
    similarity = np.array([0.63, 0.2])
    high, errors, _ = gather_aliked(labelled, similarity, DEFAULT)
    assert errors == {} and high[0] >= DEFAULT.second_opinion_min_inliers and np.isnan(high[1])
    assert calls == ["match"]
    lower = replace(DEFAULT, second_opinion_min_similarity=0.1)
    both, _, _ = gather_aliked(labelled, similarity, lower, known=high)
    assert both[0] == high[0] and np.isfinite(both[1]) and calls == ["match", "match"]  # only the new pair
    again, _, _ = gather_aliked(labelled, similarity, lower)  # a new run: both from the disk cache
    assert np.array_equal(again, both) and len(calls) == 2
    assert EVIDENCE_NAME == "learned:aliked"


def test_the_night_photo_accepted_by_the_score_with_aliked_inliers_and_the_view_says_so() -> None:
    # With the "alone" minimum out of reach, ALIKED's ~30 inliers at similarity ~0.63 still carry the learned
    # score (log(1 + 30) + 4 x 0.63 > 5.04): the verify path, its reason and the page's figures say which way.
    from vision.flows.prepare import prepare_photo
    from vision.flows.verify import verify_photo
    from vision.views.match import match_view
    from vision.views.outcome import outcome_of

    profile = replace(DEFAULT, second_opinion_min_inliers=200)
    ref_bytes, query = (IMAGES / NIGHT_REF).read_bytes(), (IMAGES / NIGHT_QUERY).read_bytes()
    body = verify_pair_bytes(ref_bytes, query, profile)
    assert body["result"] is True and body["decided_by"] == "aliked" and body["second_opinion"] == "accepted"
    assert DEFAULT.learned_min_inliers <= body["aliked_inliers"] < 200
    assert body["aliked_score"] >= profile.learned_threshold
    assert "checked inliers < 200; log(1 + " in body["reason"] and f">= {profile.learned_threshold:g}" in body["reason"]
    ref = prepare_photo(ref_bytes, profile.feature_settings, needs=get_rule("learned").needs)
    verification = verify_photo(ref.features, query, profile, rule="learned", ref_image=ref_bytes)
    size = (ref.image.shape[1], ref.image.shape[0])
    view = match_view(outcome_of(verification, profile, size, size), "landmark")
    assert view.accepted
    counted = next(f for f in view.figures if f.label == "Points that line up")
    assert counted.need == f"{profile.learned_min_inliers} + look-alike (second opinion)"
    second = next(f for f in view.figures if f.label == "Second opinion (ALIKED)")
    assert second.value == str(body["aliked_inliers"]) and f"({body['aliked_score']:.2f})." in second.help
