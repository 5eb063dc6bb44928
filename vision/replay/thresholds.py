"""The replay check's thresholds: a leaf dataclass, so :mod:`vision.profile` can compose it without the check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplayThresholds:
    """When a candidate counts as repeated (profile values, see :mod:`vision.rules.evidence`).

    Both kinds need ``min_inliers`` aligned keypoints and
    ``inlier_fraction >= min_inlier_fraction``; then

    * a *digital copy*: ``detail_ncc >= min_detail_ncc``, and the alignment
      is a similarity (corner deviation ``<= max_similarity_residual``,
      rotation within ``max_angle_off_deg`` of a 90-degree step);
    * a *framed copy* (a screen photo, a bordered screenshot):
      ``detail_ncc >= min_framed_ncc``, the earlier frame wholly in view
      (``frame_inside >= min_frame_inside``) with a flat band around it
      (``border_flatness <= max_border_flatness``);
    * a *content copy* (any plausible homography, mirror included, plus
      photometric edits): the aligned fine detail repeats cell by cell:
      at least ``min_cells`` textured cells, a share ``>= min_cell_share``
      of them correlating, and ``detail_ncc >= min_content_ncc`` overall.
    """

    # Chosen on the replay set (scripts/build_replay_set.py), scenes held out.
    min_inliers: int = 10
    min_inlier_fraction: float = 0.0
    min_detail_ncc: float = 0.85
    max_similarity_residual: float = 0.0055
    max_angle_off_deg: float = 1.0
    min_framed_ncc: float = 0.75
    min_frame_inside: float = 0.5
    max_border_flatness: float = 0.5
    # Content copy (issue 21), picked on the edit set (scripts/replay_edit_set.py, all scenes):
    # lower values flag more genuine planar / near-duplicate pairs at the 160 px thumbnail.
    # Kept after the ECC refinement (replay5): 0.94 loses 6 edited copies for 1 genuine pair less.
    min_cell_share: float = 0.95
    min_cells: int = 12
    min_content_ncc: float = 0.93
