"""The original design note's verification pipeline, reproduced faithfully.

Kept as a selectable rule so that the dashboard and the evaluation can show
how it compares.  Its defects are reproduced on purpose (L2 norm on binary
descriptors, the 80 "best" matches without a ratio test, a 30 px² area as the
only decision) except one: where the note's code would crash (no descriptors,
``findHomography`` returning None) this returns evidence with a problem, so
callers get an ordinary rejection instead of a bare 500.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.matchers.akaze import to_gray
from vision.matchers.geometry import shoelace_area
from vision.rules.evidence import OriginalEvidence

N_BEST_MATCHES = 80


def original_evidence(ref_image: np.ndarray, query_image: np.ndarray) -> OriginalEvidence:
    """Run the note's ``/auth/feature`` pipeline on two full-resolution images.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` BGR uint8, as decoded (no resizing:
        the note works at whatever resolution the phone sent).
    """
    akaze = cv2.AKAZE.create()
    kp1, desc1 = akaze.detectAndCompute(to_gray(ref_image), None)
    kp2, desc2 = akaze.detectAndCompute(to_gray(query_image), None)
    n1, n2 = len(kp1), len(kp2)
    ref_size = (int(ref_image.shape[1]), int(ref_image.shape[0]))
    query_size = (int(query_image.shape[1]), int(query_image.shape[0]))
    if desc1 is None or desc2 is None:
        problem = "no descriptors on one side (the note crashes here)"
        return OriginalEvidence(n1, n2, 0, None, problem, ref_size=ref_size, query_size=query_size)
    matches = cv2.BFMatcher.create().match(desc1, desc2)  # default NORM_L2, as in the note
    good = sorted(matches, key=lambda m: m.distance)[:N_BEST_MATCHES]
    pts1 = np.array([kp1[m.queryIdx].pt for m in good], np.float32).reshape(-1, 2)
    pts2 = np.array([kp2[m.trainIdx].pt for m in good], np.float32).reshape(-1, 2)

    def evidence(area: float | None, problem: str = "", outline: np.ndarray | None = None) -> OriginalEvidence:
        return OriginalEvidence(n1, n2, len(good), area, problem, pts1, pts2, outline, ref_size, query_size)

    if len(good) < 4:
        return evidence(None, f"{len(good)} matches (the note crashes here)")
    try:
        H, _ = cv2.findHomography(pts1.reshape(-1, 1, 2), pts2.reshape(-1, 1, 2), cv2.RANSAC)
    except cv2.error:  # degenerate matches; the note would crash here too
        H = None
    if H is None:
        return evidence(None, "findHomography returned None (the note crashes here)")
    h, w = ref_image.shape[:2]
    corners = np.array([[0, 0], [0, h - 1], [w - 1, h - 1], [w - 1, 0]], np.float32).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, H).reshape(4, 2)
    # The note's shoelace_area takes the absolute value, so mirrored outlines pass.
    area = abs(shoelace_area(projected.astype(np.float64)))
    return evidence(area, outline=projected.astype(np.float32))
