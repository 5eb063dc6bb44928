"""The register and verify flows, composed from the pure steps.

The split matters for speed:

* expensive, cacheable: :func:`prepare_photo` (decode + features) and
  :func:`match_features` (kNN search);
* cheap, rerun on every slider move: :func:`evaluate_match` (ratio test,
  homography, plausibility) and the decision.

The fused rule (:mod:`vision.rules.fusion`) also needs each photo's global
descriptor: computed once per photo (``prepare_photo(..., embed=True)``),
stored inside a reference's features at registration, so a verification
computes it for the new photo only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, ImageHeader, decode_image
from vision.matchers.akaze import Features, FeatureSettings, extract_features, features_from_bytes, working_image
from vision.matchers.descriptor import with_descriptor
from vision.matchers.geometry import fit_homography, homography_problems, project_outline, shoelace_area
from vision.matchers.knn import CandidateMatches, knn_match, matched_points, ratio_mask
from vision.matchers.xfeat import extract as xfeat_extract
from vision.profile import Profile
from vision.rules.evidence import MatchEvidence, decide_registration, decide_verification
from vision.rules.fusion import cosine_similarity, decide_fused
from vision.rules.learned_steps import LearnedOutcome, verify_learned

NEEDS_EMBEDDING = ("fused", "learned")
"""Rules that use the photos' global descriptors."""


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
        Milliseconds for ``decode`` and ``features`` (and ``embedding`` when
        the global descriptor was computed: it is then ``features.embedding``).
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
    data: bytes,
    settings: FeatureSettings = FeatureSettings(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    embed: bool = False,
    learned: bool = False,
) -> PreparedPhoto:
    """Decode ``data`` (raises :class:`vision.core.errors.ImageInputError`) and extract features.

    With ``embed`` the global descriptor (fused and learned rules) is computed
    too and kept in ``features.embedding``; with ``learned`` the XFeat
    features too (``features.xfeat``).
    """
    start = time.perf_counter()
    image, header = decode_working(data, settings, limits)
    decode_ms = _ms(start)
    start = time.perf_counter()
    features = extract_features(image, settings)
    photo = PreparedPhoto(image, features, header, {"decode": decode_ms, "features": _ms(start)})
    photo = with_embedding(photo) if embed else photo
    return with_xfeat(photo) if learned else photo


def with_xfeat(photo: PreparedPhoto) -> PreparedPhoto:
    """``photo`` with its XFeat features in ``features.xfeat`` (computed once)."""
    if photo.features.xfeat is not None:
        return photo
    start = time.perf_counter()
    found = xfeat_extract(photo.image)
    timings = {**photo.timings, "xfeat": _ms(start)}
    return replace(photo, features=replace(photo.features, xfeat=found), timings=timings)


def with_embedding(photo: PreparedPhoto) -> PreparedPhoto:
    """``photo`` with its global descriptor in ``features.embedding`` (computed once)."""
    if photo.features.embedding is not None:
        return photo
    start = time.perf_counter()
    features = with_descriptor(photo.features, photo.image)
    return replace(photo, features=features, timings={**photo.timings, "embedding": _ms(start)})


def pair_similarity(pair: PairMatch) -> float | None:
    """Cosine similarity of the pair's global descriptors; None when either lacks one."""
    if pair.ref.embedding is None or pair.query.embedding is None:
        return None
    return cosine_similarity(pair.ref.embedding, pair.query.embedding)


def unreadable_photo(exc: ImageInputError, message: str = v.TAKE_PICTURE_AGAIN) -> v.Verdict:
    """The 400 answer for a photo that cannot be used, with the specific cause."""
    return v.Verdict(400, message, False, str(exc), {"error": type(exc).__name__})


def registration_verdict(photo: PreparedPhoto, thresholds: Profile) -> v.Verdict:
    """The register decision for a decoded photo, with its timings as extras."""
    verdict = decide_registration(photo.features.n_detected, thresholds)
    extra = {**verdict.extra, "timings_ms": photo.timings}
    return v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)


