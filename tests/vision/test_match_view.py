"""vision.views.match and draw_match_view: each rule shows its own evidence, drawn readably."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vision import rules
from vision.core import verdict as v
from vision.flows.prepare import prepare_photo
from vision.flows.verify import decide_matched
from vision.image.imageio import decode_image
from vision.matchers.akaze import FeatureSettings
from vision.profile import Profile
from vision.rules.base import Needs
from vision.rules.evidence import match_features
from vision.views.draw import FILL, draw_match_view
from vision.views.match import VIEWS, Lines, MatchView, RuleOutcome, match_view, register_view
from vision.views.outcome import outcome_of
from vision.views.plain import plain_problem, plain_problems

T = replace(Profile(), working_side=640, max_keypoints=1000)
SETTINGS = FeatureSettings(working_side=640, max_keypoints=1000)


def _size(photo) -> tuple[int, int]:
    return photo.image.shape[1], photo.image.shape[0]


@pytest.fixture(scope="module")
def same(pair_same):
    ref, query = (prepare_photo(d, SETTINGS, needs=Needs(embedding=True)) for d in pair_same)
    return ref, query, match_features(ref.features, query.features), pair_same


@pytest.fixture(scope="module")
def different(pair_different):
    ref, query = (prepare_photo(d, SETTINGS, needs=Needs(embedding=True)) for d in pair_different)
    return ref, query, match_features(ref.features, query.features), pair_different


def _outcome(scene, rule: str, thresholds: Profile = T) -> RuleOutcome:
    ref, query, pair, data = scene
    full = (decode_image(data[0]).bgr, decode_image(data[1]).bgr) if rules.get(rule).needs.full_images else None
    verification = decide_matched(pair, query, thresholds, rule=rule, full_images=full)
    return outcome_of(verification, thresholds, _size(ref), _size(query))


def test_robust_counts_the_inliers_it_decided_on(same):
    outcome = _outcome(same, "robust")
    view = match_view(outcome, "desk")
    assert outcome.verdict.result and view.accepted
    assert len(view.counted) == outcome.evidence.n_inliers > 15
    assert len(view.others) == outcome.evidence.n_tentative - outcome.evidence.n_inliers
    assert view.headline == f"Same desk: {len(view.counted)} points line up"
    assert view.outline is not None and view.outline_rejected is None
    assert np.all(np.diff(view.counted.strength) <= 0)  # strongest first: the cap keeps the surest


def test_robust_failure_says_how_many_were_needed(same):
    outcome = _outcome(same, "robust", replace(T, min_inliers=1000))
    n = outcome.evidence.n_inliers
    assert match_view(outcome).headline == f"Different: only {n} points line up, 1000 needed"


def test_fused_with_an_implausible_fit_counts_zero(different):
    outcome = _outcome(different, "fused")
    e = outcome.evidence
    if e.H is None or not e.problems:
        pytest.skip("this pair's fit happens to be plausible or absent")
    view = match_view(outcome, "desk")
    figures = {f.label: f for f in view.figures}
    assert outcome.verdict.extra["inliers"] == e.n_inliers > 0  # the raw count the robust pipeline found
    assert len(view.counted) == 0 and figures["Points that line up"].value == "0"
    assert figures["Look-alike score"].need == ""  # an impossible requirement is not shown
    assert view.outline is None and view.outline_rejected is not None
    assert view.headline == f"Different: no points line up, {T.fused_min_inliers} needed"


def test_fused_without_descriptors_is_shown_as_robust(same):
    ref, query, pair, _ = same
    bare = replace(pair, ref=replace(pair.ref, embedding=None))
    outcome = outcome_of(decide_matched(bare, query, T, rule="fused"), T, _size(ref), _size(query))
    assert outcome.rule == "robust" and match_view(outcome).rule == "robust"


def test_original_draws_its_80_best_matches_scaled_to_the_drawn_photos(same):
    outcome = _outcome(same, "original")
    view = match_view(outcome, "desk")
    assert view.rule == "original" and len(view.counted) == outcome.evidence.n_matches == 80
    w, h = outcome.query_size
    inside = (view.counted.query[:, 0] <= w) & (view.counted.query[:, 1] <= h)
    assert inside.mean() > 0.95  # full-resolution points mapped into the working-size picture
    assert view.outline is not None
    assert {f.label for f in view.figures} == {"Outline area", "Best matches used", "Keypoints (full size)"}


def test_a_rule_without_a_view_draws_nothing(same):
    ref, query, pair, _ = same
    verdict = v.Verdict(200, v.COMPLETE, True, "learned: 300 matches", {"inliers": 300, "score": 0.9})
    view = match_view(RuleOutcome("someday", verdict, None, T, _size(ref), _size(query), pair), "plant")
    assert view.headline == "Same plant: 300 points line up" and len(view.counted) == 0
    assert {f.label: f.value for f in view.figures} == {"Inliers": "300", "Score": "0.9"}


def test_register_view_adds_a_rule():
    @register_view("test-rule")
    def _view(outcome, noun):
        return MatchView("test-rule", True, "ok", "", Lines.empty(), "points")

    try:
        outcome = RuleOutcome("test-rule", v.Verdict(200, v.COMPLETE, True), None, T, (1, 1), (1, 1))
        assert match_view(outcome).headline == "ok"
    finally:
        VIEWS.pop("test-rule")


# -- drawing ----------------------------------------------------------------------------


def _count(image: np.ndarray, bgr) -> int:
    return int(np.all(image == np.array(bgr[::-1], np.uint8), axis=2).sum())


def test_draw_inliers_only_by_default_with_clipped_outline(same):
    ref, query, _, _ = same
    view = match_view(_outcome(same, "robust"))
    plain = draw_match_view(ref.image, query.image, view)
    w1, h1 = ref.image.shape[1], ref.image.shape[0]
    assert plain.shape == (max(h1, query.image.shape[0]), w1 + query.image.shape[1], 3)
    # the rejected matches are not drawn unless asked
    without_others = replace(view, others=Lines.empty(), outline_rejected=None)
    np.testing.assert_array_equal(plain, draw_match_view(ref.image, query.image, without_others))
    assert not np.array_equal(plain, draw_match_view(ref.image, query.image, view, show_others=True))
    # the outline is clipped to the new photo: with no lines the reference half is untouched below the legend
    outline_only = replace(without_others, counted=Lines.empty())
    drawn = draw_match_view(ref.image, query.image, outline_only)
    np.testing.assert_array_equal(drawn[80:h1, :w1], ref.image[80:, :, ::-1])
    assert _count(drawn[:, w1:], FILL) > 100
    # the legend darkens the top-left corner
    assert drawn[:10, :150].mean() < ref.image[:10, :150].mean()
    # counted lines are drawn in the confidence colours
    assert (plain[80:h1, :w1] != ref.image[80:, :, ::-1]).any()


def test_draw_caps_the_lines(same):
    ref, query, _, _ = same
    view = match_view(_outcome(same, "robust"))
    few = draw_match_view(ref.image, query.image, view, max_lines=5)
    many = draw_match_view(ref.image, query.image, view, max_lines=500)
    assert (few != many).any()


def test_plain_problems():
    assert plain_problem("stretch ratio 16.5 (max 8)") == (
        "the reference would be stretched 16.5 times more one way than the other"
    )
    assert plain_problem("projected outline is not convex") == "the outline would fold over itself"
    assert plain_problems(["projected outline is mirrored", "outline covers 20.0 frames (max 16)"]) == (
        "the outline would be mirrored; the outline would be 20.0 times the photo"
    )
    assert plain_problem("something new") == "something new"


def test_a_later_check_that_changes_the_verdict_leads_the_headline(same):
    """A replay check (or any later step) that refuses the photo: the card follows the verdict."""
    outcome = _outcome(same, "robust")
    refused = v.Verdict(
        200, v.WRONG_PICTURE, False, "replay: the same photo as last time", {**outcome.verdict.extra, "replay": True}
    )
    view = match_view(replace(outcome, verdict=refused), "desk")
    assert not view.accepted and view.headline == "Different: replay: the same photo as last time"
    assert ("Replay check", "an old photo sent again") in {(f.label, f.value) for f in view.figures}


def test_a_catalogued_rule_without_a_view_gets_the_generic_view(same, monkeypatch):
    from vision.rules.catalogue import CATALOGUE, Entry

    monkeypatch.setitem(CATALOGUE, "keypoints", Entry("fake_rule"))
    outcome = _outcome(same, "keypoints")
    assert outcome.rule == "keypoints" and "keypoints" not in VIEWS
    view = match_view(outcome, "desk")
    assert view.outline is None and not len(view.counted)  # draws nothing it cannot vouch for
    assert outcome.verdict.extra["keypoint_balance"] > 0


# -- issue 23 ---------------------------------------------------------------------------


def test_a_rejected_verdict_draws_its_fit_only_faint(same):
    """Item 6: a refused fit's lines and outline move to the faint layer; nothing is drawn as counted."""
    outcome = _outcome(same, "robust", replace(T, min_inliers=1000))
    accepted_view = match_view(_outcome(same, "robust"), "desk")
    view = match_view(outcome, "desk")
    assert not view.accepted and len(view.counted) == 0 and view.outline is None
    assert len(view.others) == len(accepted_view.counted) + len(accepted_view.others)
    assert view.outline_rejected is not None
    from vision.views.draw import legend_rows

    assert [text for text, _ in legend_rows(view, False)] == ["nothing drawn: the rule counted no points"]


