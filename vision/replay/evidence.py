"""What the replay check measures between a remembered photo and a new one (a leaf dataclass).

Kept apart from :mod:`vision.replay.check` (which measures and decides) so
the evidence can be read back from a CSV or JSON without the check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ReplayEvidence"]


@dataclass(frozen=True)
class ReplayEvidence:
    """What the check measured between a candidate and the new photo.

    Attributes
    ----------
    n_points : int
        Keypoints in the candidate's fingerprint.
    n_matches : int
        Ratio-test matches into the new photo's keypoints.
    n_inliers : int
        Matches consistent with the fitted homography.
    inlier_fraction : float
        ``n_inliers / n_points`` (0 when the fingerprint has no keypoints).
    reproj_px : float
        Median reprojection error of the inliers (query working pixels);
        ``inf`` without a homography.
    detail_ncc : float
        Correlation (-1..1) of the aligned thumbnails' band-passed detail; 0
        without a homography.
    hash_distance : int
        Smallest pHash distance (0-64) over the candidate's four rotations.
    similarity_residual, angle_off_deg : float
        How far the alignment is from a similarity, and its rotation from a
        90-degree step (:func:`vision.replay.geometry.similarity_deviation`).
    frame_inside, border_flatness : float
        How much of the candidate's frame edge is inside the new photo, and
        how flat the band around it is (:func:`vision.replay.geometry.frame_border`).
    cell_share, n_cells : float, int
        Of the ``n_cells`` textured grid cells of the overlap, the share whose
        detail correlates >= 0.5 (:func:`vision.replay.residual.cell_correlations`):
        near 1 for a copy under any warp, lower where parallax, light or
        objects changed.
    mirrored : bool
        The alignment maps the candidate onto the *mirrored* new photo.
    tile : bool
        The alignment maps the candidate onto one tile of the new photo
        (a collage), found by the tile's pHash, not by keypoints
        (:mod:`vision.replay.tiles`): only the content rule may decide on it.
    H : np.ndarray or None
        ``(3, 3)`` homography from the candidate's thumbnail to the new
        photo's thumbnail pixels.
    """

    n_points: int
    n_matches: int
    n_inliers: int
    inlier_fraction: float
    reproj_px: float
    detail_ncc: float
    hash_distance: int
    similarity_residual: float = float("inf")
    angle_off_deg: float = 45.0
    frame_inside: float = 0.0
    border_flatness: float = float("inf")
    cell_share: float = 0.0
    n_cells: int = 0
    mirrored: bool = False
    tile: bool = False
    H: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, float | int | None]:
        """JSON-safe numbers (no homography)."""
        return {
            "n_points": self.n_points,
            "n_matches": self.n_matches,
            "n_inliers": self.n_inliers,
            "inlier_fraction": round(self.inlier_fraction, 3),
            "reproj_px": _finite(self.reproj_px, 2),
            "detail_ncc": round(self.detail_ncc, 3),
            "hash_distance": self.hash_distance,
            "similarity_residual": _finite(self.similarity_residual, 4),
            "angle_off_deg": round(self.angle_off_deg, 2),
            "frame_inside": round(self.frame_inside, 3),
            "border_flatness": _finite(self.border_flatness, 3),
            "cell_share": round(self.cell_share, 3),
            "n_cells": self.n_cells,
            "mirrored": int(self.mirrored),
            "tile": int(self.tile),
        }


def _finite(value: float, digits: int) -> float | None:
    """``value`` rounded, or None (JSON has no infinity)."""
    return round(value, digits) if np.isfinite(value) else None
