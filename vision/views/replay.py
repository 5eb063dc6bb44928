"""Pictures of the replay check for the dashboard: the aligned difference image.

The check compares the two photos' fine detail after aligning the earlier
one onto the new one; the picture shows exactly that: the earlier photo
warped by the check's homography, the new photo, and the absolute
difference of their band-passed detail (the quantity whose correlation
decides).  A replay's difference is dark everywhere; a genuine new photo
lights up where parallax, light or objects changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.matchers.akaze import Features
from vision.replay.check import ReplayFinding, align_thumbnail, detail
from vision.replay.fingerprint import Fingerprint, make_fingerprint

__all__ = ["DISPLAY_SCALE", "difference_image", "finding_picture"]

DISPLAY_SCALE = 3
"""Thumbnails are enlarged this many times (nearest neighbour) for display."""
_DIFF_FULL_SCALE = 40.0  # detail difference (gray levels) shown as full brightness


def difference_image(candidate: Fingerprint, query_fp: Fingerprint, H: np.ndarray) -> np.ndarray:
    """Side by side: earlier photo aligned, new photo, detail difference (heat map).

    Parameters
    ----------
    candidate, query_fp : Fingerprint
        The earlier photo's and the new photo's fingerprints.
    H : np.ndarray
        ``(3, 3)`` candidate-thumbnail -> query-thumbnail homography
        (``ReplayEvidence.H``).

    Returns
    -------
    np.ndarray
        ``(h * s, 3 * w * s, 3)`` BGR uint8 with ``s = DISPLAY_SCALE``;
        outside the aligned area the difference panel is gray.
    """
    warped, valid = align_thumbnail(candidate, query_fp.thumb, H)
    diff = np.abs(detail(warped) - detail(query_fp.thumb))
    level = np.clip(diff * (255.0 / _DIFF_FULL_SCALE), 0, 255).astype(np.uint8)
    heat = cv2.applyColorMap(level, cv2.COLORMAP_INFERNO)
    heat[~valid] = 96
    shown_earlier = np.where(valid, warped, 0).astype(np.uint8)
    panels = [cv2.cvtColor(shown_earlier, cv2.COLOR_GRAY2BGR), cv2.cvtColor(query_fp.thumb, cv2.COLOR_GRAY2BGR), heat]
    strip = np.hstack(panels)
    s = DISPLAY_SCALE
    return cv2.resize(strip, (strip.shape[1] * s, strip.shape[0] * s), interpolation=cv2.INTER_NEAREST)


def finding_picture(finding: ReplayFinding, query_image: np.ndarray, query_features: Features) -> np.ndarray | None:
    """The :func:`difference_image` of what the replay check compared, or None when it aligned nothing.

    ``query_image`` is the new photo's ``(H, W, 3)`` BGR uint8 working image, with its AKAZE features.
    """
    if finding.evidence is None or finding.evidence.H is None or finding.candidate is None:
        return None
    query_fp = make_fingerprint(query_image, query_features)
    return difference_image(finding.candidate.fingerprint, query_fp, finding.evidence.H)
