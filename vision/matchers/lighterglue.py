"""LighterGlue matching of XFeat features on onnxruntime.

The ONNX file (``vision/models/xfeat_lighterglue.onnx``, see
``scripts/export_xfeat.py``) holds LightGlue's core for XFeat: it returns
the ``(M, N)`` log assignment.  The match filter is numpy, as in LightGlue's
``filter_matches``: a pair is a match when each is the other's best and the
assignment probability exceeds ``min_confidence``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.matchers.onnx_session import cpu_session
from vision.matchers.xfeat import XFeatFeatures

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "xfeat_lighterglue.onnx"
DEFAULT_MIN_CONFIDENCE = 0.1
"""LighterGlue's own default ``filter_threshold``."""

_lock = threading.Lock()


@dataclass(frozen=True)
class LearnedMatches:
    """Mutual LighterGlue matches between a reference (0) and a query (1).

    Attributes
    ----------
    idx0, idx1 : np.ndarray
        ``(K,)`` int64 indices into each side's keypoints.
    confidence : np.ndarray
        ``(K,)`` float32 assignment probabilities, each > the threshold used.
    """

    idx0: np.ndarray
    idx1: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.idx0.shape[0])


def no_matches() -> LearnedMatches:
    """The explicit empty result."""
    return LearnedMatches(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


def _session() -> Any:
    return cpu_session(MODEL_PATH)


def normalize_keypoints(keypoints: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``(N, 2)`` pixels -> LightGlue's frame: centred, divided by half the long side (float32)."""
    size = np.asarray(image_size, np.float32)
    return ((keypoints.astype(np.float32) - size / 2) / (size.max() / 2)).astype(np.float32)


def log_assignment(ref: XFeatFeatures, query: XFeatFeatures) -> np.ndarray:
    """``(M, N)`` float32 log assignment of the two keypoint sets (both non-empty)."""
    feeds = {
        "kpts0": normalize_keypoints(ref.keypoints, ref.image_size)[None],
        "kpts1": normalize_keypoints(query.keypoints, query.image_size)[None],
        "desc0": ref.descriptors.astype(np.float32)[None],
        "desc1": query.descriptors.astype(np.float32)[None],
    }
    with _lock:
        return _session().run(None, feeds)[0][0]


def filter_matches(scores: np.ndarray, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> LearnedMatches:
    """Mutual best pairs of an ``(M, N)`` log assignment with probability > ``min_confidence``."""
    if scores.size == 0:
        return no_matches()
    best1 = scores.argmax(axis=1)  # for each reference point
    best0 = scores.argmax(axis=0)  # for each query point
    idx0 = np.arange(scores.shape[0])
    mutual = best0[best1] == idx0
    prob = np.exp(scores[idx0, best1])
    keep = mutual & (prob > min_confidence)
    return LearnedMatches(idx0[keep].astype(np.int64), best1[keep].astype(np.int64), prob[keep].astype(np.float32))


def match(ref: XFeatFeatures, query: XFeatFeatures, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> LearnedMatches:
    """LighterGlue matches of two feature sets (explicitly empty when either side has none)."""
    if len(ref) == 0 or len(query) == 0:
        return no_matches()
    return filter_matches(log_assignment(ref, query), min_confidence)
