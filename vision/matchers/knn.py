"""Descriptor matching: k-nearest neighbours by Hamming distance, Lowe's ratio test.

The kNN search is the expensive part and is kept (:class:`CandidateMatches`)
so that the ratio threshold can be changed without searching again.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.matchers.akaze import Features


@dataclass(frozen=True)
class CandidateMatches:
    """The two nearest query descriptors of every reference descriptor.

    Attributes
    ----------
    ref_idx : np.ndarray
        ``(M,)`` int32 index into the reference features.
    query_idx : np.ndarray
        ``(M,)`` int32 index of the nearest query descriptor.
    distance : np.ndarray
        ``(M,)`` float32 Hamming distance to the nearest.
    second_distance : np.ndarray
        ``(M,)`` float32 Hamming distance to the second nearest (``inf``
        when the query has a single descriptor).
    """

    ref_idx: np.ndarray
    query_idx: np.ndarray
    distance: np.ndarray
    second_distance: np.ndarray

    def __len__(self) -> int:
        return int(self.ref_idx.shape[0])


def empty_candidates() -> CandidateMatches:
    """The explicit result when either side has no descriptors."""
    return CandidateMatches(
        np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    )


def knn_match(ref: Features, query: Features) -> CandidateMatches:
    """Brute-force 2-NN search from reference to query descriptors (Hamming norm).

    AKAZE descriptors are binary strings, so the distance is the number of
    differing bits; the L2 norm the original note used is meaningless here.
    """
    if len(ref) == 0 or len(query) == 0:
        return empty_candidates()
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    k = 2 if len(query) >= 2 else 1
    pairs = matcher.knnMatch(ref.descriptors, query.descriptors, k=k)
    rows = [p for p in pairs if p]
    if not rows:
        return empty_candidates()
    second = [p[1].distance if len(p) > 1 else np.inf for p in rows]
    return CandidateMatches(
        ref_idx=np.array([p[0].queryIdx for p in rows], np.int32),
        query_idx=np.array([p[0].trainIdx for p in rows], np.int32),
        distance=np.array([p[0].distance for p in rows], np.float32),
        second_distance=np.array(second, np.float32),
    )


def ratio_mask(candidates: CandidateMatches, ratio: float) -> np.ndarray:
    """Lowe's ratio test: keep a match whose nearest is clearly nearer than the second.

    Parameters
    ----------
    candidates : CandidateMatches
    ratio : float
        In ``(0, 1]``; a match passes when ``d1 < ratio * d2``.

    Returns
    -------
    np.ndarray
        ``(M,)`` bool mask of the tentative matches.  A query descriptor
        claimed by several reference descriptors keeps only the closest, so
        repeated texture cannot inflate the inlier count.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    mask = candidates.distance < ratio * candidates.second_distance
    if not mask.any():
        return mask
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(candidates.distance[idx], kind="stable")]
    _, first = np.unique(candidates.query_idx[order], return_index=True)
    unique = np.zeros_like(mask)
    unique[order[first]] = True
    return unique


def matched_points(
    ref: Features, query: Features, candidates: CandidateMatches, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(K, 2)`` float32 reference and query coordinates of the masked matches."""
    return ref.points[candidates.ref_idx[mask]], query.points[candidates.query_idx[mask]]
