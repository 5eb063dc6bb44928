"""The original note's rule: AKAZE at full resolution, any homography, outline area > 30 px²."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vision.core.errors import ImageInputError
from vision.image.imageio import decode_image
from vision.rules.base import MISSING_PICTURE, MISSING_STD
from vision.rules.evidence import OriginalEvidence, decide_original
from vision.rules.original_evidence import original_evidence

if TYPE_CHECKING:
    from vision.lab.data import LabelledPair
    from vision.lab.scored import ScoredSet
    from vision.profile import Profile


def score_pair(root: Path, pair: LabelledPair) -> tuple[float, str | None, float]:
    """The note's pipeline on one labelled pair: ``(outline area px², error or None, milliseconds)``.

    A module-level function, so a process pool or a Dask worker can run it.
    """
    start = time.perf_counter()
    try:
        ref = decode_image((root / pair.ref).read_bytes()).bgr
        query = decode_image((root / pair.query).read_bytes()).bgr
    except (OSError, ImageInputError) as exc:
        return 0.0, str(exc), 0.0
    return float(gather(ref, query).score), None, (time.perf_counter() - start) * 1000


def gather(ref_bgr: np.ndarray, query_bgr: np.ndarray) -> OriginalEvidence:
    """The note's evidence on two decoded photos (full resolution)."""
    return original_evidence(ref_bgr, query_bgr)


class OriginalRule:
    name = "original"
    label = "original (the note's rule, for comparison)"
    decided_by: Mapping[str, str] = {}
    geometric = False

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        try:
            ref_bgr = decode_image(ref).bgr
        except ImageInputError as exc:
            return {**MISSING_STD, "reason": str(exc), "error": type(exc).__name__}
        try:
            query_bgr = decode_image(query).bgr
        except ImageInputError as exc:
            return {**MISSING_PICTURE, "reason": str(exc), "error": type(exc).__name__}
        body = decide_original(gather(ref_bgr, query_bgr), profile).to_json()
        body["rule"] = self.name
        return body

    def lab_available(self, scored: ScoredSet) -> bool:
        return scored.original_area is not None

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        """The outline area in px²."""
        if scored.original_area is None:
            raise ValueError("this set has no scores for the original rule")
        return scored.original_area

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        return self.lab_scores(scored) > scored.thresholds.original_min_area_px

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.original_min_area_px)


RULE = OriginalRule()
