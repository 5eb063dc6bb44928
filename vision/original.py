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

from vision.decision import OriginalEvidence
from vision.features import to_gray
from vision.geometry import shoelace_area

N_BEST_MATCHES = 80


def original_evidence(ref_image: np.ndarray, query_image: np.ndarray) -> OriginalEvidence:
    """Run the note's ``/auth/feature`` pipeline on two full-resolution images.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` BGR uint8, as decoded (no resizing:
        the note works at whatever resolution the phone sent).
    """
    akaze = cv2.AKAZE_create()
    kp1, desc1 = akaze.detectAndCompute(to_gray(ref_image), None)
    kp2, desc2 = akaze.detectAndCompute(to_gray(query_image), None)
    n1, n2 = len(kp1), len(kp2)
    sizes = {
        "ref_size": (int(ref_image.shape[1]), int(ref_image.shape[0])),
        "query_size": (int(query_image.shape[1]), int(query_image.shape[0])),
    }
    if desc1 is None or desc2 is None:
        return OriginalEvidence(n1, n2, 0, None, "no descriptors on one side (the note crashes here)", **sizes)
    matches = cv2.BFMatcher_create().match(desc1, desc2)  # default NORM_L2, as in the note
    good = sorted(matches, key=lambda m: m.distance)[:N_BEST_MATCHES]
    pts1 = np.float32([kp1[m.queryIdx].pt for m in good]).reshape(-1, 2)
    pts2 = np.float32([kp2[m.trainIdx].pt for m in good]).reshape(-1, 2)
    drawn = {"ref_points": pts1, "query_points": pts2, **sizes}
    if len(good) < 4:
        return OriginalEvidence(n1, n2, len(good), None, f"{len(good)} matches (the note crashes here)", **drawn)
    H, _ = cv2.findHomography(pts1.reshape(-1, 1, 2), pts2.reshape(-1, 1, 2), cv2.RANSAC)
    if H is None:
        problem = "findHomography returned None (the note crashes here)"
        return OriginalEvidence(n1, n2, len(good), None, problem, **drawn)
    h, w = ref_image.shape[:2]
    corners = np.float32([[0, 0], [0, h - 1], [w - 1, h - 1], [w - 1, 0]]).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, H).reshape(4, 2)
    # The note's shoelace_area takes the absolute value, so mirrored outlines pass.
    area = abs(shoelace_area(projected.astype(np.float64)))
    return OriginalEvidence(n1, n2, len(good), area, outline=projected.astype(np.float32), **drawn)
