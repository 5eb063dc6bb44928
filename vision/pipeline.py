"""The register and verify flows, composed from the pure steps.

The split matters for speed:

* expensive, cacheable: :func:`prepare_photo` (decode + features) and
  :func:`match_features` (kNN search);
* cheap, rerun on every slider move: :func:`evaluate_match` (ratio test,
  homography, plausibility) and the decision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from vision import verdict as v
from vision.decision import MatchEvidence, Thresholds, decide_registration, decide_verification
from vision.errors import ImageInputError
from vision.features import FeatureSettings, Features, extract_features, features_from_bytes, working_image
from vision.geometry import fit_homography, homography_problems, project_outline, shoelace_area
from vision.imageio import DEFAULT_LIMITS, DecodeLimits, ImageHeader, decode_image
from vision.matching import CandidateMatches, knn_match, matched_points, ratio_mask


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


@dataclass(frozen=True)
class PreparedPhoto:
    """A decoded photo at working resolution and its features.

    Attributes
    ----------
    image : np.ndarray
        ``(H, W, 3)`` BGR uint8 at working resolution (for drawing).
    features : Features
    header : ImageHeader
        Format and original size.
    timings : dict[str, float]
        Milliseconds for ``decode`` and ``features``.
    """

    image: np.ndarray
    features: Features
    header: ImageHeader
    timings: dict[str, float] = field(default_factory=dict)


def decode_working(
    data: bytes, settings: FeatureSettings = FeatureSettings(), limits: DecodeLimits = DEFAULT_LIMITS
) -> tuple[np.ndarray, ImageHeader]:
    """Decode ``data`` upright and resize it to the working resolution (BGR uint8)."""
    decoded = decode_image(data, max_side=settings.working_side, limits=limits)
    return working_image(decoded.bgr, settings.working_side), decoded.header


def prepare_photo(
    data: bytes, settings: FeatureSettings = FeatureSettings(), limits: DecodeLimits = DEFAULT_LIMITS
) -> PreparedPhoto:
    """Decode ``data`` (raises :class:`vision.errors.ImageInputError`) and extract features."""
    start = time.perf_counter()
    image, header = decode_working(data, settings, limits)
    decode_ms = _ms(start)
    start = time.perf_counter()
    features = extract_features(image, settings)
    return PreparedPhoto(image, features, header, {"decode": decode_ms, "features": _ms(start)})


def unreadable_photo(exc: ImageInputError, message: str = v.TAKE_PICTURE_AGAIN) -> v.Verdict:
    """The 400 answer for a photo that cannot be used, with the specific cause."""
    return v.Verdict(400, message, False, str(exc), {"error": type(exc).__name__})


def registration_verdict(photo: PreparedPhoto, thresholds: Thresholds) -> v.Verdict:
    """The register decision for a decoded photo, with its timings as extras."""
    verdict = decide_registration(photo.features.n_detected, thresholds)
    extra = {**verdict.extra, "timings_ms": photo.timings}
    return v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)


def register_photo(
    data: bytes, thresholds: Thresholds, limits: DecodeLimits = DEFAULT_LIMITS
) -> tuple[v.Verdict, PreparedPhoto | None]:
    """The register flow's decision; a photo that does not decode is ``Take Picture Again``."""
    try:
        photo = prepare_photo(data, thresholds.feature_settings, limits)
    except ImageInputError as exc:
        return unreadable_photo(exc), None
    return registration_verdict(photo, thresholds), photo


@dataclass(frozen=True)
class PairMatch:
    """The expensive half of a verification: both feature sets and their kNN matches."""

    ref: Features
    query: Features
    candidates: CandidateMatches
    match_ms: float = 0.0


def match_features(ref: Features, query: Features) -> PairMatch:
    """kNN-match two feature sets (cache the result; see :func:`evaluate_match`)."""
    start = time.perf_counter()
    candidates = knn_match(ref, query)
    return PairMatch(ref, query, candidates, _ms(start))


def evaluate_match(pair: PairMatch, thresholds: Thresholds) -> MatchEvidence:
    """Ratio test, homography and plausibility checks on cached matches (the cheap step)."""
    tentative = ratio_mask(pair.candidates, thresholds.ratio) if len(pair.candidates) else np.zeros(0, bool)
    src, dst = matched_points(pair.ref, pair.query, pair.candidates, tentative)
    fit = fit_homography(src, dst, thresholds.ransac_method, thresholds.ransac_reproj_px)
    inliers = np.zeros_like(tentative)
    inliers[np.flatnonzero(tentative)] = fit.inliers
    outline, area_fraction, problems = None, 0.0, []
    if fit.H is not None:
        problems = homography_problems(fit.H, pair.ref.image_size, pair.query.image_size)
        outline = project_outline(fit.H, pair.ref.image_size)
        frame = pair.query.image_size[0] * pair.query.image_size[1]
        area_fraction = max(shoelace_area(outline), 0.0) / frame if np.all(np.isfinite(outline)) else 0.0
    return MatchEvidence(
        n_ref_keypoints=pair.ref.n_detected,
        n_query_keypoints=pair.query.n_detected,
        n_candidates=len(pair.candidates),
        tentative=tentative,
        inliers=inliers,
        H=fit.H,
        outline=outline,
        area_fraction=area_fraction,
        problems=problems,
    )


@dataclass(frozen=True)
class Verification:
    """A verification's verdict with the evidence and per-stage timings (ms)."""

    verdict: v.Verdict
    evidence: MatchEvidence | None
    timings: dict[str, float]
    query: PreparedPhoto | None = None
    pair: PairMatch | None = None

    def to_json(self) -> dict:
        body = self.verdict.to_json()
        body["timings_ms"] = self.timings
        return body


def decide_pair(pair: PairMatch, thresholds: Thresholds) -> tuple[MatchEvidence, v.Verdict, dict[str, float]]:
    """The cheap step: evidence and verdict from cached matches, with its timings."""
    start = time.perf_counter()
    evidence = evaluate_match(pair, thresholds)
    ransac_ms = _ms(start)
    start = time.perf_counter()
    verdict = decide_verification(evidence, thresholds)
    return evidence, verdict, {"ransac": ransac_ms, "decision": _ms(start)}


def verify_photo(
    ref: Features, data: bytes, thresholds: Thresholds, limits: DecodeLimits = DEFAULT_LIMITS
) -> Verification:
    """The verify flow: a new photo's bytes against a reference's stored features.

    A photo that does not decode is ``Missing Picture`` (400), as the contract says.
    """
    try:
        query = prepare_photo(data, thresholds.feature_settings, limits)
    except ImageInputError as exc:
        return Verification(unreadable_photo(exc, v.MISSING_PICTURE), None, {})
    pair = match_features(ref, query.features)
    evidence, verdict, decide_ms = decide_pair(pair, thresholds)
    timings = {**query.timings, "match": pair.match_ms, **decide_ms}
    extra = {**verdict.extra, "timings_ms": timings}
    verdict = v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)
    return Verification(verdict, evidence, timings, query, pair)


def reference_features(blob: bytes | None, image: bytes, settings: FeatureSettings) -> tuple[Features, bool]:
    """Stored features when usable, else recomputed from the reference image.

    Returns the features and whether they were recomputed (the caller may
    store them back).  Raises :class:`vision.errors.ImageInputError` when the
    stored image itself does not decode.
    """
    if blob is not None:
        try:
            features = features_from_bytes(blob)
        except ValueError:
            features = None
        if features is not None and features.settings == settings:
            return features, False
    return prepare_photo(image, settings).features, True
