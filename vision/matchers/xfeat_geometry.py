"""Geometric evidence for learned (XFeat + LighterGlue) matches.

LighterGlue's matches are many and mostly right, but on two different things
of one kind (two facades with the same windows, two sports cars) a plain
homography still gathers 20-40 "inliers".  The evidence therefore keeps,
besides the homography inliers, the numbers the checks measured on
``shared/data`` use (see ``scripts/measure_learned.py`` and the closing note):
fundamental-matrix inliers (3-D scenes, where one homography holds only one
plane), the spread of the inliers over both images, and the homography's
plausibility (convex, not mirrored, a loose stretch bound).

Pure numpy + OpenCV; everything is in the working-image pixels of each side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.matchers.geometry import fit_homography, homography_problems, inlier_box

OUTLINES = ("inliers", "frame")
"""What the plausibility checks project: the box of the homography's inliers, or the whole reference frame."""

ROTATIONS = (0, 90, 180, 270)
"""Clockwise turns of the query that a second XFeat try may use (XFeat is not rotation-invariant)."""


@dataclass(frozen=True)
class LearnedGeometry:
    """What the homography (and the fundamental matrix) made of learned matches.

    Attributes
    ----------
    n_matches : int
        LighterGlue matches.
    inliers : np.ndarray
        ``(n_matches,)`` bool homography inliers.
    H : np.ndarray or None
        ``(3, 3)`` reference -> query homography (query as matched, i.e. turned by ``rotation``).
    f_inliers : int
        Fundamental-matrix inliers among the matches (0 with fewer than 8 matches).
    coverage : float
        Spread of the homography inliers: the smaller of the two convex hulls' areas,
        each as a fraction of its image (0 with fewer than 3 inliers).
    problems : list[str]
        Why ``H`` is implausible (``[]`` if fine or absent).
    rotation : int
        Clockwise degrees the query was turned before matching.
    region : np.ndarray or None
        ``(4, 2)`` reference pixels the plausibility checks projected (the
        inliers' box), or None for the whole reference frame; a view draws
        ``H`` applied to it, the outline the verdict was checked on.
    """

    n_matches: int
    inliers: np.ndarray
    H: np.ndarray | None
    f_inliers: int
    coverage: float
    problems: list[str] = field(default_factory=list)
    rotation: int = 0
    region: np.ndarray | None = None

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())

    @property
    def plausible_inliers(self) -> int:
        """Homography inliers when the homography is plausible, else 0."""
        return self.n_inliers if self.H is not None and not self.problems else 0

    def summary(self) -> dict:
        return {
            "xfeat_matches": self.n_matches,
            "xfeat_raw_inliers": self.n_inliers,
            "xfeat_f_inliers": self.f_inliers,
            "xfeat_coverage": round(self.coverage, 4),
            "xfeat_problems": list(self.problems),
            "xfeat_rotation": self.rotation,
        }


def no_geometry(n_matches: int = 0, rotation: int = 0) -> LearnedGeometry:
    """The explicit result when no homography could be fitted."""
    return LearnedGeometry(n_matches, np.zeros(n_matches, bool), None, 0, 0.0, [], rotation)


def hull_fraction(points: np.ndarray, size: tuple[int, int]) -> float:
    """Area of the convex hull of ``(N, 2)`` points as a fraction of a ``(w, h)`` image (0 below 3 points)."""
    if len(points) < 3:
        return 0.0
    hull = cv2.convexHull(points.astype(np.float32).reshape(-1, 1, 2))
    return float(cv2.contourArea(hull)) / float(size[0] * size[1])


def fundamental_inliers(src: np.ndarray, dst: np.ndarray, reproj_px: float) -> int:
    """Inliers of a MAGSAC fundamental matrix between ``(N, 2)`` point sets (0 below 8 points)."""
    if len(src) < 8:
        return 0
    try:
        F, mask = cv2.findFundamentalMat(
            src.astype(np.float32), dst.astype(np.float32), cv2.USAC_MAGSAC, reproj_px, 0.999, 2000
        )
    except cv2.error:  # USAC asserts (!model.empty()) on degenerate matches: a few repeated points
        return 0
    return int(mask.sum()) if F is not None and mask is not None else 0


def learned_geometry(
    src: np.ndarray,
    dst: np.ndarray,
    ref_size: tuple[int, int],
    query_size: tuple[int, int],
    *,
    reproj_px: float = 5.0,
    max_anisotropy: float = 8.0,
    rotation: int = 0,
    with_fundamental: bool = True,
    outline: str = "inliers",
) -> LearnedGeometry:
    """Homography (MAGSAC), plausibility, inlier spread and fundamental inliers of matched points.

    Parameters
    ----------
    src, dst : np.ndarray
        ``(K, 2)`` matched reference and query points (working pixels).
    ref_size, query_size : tuple[int, int]
        ``(width, height)`` of the two images the points live in.
    reproj_px : float
        RANSAC threshold for both models.
    max_anisotropy : float
        Stretch bound of the plausibility check.
    outline : str
        ``"inliers"``: the checks project the box around the inliers (a 3-D
        object, a room: the homography holds where the matches are, not at the
        frame's corners; see :func:`vision.matchers.geometry.homography_problems`);
        ``"frame"``: the whole reference frame.
    """
    if outline not in OUTLINES:
        raise ValueError(f"outline must be one of {OUTLINES}, got {outline!r}")
    k = len(src)
    fit = fit_homography(src, dst, "magsac", reproj_px)
    if fit.H is None:
        return no_geometry(k, rotation)
    inl = np.asarray(fit.inliers, bool)
    box = None
    if outline == "frame":
        problems = homography_problems(fit.H, ref_size, query_size, max_anisotropy=max_anisotropy)
    else:
        box = inlier_box(src[inl])
        problems = (
            ["inliers span no area (collinear)"]
            if box is None
            else homography_problems(fit.H, ref_size, query_size, max_anisotropy=max_anisotropy, region=box)
        )
    coverage = min(hull_fraction(src[inl], ref_size), hull_fraction(dst[inl], query_size))
    f_inl = fundamental_inliers(src, dst, reproj_px) if with_fundamental else 0
    return LearnedGeometry(k, inl, fit.H, f_inl, coverage, problems, rotation, box)


def rotate_image(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned clockwise by 0, 90, 180 or 270 degrees."""
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if degrees == 0:
        return image
    if degrees not in codes:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {degrees}")
    return cv2.rotate(image, codes[degrees])


def unrotate_points(points: np.ndarray, degrees: int, size: tuple[int, int]) -> np.ndarray:
    """``(N, 2)`` points of the turned image back to the unturned one of ``size = (w, h)``."""
    w, h = size
    x, y = points[:, 0], points[:, 1]
    if degrees == 0:
        return points.copy()
    if degrees == 90:  # (x, y) -> (h - 1 - y, x) when turning
        return np.stack([y, h - 1 - x], axis=1)
    if degrees == 180:
        return np.stack([w - 1 - x, h - 1 - y], axis=1)
    if degrees == 270:  # (x, y) -> (y, w - 1 - x) when turning
        return np.stack([w - 1 - y, x], axis=1)
    raise ValueError(f"rotation must be one of {ROTATIONS}, got {degrees}")
