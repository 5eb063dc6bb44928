"""Pictures of the evidence: keypoints, matches and the projected outline.

Replaces the note's ``plt.show()`` debugging.  Every function returns a new
RGB uint8 array (what ``st.image`` and PNG encoders expect) and never blocks.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.decision import MatchEvidence
from vision.features import Features
from vision.matching import CandidateMatches

# BGR colours (OpenCV draws in BGR; converted to RGB at the end)
INLIER = (80, 200, 60)
REJECTED = (60, 60, 230)
RAW = (200, 160, 40)
OUTLINE = (0, 255, 255)


def draw_keypoints(image: np.ndarray, features: Features, max_drawn: int = 2000) -> np.ndarray:
    """The image with its keypoints as circles (size and orientation), RGB out."""
    subset = features.keypoints()[:max_drawn]
    out = cv2.drawKeypoints(  # type: ignore[call-overload]  # the stubs miss outImage=None (allocate one)
        image, subset, None, color=INLIER, flags=cv2.DRAW_MATCHES_FLAGS_DRAW_RICH_KEYPOINTS
    )
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def _dmatches(candidates: CandidateMatches, mask: np.ndarray, limit: int) -> list[cv2.DMatch]:
    idx = np.flatnonzero(mask)[:limit]
    return [
        cv2.DMatch(int(candidates.ref_idx[i]), int(candidates.query_idx[i]), float(candidates.distance[i])) for i in idx
    ]


def draw_matches(
    ref_image: np.ndarray,
    ref: Features,
    query_image: np.ndarray,
    query: Features,
    candidates: CandidateMatches,
    evidence: MatchEvidence,
    show_raw: bool = False,
    max_lines: int = 400,
) -> np.ndarray:
    """Side-by-side view: inliers in green, rejected tentative matches in red, outline in yellow.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        BGR images at working resolution (the features' coordinates).
    candidates : CandidateMatches
        The cached kNN matches; with ``show_raw`` all of them are drawn (blue)
        instead of the tentative/inlier split.
    evidence : MatchEvidence
        Masks over ``candidates`` and the projected outline.

    Returns
    -------
    np.ndarray
        RGB uint8 ``(max(h1, h2), w1 + w2, 3)``.
    """
    kp_ref, kp_query = ref.keypoints(), query.keypoints()
    canvas = _side_by_side(ref_image, query_image)
    n_raw = len(candidates)
    layers = (
        [(np.ones(n_raw, bool), RAW)]
        if show_raw
        else [(evidence.tentative & ~evidence.inliers, REJECTED), (evidence.inliers, INLIER)]
    )
    for mask, colour in layers:
        if mask.size and mask.any():
            cv2.drawMatches(
                ref_image,
                kp_ref,
                query_image,
                kp_query,
                _dmatches(candidates, mask, max_lines),
                canvas,
                matchColor=colour,
                singlePointColor=colour,
                flags=cv2.DRAW_MATCHES_FLAGS_DRAW_OVER_OUTIMG | cv2.DRAW_MATCHES_FLAGS_NOT_DRAW_SINGLE_POINTS,
            )
    if evidence.outline is not None and np.all(np.isfinite(evidence.outline)):
        shifted = evidence.outline + np.array([ref_image.shape[1], 0.0])
        thickness = max(2, canvas.shape[1] // 500)
        cv2.polylines(
            canvas, [np.round(shifted).astype(np.int32).reshape(-1, 1, 2)], True, OUTLINE, thickness, cv2.LINE_AA
        )
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


def draw_point_matches(
    ref_image: np.ndarray,
    query_image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    inliers: np.ndarray,
    max_lines: int = 400,
) -> np.ndarray:
    """Side-by-side view of point matches (the learned matcher's): inliers green, the others red.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        BGR or gray images whose pixels ``src`` / ``dst`` are in.
    src, dst : np.ndarray
        ``(K, 2)`` matched points.
    inliers : np.ndarray
        ``(K,)`` bool.

    Returns
    -------
    np.ndarray
        RGB uint8 ``(max(h1, h2), w1 + w2, 3)``; without matches, the two images.
    """
    canvas = _side_by_side(ref_image, query_image)
    offset = np.array([ref_image.shape[1], 0.0])
    thickness = max(1, canvas.shape[1] // 1000)
    for mask, colour in ((~inliers, REJECTED), (inliers, INLIER)):
        for a, b in zip(src[mask][:max_lines], dst[mask][:max_lines], strict=True):
            p, q = tuple(int(x) for x in np.rint(a)), tuple(int(x) for x in np.rint(b + offset))
            cv2.line(canvas, p, q, colour, thickness, cv2.LINE_AA)
            cv2.circle(canvas, p, 2 * thickness, colour, -1)
            cv2.circle(canvas, q, 2 * thickness, colour, -1)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    h = max(left.shape[0], right.shape[0])
    canvas = np.zeros((h, left.shape[1] + right.shape[1], 3), np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = _bgr(left)
    canvas[: right.shape[0], left.shape[1] :] = _bgr(right)
    return canvas


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def thumbnail(image: np.ndarray, side: int = 240) -> np.ndarray:
    """RGB thumbnail with long side ``side``."""
    scale = side / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    return cv2.cvtColor(_bgr(small), cv2.COLOR_BGR2RGB)
