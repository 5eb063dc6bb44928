"""Aligning a remembered photo's fingerprint with a new photo by its keypoints (and with the mirrored view).

A homography fitted with MAGSAC to ratio-test matches of the fingerprint's
keypoints into the new photo's, kept only within the verification's
plausibility bounds (:func:`vision.matchers.geometry.homography_problems`).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from vision.matchers.akaze import Features
from vision.matchers.geometry import homography_problems
from vision.replay.fingerprint import Fingerprint, perceptual_hash
from vision.replay.residual import flip_matrix

__all__ = ["MirroredFeatures", "fingerprint_alignment", "match", "mirror_alignment", "plausible"]

RATIO = 0.8
_REPROJ_PX = 4.0  # MAGSAC inlier threshold, query working pixels
_MIN_MATCHES = 8
_MIRROR_HASH = 20  # pHash distance (of 64) of the mirrored new photo under which a mirrored copy is searched
MirroredFeatures = Callable[[], Features | None]
"""Lazily computed features of the mirrored new photo (:func:`vision.replay.residual.mirrored_features`)."""

Fit = tuple[np.ndarray | None, int, int, float]
"""``(H, n_matches, n_inliers, reproj_px)``; H None when none fits."""


def match(candidate: Fingerprint, query: Features) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches: ``(M, 2)`` candidate points (its working px) and ``(M, 2)`` query points."""
    if len(candidate) == 0 or len(query) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(candidate.descriptors, query.descriptors, k=2)
    kept = [(p[0].queryIdx, p[0].trainIdx) for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if not kept:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    ci, qi = np.array(kept).T
    src = candidate.points[ci] * np.array(candidate.size, np.float32)
    return src.astype(np.float32), query.points[qi].astype(np.float32)


def fingerprint_alignment(candidate: Fingerprint, query: Features) -> tuple[np.ndarray | None, int, int, float]:
    """``(H, n_matches, n_inliers, reproj_px)`` from the fingerprint's keypoints (H None when none fits)."""
    src, dst = match(candidate, query)
    if len(src) < _MIN_MATCHES:
        return None, len(src), 0, float("inf")
    try:
        H, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, _REPROJ_PX)
    except cv2.error:  # degenerate matches (repeated or collinear points)
        return None, len(src), 0, float("inf")
    if H is None or mask is None or not np.all(np.isfinite(H)):
        return None, len(src), 0, float("inf")
    inliers = mask.ravel().astype(bool)
    projected = cv2.perspectiveTransform(src[inliers][None], H)[0]
    reproj = float(np.median(np.linalg.norm(projected - dst[inliers], axis=1)))
    return H, len(src), int(inliers.sum()), reproj


def plausible(H: np.ndarray, candidate: Fingerprint, query: Features) -> bool:
    """Whether ``H`` could be a photo of the candidate (the verification's bounds: convex, unmirrored, ...)."""
    return not homography_problems(H, candidate.size, query.image_size)


def mirror_alignment(
    candidate: Fingerprint, query_thumb: np.ndarray, mirrored: MirroredFeatures | None
) -> tuple[np.ndarray | None, int, int, float]:
    """The fingerprint's alignment onto the mirrored new photo, when its pHash says it may be a flipped copy.

    The mirrored features cost an AKAZE pass, so they are asked for only
    when the flipped new photo's pHash is within :data:`_MIRROR_HASH` of
    one of the candidate's (a genuine photo of the scene is not).
    """
    if mirrored is None:
        return None, 0, 0, float("inf")
    flipped_hash = perceptual_hash(cv2.flip(query_thumb, 1))
    if min(bin(int(h) ^ flipped_hash).count("1") for h in candidate.hashes) > _MIRROR_HASH:
        return None, 0, 0, float("inf")
    features = mirrored()
    if features is None:
        return None, 0, 0, float("inf")
    H, n_matches, n_in, reproj = fingerprint_alignment(candidate, features)
    if H is None or not plausible(H, candidate, features):
        return None, n_matches, 0, float("inf")
    return flip_matrix(features.image_size[0]) @ H, n_matches, n_in, reproj
