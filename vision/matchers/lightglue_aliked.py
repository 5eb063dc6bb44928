"""LightGlue matching of ALIKED features on onnxruntime.

The ONNX file (``vision/models/lightglue_aliked.onnx``, see
``scripts/export_aliked.py``; LightGlue's ALIKED weights, Apache-2.0, stored as
float16) holds LightGlue's 9 layers and final assignment: it returns the
``(M, N)`` log assignment.  The match filter is numpy, shared with XFeat's
LighterGlue (:func:`vision.matchers.lighterglue.filter_matches`): a pair is a match when
each is the other's best and the assignment probability exceeds ``min_confidence``.

Cost grows with ``M * N`` (attention) and ``M + N`` (the layers): on the
2-core target about a second for 1024 x 1024 keypoints (``bench/bench_aliked.py``);
there is no point pruning or early stop, so the cost does not depend on the pair.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from vision.matchers.aliked import AlikedFeatures
from vision.matchers.lighterglue import (
    DEFAULT_MIN_CONFIDENCE,
    LearnedMatches,
    filter_matches,
    no_matches,
    normalize_keypoints,
)
from vision.matchers.onnx_session import cpu_session

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "lightglue_aliked.onnx"

_lock = threading.Lock()

__all__ = ["DEFAULT_MIN_CONFIDENCE", "LearnedMatches", "log_assignment", "match"]


def _session() -> Any:
    return cpu_session(MODEL_PATH)


def log_assignment(ref: AlikedFeatures, query: AlikedFeatures) -> np.ndarray:
    """``(M, N)`` float32 log assignment of the two keypoint sets (both non-empty)."""
    if len(ref) == 0 or len(query) == 0:
        raise ValueError(f"both sides need keypoints, got {len(ref)} and {len(query)}")
    feeds = {
        "kpts0": normalize_keypoints(ref.keypoints, ref.image_size)[None],
        "kpts1": normalize_keypoints(query.keypoints, query.image_size)[None],
        "desc0": ref.descriptors.astype(np.float32)[None],
        "desc1": query.descriptors.astype(np.float32)[None],
    }
    with _lock:
        return np.asarray(_session().run(None, feeds)[0][0], np.float32)


def match(ref: AlikedFeatures, query: AlikedFeatures, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> LearnedMatches:
    """LightGlue matches of two ALIKED feature sets (explicitly empty when either side has none).

    Returns indices into ``ref`` (``idx0``) and ``query`` (``idx1``), ``(K,)`` each.
    """
    if len(ref) == 0 or len(query) == 0:
        return no_matches()
    return filter_matches(log_assignment(ref, query), min_confidence)
