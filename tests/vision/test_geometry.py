"""vision.matchers.geometry: robust homography, shoelace area, convexity, plausibility checks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vision.matchers.geometry import (
    fit_homography,
    homography_problems,
    is_convex,
    jacobian_at,
    outline,
    project_outline,
    shoelace_area,
)

REF = (1000, 750)  # (width, height)
QUERY = (1000, 750)


def warp(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)


def rotation_about_centre(deg: float, size=REF) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    cx, cy = size[0] / 2, size[1] / 2
    return np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])


MODERATE = np.array([[0.9, 0.05, 40.0], [-0.04, 0.95, 25.0], [1.2e-4, -0.8e-4, 1.0]])


@pytest.fixture(scope="module")
def synthetic():
    """200 true correspondences of MODERATE (0.5 px noise) followed by 80 outliers."""
    rng = np.random.default_rng(0)
    src = rng.uniform((0, 0), REF, size=(200, 2))
    dst = warp(MODERATE, src) + rng.normal(scale=0.5, size=(200, 2))
    out_src = rng.uniform((0, 0), REF, size=(80, 2))
    out_dst = rng.uniform((0, 0), QUERY, size=(80, 2))
    return np.vstack([src, out_src]).astype(np.float32), np.vstack([dst, out_dst]).astype(np.float32)


# -- fitting ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["magsac", "ransac"])
def test_fit_recovers_known_homography(synthetic, method):
    src, dst = synthetic
    fit = fit_homography(src, dst, method=method, reproj_px=3.0)
    assert fit.H is not None and fit.H.shape == (3, 3) and fit.H.dtype == np.float64
    corners = outline(REF).astype(np.float64)
    np.testing.assert_allclose(warp(fit.H, corners), warp(MODERATE, corners), atol=2.0)
    assert fit.inliers.shape == (280,) and fit.inliers.dtype == bool
    assert fit.inliers[:200].mean() > 0.95
    assert fit.inliers[200:].mean() < 0.05
    assert fit.n_inliers == int(fit.inliers.sum())
    assert homography_problems(fit.H, REF, QUERY) == []


@pytest.mark.parametrize("n", [0, 1, 3])
def test_fewer_than_four_points(n):
    pts = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    fit = fit_homography(pts, pts + 1)
    assert fit.H is None
    assert fit.inliers.shape == (n,) and not fit.inliers.any()
    assert fit.n_inliers == 0


@pytest.mark.parametrize("method", ["magsac", "ransac"])
def test_degenerate_points_do_not_raise(method):
    t = np.linspace(0, 500, 30, dtype=np.float32)
    collinear = np.stack([t, 2 * t + 3], axis=1)
    fit = fit_homography(collinear, collinear + 5, method=method)
    assert fit.inliers.shape == (30,)
    same = np.full((10, 2), 7.0, np.float32)
    fit = fit_homography(same, same, method=method)
    assert fit.inliers.shape == (10,)
    if fit.H is None:
        assert not fit.inliers.any()


def test_fit_argument_checks():
    pts = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="method"):
        fit_homography(pts, pts, method="lmeds")
    with pytest.raises(ValueError):
        fit_homography(pts, np.zeros((6, 2), np.float32))
    with pytest.raises(ValueError):
        fit_homography(np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32))


# -- polygons --------------------------------------------------------------

SQUARE_CW = np.array([[0, 0], [4, 0], [4, 3], [0, 3]], np.float64)  # clockwise on screen (y down)
BOW_TIE = np.array([[0, 0], [4, 0], [0, 3], [4, 3]], np.float64)
ARROW = np.array([[0, 0], [4, 2], [0, 4], [1, 2]], np.float64)  # concave


def test_shoelace_sign_and_value():
    assert shoelace_area(SQUARE_CW) == pytest.approx(12.0)
    assert shoelace_area(SQUARE_CW[::-1]) == pytest.approx(-12.0)
    assert shoelace_area(np.roll(SQUARE_CW, 1, axis=0)) == pytest.approx(12.0)  # start vertex irrelevant
    triangle = np.array([[0, 0], [10, 0], [0, 5]], np.float64)
    assert shoelace_area(triangle) == pytest.approx(25.0)
    assert shoelace_area(ARROW) == pytest.approx(8.0 - 2.0)  # triangle minus its notch
    assert shoelace_area(BOW_TIE) == pytest.approx(0.0)  # the two lobes cancel


def test_outline_corners_and_area():
    corners = outline((640, 480))
    assert corners.shape == (4, 2) and corners.dtype == np.float32
    np.testing.assert_array_equal(corners, [[0, 0], [639, 0], [639, 479], [0, 479]])
    assert shoelace_area(corners.astype(np.float64)) == pytest.approx(639 * 479)
    np.testing.assert_allclose(project_outline(np.eye(3), (640, 480)), corners)


def test_is_convex():
    assert is_convex(SQUARE_CW)
    assert is_convex(SQUARE_CW[::-1])  # orientation does not matter here
    assert not is_convex(BOW_TIE)
    assert not is_convex(ARROW)
    assert not is_convex(np.array([[0, 0], [1, 1], [2, 2], [3, 3]], np.float64))  # degenerate


# -- plausibility ----------------------------------------------------------


def to_quad(quad) -> np.ndarray:
    """The homography mapping the reference outline onto ``quad``."""
    return cv2.getPerspectiveTransform(outline(REF), np.asarray(quad, np.float32)).astype(np.float64)


@pytest.mark.parametrize(
    "H",
    [
        np.eye(3),
        rotation_about_centre(30),
        rotation_about_centre(180),
        rotation_about_centre(-90),
        MODERATE,
        np.diag([0.3, 0.3, 1.0]),  # zoomed out
        np.diag([3.0, 3.0, 1.0]),  # zoomed in: 9 frames
        to_quad([[100, 80], [900, 40], [950, 700], [60, 650]]),  # perspective
    ],
    ids=["identity", "rot30", "rot180", "rot-90", "moderate", "small", "zoom3", "quad"],
)
def test_plausible_homographies(H):
    assert homography_problems(H, REF, QUERY) == []


def test_mirrored():
    mirror = np.array([[-1.0, 0, REF[0] - 1], [0, 1, 0], [0, 0, 1]])
    problems = homography_problems(mirror, REF, QUERY)
    assert problems == ["projected outline is mirrored"]
    assert shoelace_area(project_outline(mirror, REF)) < 0


def test_self_crossing_bow_tie():
    H = to_quad([[0, 0], [999, 0], [0, 749], [999, 749]])  # bottom corners swapped
    assert not is_convex(project_outline(H, REF))
    problems = homography_problems(H, REF, QUERY)
    assert "projected outline is not convex" in problems
    assert not any("mirrored" in p for p in problems)


def test_huge_area():
    problems = homography_problems(np.diag([10.0, 10.0, 1.0]), REF, QUERY)
    assert len(problems) == 1 and problems[0].startswith("outline covers 99.")
    assert homography_problems(np.diag([10.0, 10.0, 1.0]), REF, QUERY, max_area_fraction=200) == []


def test_very_anisotropic():
    H = np.diag([10.0, 1.0, 1.0])
    problems = homography_problems(H, REF, QUERY)
    assert problems == ["stretch ratio 10.0 (max 8)"]
    assert homography_problems(np.diag([7.0, 1.0, 1.0]), REF, QUERY) == []
    assert homography_problems(H, REF, QUERY, max_anisotropy=12) == []


@pytest.mark.parametrize(
    "H",
    [
        np.full((3, 3), np.nan),
        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0.0]]),
        np.array([[np.inf, 0, 0], [0, 1, 0], [0, 0, 1]]),
    ],
)
def test_non_finite(H):
    assert homography_problems(H, REF, QUERY) == ["homography is not finite"]


def test_outline_through_infinity():
    # the line at infinity crosses the reference frame: a corner maps to infinity
    H = np.array([[1.0, 0, 0], [0, 1.0, 0], [-1.0 / 999, 0, 1.0]])
    problems = homography_problems(H, REF, QUERY)
    assert problems  # whatever is reported first, it is not accepted


def test_visible_fraction_is_the_clipped_share_of_the_frame() -> None:
    from vision.matchers.geometry import visible_fraction

    size = (640, 480)
    huge = np.array([[-100, -100], [2000, -100], [2000, 1000], [-100, 1000]], float)  # raw area 663 % of the frame
    assert visible_fraction(huge, size) == 1.0
    assert visible_fraction(np.array([[0, 0], [320, 0], [320, 240], [0, 240]], float), size) == 0.25
    corner = np.array([[600, 400], [900, 400], [900, 900], [600, 900]], float)
    assert visible_fraction(corner, size) == pytest.approx(40 * 80 / (640 * 480))  # only the part in view
    mirrored = np.array([[0, 0], [0, 240], [320, 240], [320, 0]], float)
    assert visible_fraction(mirrored, size) == 0.0
    assert visible_fraction(np.array([[np.nan, 0], [1, 0], [1, 1], [0, 1]]), size) == 0.0
    assert visible_fraction(np.array([[700, 500], [800, 500], [800, 600], [700, 600]], float), size) == 0.0


# A plane seen at a grazing angle: the homography's horizon (denominator 0) crosses the reference frame at
# x = 667, as for the near face of an object or a wall of a room that fills only the left of the photo.
FOLDING = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.0015, 0, 1.0]])


def test_inlier_box_corners_and_degenerate_points() -> None:
    from vision.matchers.geometry import inlier_box

    box = inlier_box(np.array([[10, 20], [110, 20], [60, 220], [30, 90]], np.float32))
    assert box is not None
    assert box.tolist() == [[10, 20], [110, 20], [110, 220], [10, 220]]
    assert shoelace_area(box) > 0  # clockwise on screen, as the frame outline
    assert inlier_box(np.array([[0, 5], [10, 5], [20, 5], [30, 5]], np.float32)) is None  # collinear
    assert inlier_box(np.zeros((3, 2), np.float32)) is None  # fewer than a homography needs


def test_the_region_is_checked_where_the_matches_are() -> None:
    from vision.matchers.geometry import inlier_box

    assert "projected outline is not convex" in homography_problems(FOLDING, REF, QUERY) or any(
        "infinity" in p for p in homography_problems(FOLDING, REF, QUERY)
    )
    left = inlier_box(np.array([[20, 50], [400, 50], [400, 700], [20, 700]], np.float32))
    assert homography_problems(FOLDING, REF, QUERY, region=left) == []
    # a region across the horizon folds: the matches themselves would be impossible
    across = inlier_box(np.array([[500, 50], [900, 50], [900, 700], [500, 700]], np.float32))
    assert homography_problems(FOLDING, REF, QUERY, region=across)


def test_the_region_checks_keep_the_physics() -> None:
    from vision.matchers.geometry import inlier_box

    box = inlier_box(np.array([[100, 100], [300, 100], [300, 300], [100, 300]], np.float32))
    mirror = np.array([[-1.0, 0, REF[0] - 1], [0, 1, 0], [0, 0, 1]])
    assert homography_problems(mirror, REF, QUERY, region=box) == ["projected inlier box is mirrored"]
    # stretch measured at the box's centre, not the frame's
    stretch = homography_problems(np.diag([10.0, 1.0, 1.0]), REF, QUERY, region=box)
    assert stretch == ["stretch ratio 10.0 (max 8)"]
    huge = homography_problems(np.diag([40.0, 40.0, 1.0]), REF, QUERY, region=box)
    assert len(huge) == 1 and huge[0].startswith("inlier box covers 85.")


def test_jacobian_at_matches_finite_differences_and_says_none_at_infinity():
    H = np.array([[0.9, 0.1, 12.0], [-0.05, 1.1, -7.0], [2e-4, -1e-4, 1.0]])
    p, eps = np.array([300.0, 200.0]), 1e-3
    numeric = np.stack(
        [(warp(H, p + d) - warp(H, p - d))[0] / (2 * eps) for d in (np.array([eps, 0.0]), np.array([0.0, eps]))],
        axis=1,
    )
    J = jacobian_at(H, (300.0, 200.0))
    assert J is not None and np.allclose(J, numeric, atol=1e-6)
    assert jacobian_at(np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, -5.0]]), (5.0, 3.0)) is None
