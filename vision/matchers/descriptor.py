"""The global descriptor of a photo (the fused rule's second number), and the one way to attach it to features.

The descriptor is the offline tagger's pooled EfficientNet-Lite0 feature;
onnxruntime is imported on the first call only, so importing this module (or
:mod:`vision.flows.prepare`) does not load it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from vision.matchers.akaze import Features

if TYPE_CHECKING:
    from vision.tagging.local import LocalTagger


@functools.lru_cache(maxsize=1)
def _model() -> LocalTagger:
    from vision.tagging.local import LocalTagger  # lazy: loads onnxruntime on first use

    return LocalTagger()


def global_embedding(image_bgr: np.ndarray) -> np.ndarray:
    """The photo's global descriptor: float32 ``(1280,)``, L2-normalised.

    The offline tagger's pooled EfficientNet-Lite0 feature (short side
    resized to 256, centre crop 224).  Pass the working-resolution image the
    features were computed on; the descriptor barely depends on the input size.
    Raises :class:`vision.core.errors.ImageInputError` for a non-image array.
    """
    return np.asarray(_model().embed(image_bgr), dtype=np.float32).copy()


def with_descriptor(features: Features, working_image: np.ndarray) -> Features:
    """``features`` with the global descriptor of ``working_image`` in ``embedding`` (unchanged when they have one)."""
    if features.embedding is not None:
        return features
    return replace(features, embedding=global_embedding(working_image))


def cosine_similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Cosine similarity of two descriptors in ``[-1, 1]``; 0 when either is missing or null."""
    if a is None or b is None:
        return 0.0
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape or a.size == 0:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if not (na > 0 and nb > 0) or not (math.isfinite(na) and math.isfinite(nb)):
        return 0.0
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))