def test_new_photo_words_say_only_what_is_true_with_enough_decimals():
    """Item 5: no "or roll 0.0 > 1.0" when only the perspective changed; 0.845 is not printed as the 0.85 line."""
    from vision.replay.check import ReplayEvidence, ReplayFinding
    from vision.views.replay_step import new_photo_words

    def finding(**kw) -> ReplayFinding:
        base = {"n_points": 96, "n_matches": 60, "n_inliers": 50, "inlier_fraction": 0.5, "reproj_px": 1.0}
        base.update({"detail_ncc": 0.5, "hash_distance": 20, "similarity_residual": 0.0, "angle_off_deg": 0.0})
        base.update(kw)
        return ReplayFinding(False, "the check's own sentence", None, ReplayEvidence(**base))

    t = Profile()
    assert "0.845; a copy has 0.85" in new_photo_words(finding(detail_ncc=0.8454), t)
    assert "0.70; a copy has 0.85" in new_photo_words(finding(detail_ncc=0.7), t)
    said = new_photo_words(finding(detail_ncc=0.9, similarity_residual=0.0094), t)
    assert "perspective changed (0.94%" in said and "roll" not in said
    assert "only 3 of the reference's points align" in new_photo_words(finding(n_inliers=3), t)


def test_unusable_photos_are_named_specifically() -> None:
    from vision.views.plain import plain_message

    large = v.Verdict(
        400, v.MISSING_PICTURE, False, "the image claims 12000x9000 pixels, more than 64 MP", {"error": "E"}
    )
    assert plain_message(large) == "This photo cannot be used: too large: 108 MP, at most 64"
    small = v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, "the image is only 1x1 pixels", {"error": "E"})
    assert plain_message(small) == "This photo cannot be used: too small: 1x1 px"
    assert plain_message(v.Verdict(200, v.COMPLETE, True, "669 inliers")) == "Same"  # decisions keep their words
