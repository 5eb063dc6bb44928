"""vision.views.draw: RGB pictures of keypoints, matches and the projected outline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rule_helpers import decide_pair

from vision.flows.prepare import prepare_photo
from vision.matchers.akaze import FeatureSettings
from vision.profile import Profile
from vision.rules.evidence import match_features
from vision.views.draw import INLIER, OUTLINE, RAW, draw_keypoints, draw_matches, thumbnail

SETTINGS = FeatureSettings(working_side=480, max_keypoints=400)


@pytest.fixture(scope="module")
def scene(pair_same):
    ref, query = prepare_photo(pair_same[0], SETTINGS), prepare_photo(pair_same[1], SETTINGS)
    pair = match_features(ref.features, query.features)
    evidence, verdict, _ = decide_pair(pair, replace(Profile(), working_side=480, max_keypoints=400))
    assert verdict.result and evidence.outline is not None
    return ref, query, pair, evidence


def rgb(bgr_colour) -> tuple[int, int, int]:
    return tuple(reversed(bgr_colour))


def count_colour(image: np.ndarray, colour) -> int:
    return int(np.all(image == np.array(colour, np.uint8), axis=2).sum())


def draw(scene, **kwargs):
    ref, query, pair, evidence = scene
    return draw_matches(
        ref.image,
        ref.features,
        query.image,
        query.features,
        pair.candidates,
        kwargs.pop("evidence", evidence),
        **kwargs,
    )


def test_draw_matches_shape_and_outline(scene):
    ref, query, _, _ = scene
    out = draw(scene)
    h = max(ref.image.shape[0], query.image.shape[0])
    assert out.shape == (h, ref.image.shape[1] + query.image.shape[1], 3)
    assert out.dtype == np.uint8
    w1 = ref.image.shape[1]
    # the outline (yellow in RGB) is drawn in the query half only
    assert count_colour(out[:, w1:], rgb(OUTLINE)) > 200
    assert count_colour(out[:, :w1], rgb(OUTLINE)) == 0
    assert count_colour(out, rgb(INLIER)) > 50  # inlier lines in green
    # the inputs are untouched
    assert count_colour(ref.image[:, :, ::-1], rgb(OUTLINE)) == 0


def test_no_outline_without_homography(scene):
    _, _, _, evidence = scene
    out = draw(scene, evidence=replace(evidence, outline=None, H=None))
    assert count_colour(out, rgb(OUTLINE)) == 0


def test_raw_matches(scene):
    out = draw(scene, show_raw=True, max_lines=50)
    assert count_colour(out, rgb(RAW)) > 50
    assert count_colour(out, rgb(INLIER)) == 0


def test_draw_matches_different_heights(scene):
    ref, query, pair, evidence = scene
    tall = np.zeros((600, 200, 3), np.uint8)
    out = draw_matches(
        ref.image,
        ref.features,
        tall,
        query.features,
        pair.candidates,
        replace(
            evidence, tentative=np.zeros_like(evidence.tentative), inliers=np.zeros_like(evidence.inliers), outline=None
        ),
    )
    assert out.shape == (600, ref.image.shape[1] + 200, 3)
    np.testing.assert_array_equal(out[: ref.image.shape[0], : ref.image.shape[1]], ref.image[:, :, ::-1])


def test_draw_keypoints(scene):
    ref = scene[0]
    out = draw_keypoints(ref.image, ref.features)
    assert out.shape == ref.image.shape and out.dtype == np.uint8
    assert count_colour(out, rgb(INLIER)) > 100
    from vision.matchers.akaze import empty_features

    plain = draw_keypoints(ref.image, empty_features(ref.features.image_size, SETTINGS))
    np.testing.assert_array_equal(plain, ref.image[:, :, ::-1])  # just BGR -> RGB


def test_thumbnail():
    img = np.zeros((300, 600, 3), np.uint8)
    img[:, :, 0] = 255  # blue in BGR
    small = thumbnail(img, side=120)
    assert small.shape == (60, 120, 3)
    assert (small[:, :, 2] == 255).all() and (small[:, :, 0] == 0).all()  # RGB out
    assert thumbnail(np.zeros((50, 40), np.uint8)).shape == (50, 40, 3)


def test_a_tiny_outline_is_ringed_so_it_can_be_seen():
    """Issue 23, item 7: the note's rule may accept a 495 px² sliver; it is drawn ringed, and the legend says so."""
    from vision.views.draw import FILL, draw_match_view, legend_rows
    from vision.views.match import Lines, MatchView

    ref = np.full((400, 600, 3), 90, np.uint8)
    query = np.full((400, 600, 3), 90, np.uint8)
    sliver = np.array([[300, 200], [310, 200], [310, 203], [300, 203]], np.float32)
    view = MatchView("original", True, "Same", "", Lines.empty(), "best matches", outline=sliver)
    drawn = draw_match_view(ref, query, view, legend=False)[:, 600:]
    changed = np.any(drawn != 90, axis=2)
    assert changed.sum() > 1000  # far more than the 10 x 3 px sliver and its edge
    _ys, xs = np.nonzero(np.all(drawn == np.array(rgb(FILL), np.uint8), axis=2))
    assert xs.min() < 300 - 20 and xs.max() > 310 + 20  # the ring reaches well around it
    rows = [text for text, _ in legend_rows(view, False, 100, query.shape)]
    assert "reference outline in the new photo (tiny: ringed)" in rows
    big = np.array([[50, 50], [550, 50], [550, 350], [50, 350]], np.float32)
    assert "reference outline in the new photo" in [
        t
        for t, _ in legend_rows(
            MatchView("original", True, "", "", Lines.empty(), "m", outline=big), False, 100, query.shape
        )
    ]
