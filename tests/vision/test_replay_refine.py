"""ECC refinement of a rough alignment (issue 21): a real sample thumbnail under known warps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.image.imageio import decode_image
from vision.replay.fingerprint import thumbnail_gray
from vision.replay.refine import refine_homography

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "images"
REF = SAMPLES / "lightglue" / "DSC_0410.JPG"


@pytest.fixture(scope="module")
def thumb() -> np.ndarray:
    return thumbnail_gray(decode_image(REF.read_bytes(), max_side=1000).bgr)


def _corner_error(A: np.ndarray, B: np.ndarray, size: tuple[int, int]) -> float:
    w, h = size
    corners = np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float64)
    return float(np.abs(cv2.perspectiveTransform(corners, A) - cv2.perspectiveTransform(corners, B)).max())


def test_refinement_recovers_the_warp_of_a_copy(thumb: np.ndarray) -> None:
    h, w = thumb.shape
    true = cv2.getRotationMatrix2D((w / 2, h / 2), 25.0, 1.2)
    true = np.vstack([true, [0.0, 0.0, 1.0]])
    true[2, :2] = [1e-4, -5e-5]  # a little perspective
    copy = cv2.warpPerspective(thumb, true, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    rough = true.copy()
    rough[:2, 2] += [1.5, -1.2]  # a keypoint fit a pixel or two off
    rough[0, 0] *= 1.01
    refined = refine_homography(copy, thumb, rough)
    assert refined is not None
    assert _corner_error(rough, true, (w, h)) > 1.5
    assert _corner_error(refined, true, (w, h)) < 0.5


def test_refinement_refuses_what_is_no_refinement(thumb: np.ndarray) -> None:
    far = np.array([[1.0, 0.0, 400.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # no overlap at all
    assert refine_homography(thumb, thumb, far) is None
    assert refine_homography(thumb, thumb, np.zeros((3, 3))) is None  # singular
    with pytest.raises(ValueError, match="3x3 homography"):
        refine_homography(thumb, thumb, np.eye(2))
    with pytest.raises(ValueError, match="gray thumbnails"):
        refine_homography(np.dstack([thumb] * 3), thumb, np.eye(3))
