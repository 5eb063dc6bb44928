"""The original note's rule: AKAZE at full resolution, any homography, outline area > 30 px²."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.core.errors import ImageInputError
from vision.image.imageio import decode_image
from vision.rules.base import Decision, LabScores, Needs, PairInput, PairPaths
from vision.rules.evidence import OriginalEvidence, decide_original
from vision.rules.original_evidence import original_evidence

if TYPE_CHECKING:
    from vision.profile import Profile


def score_pair(root: Path, pair: PairPaths) -> tuple[float, str | None, float]:
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
    label = "original (the note's rule, kept for comparison)"
    decided_by: Mapping[str, str] = {}
    # Scored from its own full-resolution pipeline (ScoredSet.original_area), not the shared geometry.
    geometric = False
    needs = Needs(full_images=True)
    aligns = False  # no working-resolution homography: no replay check after it
    companions: tuple[str, ...] = ()
    score_name = "outline area (px²)"
    thresholds = ("original_min_area_px",)

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> OriginalEvidence:
        """The note's evidence (its AKAZE, 80 best matches, homography) on both full-resolution photos."""
        return gather(*full_images)

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        """The note's decision on both photos at full resolution; no homography for the replay check to align by."""
        timings: dict[str, float] = {}
        evidence = inputs.gathered
        if not isinstance(evidence, OriginalEvidence):
            if inputs.full_images is None:
                raise ValueError("the original rule needs both photos at full resolution (Needs.full_images)")
            start = time.perf_counter()
            evidence = self.gather(inputs.full_images)
            timings["original"] = round((time.perf_counter() - start) * 1000.0, 2)
        verdict = decide_original(evidence, profile).with_extra(rule=self.name)
        return Decision(self.name, verdict, evidence, None, timings)

    def lab_available(self, scored: LabScores) -> bool:
        return scored.original_area is not None

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        """The outline area in px²."""
        if scored.original_area is None:
            raise ValueError("this set has no scores for the original rule")
        return scored.original_area

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        return self.lab_scores(scored) > scored.thresholds.original_min_area_px

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.original_min_area_px)

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        m = max(float(scored.thresholds.original_min_area_px), 1.0)
        return (self.lab_scores(scored) - m) / m

    def lab_reason(self, scored: LabScores, i: int) -> str:
        area, m = float(self.lab_scores(scored)[i]), scored.thresholds.original_min_area_px
        return f"original rule: area {area:.0f} px² {'>' if area > m else '<='} {m:g}"


RULE = OriginalRule()
