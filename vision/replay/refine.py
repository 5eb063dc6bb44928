"""Refining a rough alignment on the thumbnails themselves (ECC), so a copy's pixels line up exactly.

A remembered proof is aligned by its fingerprint's 192 keypoints, the
reference homographies composed, or the mirrored view's keypoints: enough
to find the copy, but after a strong rotation or crop only a dozen
keypoints may agree, and a homography a pixel off blurs the fine detail
the content rule correlates (:mod:`vision.replay.residual`).  Enhanced
correlation maximisation (OpenCV's ``findTransformECC``) moves the
homography until the two thumbnails' intensities agree best.  A copy then
lines up to a fraction of a pixel; a new photo's parallax, light and
noise stay whatever the homography (it fits one plane at best), which is
what keeps the rule honest: refinement removes the *alignment's* error,
not the photos' differences.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["refine_homography"]

_ITERATIONS = 20
_EPS = 1e-3
_MAX_CORNER_SHIFT = 0.08  # of the new thumbnail's diagonal: a refinement that moves a corner further is a new fit
_BLUR = 3  # ECC's Gaussian prefilter (pixels): smooths JPEG blocks and noise before the gradients


def refine_homography(query_thumb: np.ndarray, candidate_thumb: np.ndarray, H: np.ndarray) -> np.ndarray | None:
    """ECC-refined ``H`` (candidate thumbnail -> query thumbnail pixels), or None when it does not converge.

    Parameters
    ----------
    query_thumb : np.ndarray
        ``(h, w)`` uint8 gray thumbnail of the new photo.
    candidate_thumb : np.ndarray
        ``(h', w')`` uint8 gray thumbnail of the remembered photo.
    H : np.ndarray
        ``(3, 3)`` rough homography from ``candidate_thumb`` to ``query_thumb`` pixels.

    Returns
    -------
    np.ndarray or None
        ``(3, 3)`` float64 refined homography; None when ECC fails, the
        overlap is too small, or the refinement moves a corner of the
        remembered frame by more than 8 % of the new thumbnail's diagonal
        (not a refinement any more).
    """
    if query_thumb.ndim != 2 or candidate_thumb.ndim != 2 or H.shape != (3, 3):
        raise ValueError(f"gray thumbnails and a 3x3 homography expected, got {query_thumb.shape}, {H.shape}")
    try:
        inverse = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(inverse)) or abs(inverse[2, 2]) < 1e-12:
        return None
    h, w = query_thumb.shape
    # ECC warps its "input" onto the "template": template = the new photo, input = the remembered one,
    # so the warp maps new-photo pixels to remembered pixels (H's inverse).
    cover = cv2.warpPerspective(
        np.full(candidate_thumb.shape, 255, np.uint8), H, (w, h), flags=cv2.INTER_NEAREST, borderValue=0
    )
    mask = cv2.erode(cover, np.ones((5, 5), np.uint8))
    if int(np.count_nonzero(mask)) < 400:
        return None
    warp = (inverse / inverse[2, 2]).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, _ITERATIONS, _EPS)
    try:
        _, warp = cv2.findTransformECC(query_thumb, candidate_thumb, warp, cv2.MOTION_HOMOGRAPHY, criteria, mask, _BLUR)
    except cv2.error:  # no convergence, or a singular step
        return None
    try:
        refined = np.linalg.inv(warp.astype(np.float64))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(refined)):
        return None
    ch, cw = candidate_thumb.shape
    corners = np.array([[[0, 0], [cw, 0], [cw, ch], [0, ch]]], np.float64)
    before = cv2.perspectiveTransform(corners, H)[0]
    after = cv2.perspectiveTransform(corners, refined)[0]
    diag = float(np.hypot(w, h))
    if not np.all(np.isfinite(after)) or float(np.abs(after - before).max()) > _MAX_CORNER_SHIFT * diag:
        return None
    return refined / refined[2, 2]
