"""The keypoints a learned detector gives (XFeat, ALIKED): one container, one explicit empty result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LearnedKeypoints:
    """Keypoints of one image from a learned detector.

    Attributes
    ----------
    keypoints : np.ndarray
        ``(N, 2)`` float32 sub-pixel ``(x, y)`` in the pixels of the image the detector saw.
    scores : np.ndarray
        ``(N,)`` float32 detection scores, strongest first.
    descriptors : np.ndarray
        ``(N, D)`` float16, L2-normalised (D: 64 for XFeat, 128 for ALIKED).
    image_size : tuple[int, int]
        ``(width, height)`` of that image (the matchers normalise by it).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    descriptors: np.ndarray
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


def no_keypoints(image_size: tuple[int, int], descriptor_dim: int) -> LearnedKeypoints:
    """The explicit result for an image without keypoints (or too small to run)."""
    return LearnedKeypoints(
        np.zeros((0, 2), np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, descriptor_dim), np.float16),
        (int(image_size[0]), int(image_size[1])),
    )