def register_photo(
    data: bytes, thresholds: Profile, limits: DecodeLimits = DEFAULT_LIMITS, *, rule: str | None = None
) -> tuple[v.Verdict, PreparedPhoto | None]:
    """The register flow's decision; a photo that does not decode is ``Take Picture Again``.

    Under the fused and learned rules (``rule``, default ``thresholds.rule``)
    a good photo also gets its global descriptor (and under learned its XFeat
    features), so the features stored with the reference carry them and
    verifications compute them for the new photo only.
    """
    try:
        photo = prepare_photo(data, thresholds.feature_settings, limits)
    except ImageInputError as exc:
        return unreadable_photo(exc), None
    verdict = decide_registration(photo.features.n_detected, thresholds)
    rule = rule or thresholds.rule
    if verdict.result and rule in NEEDS_EMBEDDING:
        photo = with_embedding(photo)
    if verdict.result and rule == "learned":
        photo = with_xfeat(photo)
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


def evaluate_match(pair: PairMatch, thresholds: Profile) -> MatchEvidence:
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
    """A verification's verdict with the evidence and per-stage timings (ms).

    ``rule`` is the rule that decided (``fused`` falls back to ``robust``
    when the reference has no global descriptor and no image to compute it
    from); ``similarity`` the global descriptors' cosine similarity (None
    unless the fused rule ran).  Both are also in ``verdict.extra``.
    """

    verdict: v.Verdict
    evidence: MatchEvidence | None
    timings: dict[str, float]
    query: PreparedPhoto | None = None
    pair: PairMatch | None = None
    rule: str = "robust"
    similarity: float | None = None
    learned: LearnedOutcome | None = None

    def to_json(self) -> dict:
        body = self.verdict.to_json()
        body["timings_ms"] = self.timings
        return body


FUSED_UNAVAILABLE = "a photo has no global descriptor: decided by the robust rule"


def decide_pair(
    pair: PairMatch, thresholds: Profile, rule: str | None = None
) -> tuple[MatchEvidence, v.Verdict, dict[str, float]]:
    """The cheap step: evidence and verdict from cached matches, with its timings.

    ``rule`` (default ``thresholds.rule``) is ``robust`` or ``fused``; the
    fused rule needs both features' ``embedding`` and falls back to
    ``robust`` without them (``extra["fused_unavailable"]`` says so).
    ``extra["rule"]`` names the rule that decided.
    """
    rule = rule or thresholds.rule
    if rule == "learned":  # XFeat from the features when computed (else AKAZE's evidence alone)
        evidence, outcome, timings = decide_learned_pair(pair, None, thresholds)
        return evidence, outcome.verdict, timings
    if rule not in ("robust", "fused"):
        raise ValueError(f"decide_pair decides robust or fused (or learned), got {rule!r}")
    start = time.perf_counter()
    evidence = evaluate_match(pair, thresholds)
    ransac_ms = _ms(start)
    start = time.perf_counter()
    similarity = pair_similarity(pair) if rule == "fused" else None
    if similarity is not None:
        verdict = decide_fused(evidence, similarity, thresholds)
    else:
        verdict = decide_verification(evidence, thresholds)
        extra = {**verdict.extra, "rule": "robust"}
        if rule == "fused":
            extra["fused_unavailable"] = FUSED_UNAVAILABLE
        verdict = v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)
    return evidence, verdict, {"ransac": ransac_ms, "decision": _ms(start)}


def verify_photo(
    ref: Features,
    data: bytes,
    thresholds: Profile,
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    rule: str | None = None,
    ref_image: bytes | None = None,
) -> Verification:
    """The verify flow: a new photo's bytes against a reference's stored features.

    A photo that does not decode is ``Missing Picture`` (400), as the contract says.

    ``rule`` defaults to ``thresholds.rule``.  Under ``fused`` the new
    photo's global descriptor is computed (timing ``embedding``); the
    reference's comes from ``ref.embedding``, else from ``ref_image`` (its
    encoded bytes), else the robust rule decides (``Verification.rule``).
    """
    rule = rule or thresholds.rule
    learned = rule == "learned"
    if rule in NEEDS_EMBEDDING and ref_image is not None and (ref.embedding is None or (learned and ref.xfeat is None)):
        ref = _upgraded_reference(ref, ref_image, thresholds.feature_settings, limits, learned=learned)
    embedded = rule in NEEDS_EMBEDDING and ref.embedding is not None
    fallback = "robust" if rule == "fused" and not embedded else rule
    try:
        query = prepare_photo(data, thresholds.feature_settings, limits, embed=embedded)
    except ImageInputError as exc:
        return Verification(unreadable_photo(exc, v.MISSING_PICTURE), None, {}, rule=fallback)
    pair = match_features(ref, query.features)
    if rule == "learned":
        return _verify_learned(pair, query, thresholds)
    evidence, verdict, decide_ms = decide_pair(pair, thresholds, rule)
    timings = {**query.timings, "match": pair.match_ms, **decide_ms}
    extra = {**verdict.extra, "timings_ms": timings}
    verdict = v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)
    return Verification(verdict, evidence, timings, query, pair, extra.get("rule", "robust"), extra.get("similarity"))


def decide_learned_pair(
    pair: PairMatch, query_image: np.ndarray | None, thresholds: Profile
) -> tuple[MatchEvidence, LearnedOutcome, dict[str, float]]:
    """The learned rule on cached AKAZE matches: AKAZE evidence, then XFeat only if needed (see vision.rules.learned_steps).

    The query's XFeat features come from ``pair.query.xfeat`` when computed, else from ``query_image``.
    """
    start = time.perf_counter()
    evidence = evaluate_match(pair, thresholds)
    timings = {"ransac": _ms(start)}
    similarity = pair_similarity(pair)
    start = time.perf_counter()
    outcome = verify_learned(evidence, similarity, pair.ref.xfeat, query_image, thresholds, pair.query.xfeat)
    # "decision" includes the XFeat tries when AKAZE was not conclusive (also listed on their own)
    return evidence, outcome, {**timings, "decision": _ms(start), **outcome.timings}


def _verify_learned(pair: PairMatch, query: PreparedPhoto, thresholds: Profile) -> Verification:
    evidence, outcome, decide_ms = decide_learned_pair(pair, query.image, thresholds)
    timings = {**query.timings, "match": pair.match_ms, **decide_ms}
    verdict = outcome.verdict
    extra = {**evidence.summary(), **verdict.extra, "timings_ms": timings}
    verdict = v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)
    return Verification(verdict, evidence, timings, query, pair, "learned", outcome.similarity, outcome)


def _upgraded_reference(
    ref: Features, image: bytes, settings: FeatureSettings, limits: DecodeLimits, *, learned: bool
) -> Features:
    """``ref`` with its image's missing global descriptor (and XFeat features when ``learned``).

    Unchanged if the image does not decode.
    """
    try:
        working, _ = decode_working(image, settings, limits)
    except ImageInputError:
        return ref
    ref = with_descriptor(ref, working)
    if learned and ref.xfeat is None:
        ref = replace(ref, xfeat=xfeat_extract(working))
    return ref


def reference_features(
    blob: bytes | None,
    image: bytes | Callable[[], bytes],
    settings: FeatureSettings,
    *,
    embed: bool = False,
    learned: bool = False,
) -> tuple[Features, bool]:
    """Stored features when usable, else recomputed from the reference image.

    Parameters
    ----------
    blob : bytes or None
        The stored features (None when missing).
    image : bytes or callable
        The reference's encoded image, or a function returning it: it is
        only called when the features must be recomputed, so a verification
        with usable stored features never downloads the image.
    settings : FeatureSettings
        Stored features made with other settings are stale.
    embed : bool
        The fused rule: features without the global descriptor get it from
        the image (keypoints kept) and count as recomputed.
    learned : bool
        The learned rule (implies ``embed``): features stored before it
        (without XFeat features) get them from the image on first use.

    Returns
    -------
    features, recomputed : Features, bool
        ``recomputed`` tells the caller to store them back.

    Raises
    ------
    vision.core.errors.ImageInputError
        When the stored image itself does not decode (and whatever the
        ``image`` callable raises).
    """
    load = image if callable(image) else (lambda: image)
    embed = embed or learned
    features = _usable_features(blob, settings)
    if (
        features is not None
        and (not embed or features.embedding is not None)
        and (not learned or features.xfeat is not None)
    ):
        return features, False
    if features is not None:
        working, _ = decode_working(load(), settings)
        if embed:
            features = with_descriptor(features, working)
        if learned and features.xfeat is None:
            features = replace(features, xfeat=xfeat_extract(working))
        return features, True
    return prepare_photo(load(), settings, embed=embed, learned=learned).features, True


def _usable_features(blob: bytes | None, settings: FeatureSettings) -> Features | None:
    """The stored features if they parse and were made with ``settings``."""
    if blob is None:
        return None
    try:
        features = features_from_bytes(blob)
    except ValueError:
        return None
    return features if features.settings == settings else None
