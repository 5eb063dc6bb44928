"""Prepare photos for a rule: decode, AKAZE features, and what the rule's :class:`~vision.rules.base.Needs` ask.

Expensive and cacheable: :func:`prepare_photo` (decode + features, plus the
global descriptor and XFeat features when a rule needs them).  A reference's
features are stored with it at registration, so a verification computes only
the new photo's (:func:`reference_features` upgrades features stored before a
rule needed more).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, ImageHeader
from vision.matchers.akaze import Features, FeatureSettings, decode_working, extract_features, features_from_bytes
from vision.matchers.aliked import extract as aliked_extract
from vision.matchers.descriptor import with_descriptor
from vision.matchers.xfeat import extract as xfeat_extract
from vision.profile import Profile
from vision.rules.base import Needs
from vision.rules.evidence import decide_registration


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


def prepare_photo(
    data: bytes,
    settings: FeatureSettings = FeatureSettings(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    needs: Needs = Needs(),
) -> PreparedPhoto:
    """Decode ``data`` (raises :class:`vision.core.errors.ImageInputError`) and extract AKAZE features.

    With ``needs`` (a rule's :class:`~vision.rules.base.Needs`) the global
    descriptor (``features.embedding``) and XFeat features (``features.xfeat``)
    are computed too.
    """
    start = time.perf_counter()
    image, header = decode_working(data, settings, limits)
    decode_ms = _ms(start)
    start = time.perf_counter()
    features = extract_features(image, settings)
    photo = PreparedPhoto(image, features, header, {"decode": decode_ms, "features": _ms(start)})
    return with_needs(photo, needs)


def with_xfeat(photo: PreparedPhoto) -> PreparedPhoto:
    """``photo`` with its XFeat features in ``features.xfeat`` (computed once)."""
    if photo.features.xfeat is not None:
        return photo
    start = time.perf_counter()
    found = xfeat_extract(photo.image)
    timings = {**photo.timings, "xfeat": _ms(start)}
    return replace(photo, features=replace(photo.features, xfeat=found), timings=timings)


def with_aliked(photo: PreparedPhoto) -> PreparedPhoto:
    """``photo`` with its ALIKED features in ``features.aliked`` (computed once, on the working image)."""
    if photo.features.aliked is not None:
        return photo
    start = time.perf_counter()
    found = aliked_extract(photo.image)
    timings = {**photo.timings, "aliked": _ms(start)}
    return replace(photo, features=replace(photo.features, aliked=found), timings=timings)


def with_embedding(photo: PreparedPhoto) -> PreparedPhoto:
    """``photo`` with its global descriptor in ``features.embedding`` (computed once)."""
    if photo.features.embedding is not None:
        return photo
    start = time.perf_counter()
    features = with_descriptor(photo.features, photo.image)
    return replace(photo, features=features, timings={**photo.timings, "embedding": _ms(start)})


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
    if verdict.result:
        photo = with_needs(photo, rules.get(rule or thresholds.rule).needs)
    return registration_verdict(photo, thresholds), photo


def with_needs(photo: PreparedPhoto, needs: Needs) -> PreparedPhoto:
    """``photo`` with what ``needs`` ask for its features (global descriptor, XFeat, ALIKED), each computed once."""
    photo = with_embedding(photo) if needs.embedding or needs.xfeat else photo
    photo = with_xfeat(photo) if needs.xfeat else photo
    return with_aliked(photo) if needs.aliked else photo


def lacks(features: Features, needs: Needs) -> bool:
    """Whether ``features`` miss something ``needs`` ask for (a global descriptor, XFeat or ALIKED features)."""
    embed = needs.embedding or needs.xfeat
    return (
        (embed and features.embedding is None)
        or (needs.xfeat and features.xfeat is None)
        or (needs.aliked and features.aliked is None)
    )


def upgraded_reference(
    ref: Features, image: bytes, settings: FeatureSettings, limits: DecodeLimits, needs: Needs
) -> Features:
    """``ref`` with what ``needs`` ask for and it lacks, from its encoded ``image``; unchanged if that does not decode."""
    if not lacks(ref, needs):
        return ref
    try:
        working, _ = decode_working(image, settings, limits)
    except ImageInputError:
        return ref
    return _completed(ref, working, needs)


def _completed(features: Features, working: np.ndarray, needs: Needs) -> Features:
    if needs.embedding or needs.xfeat:
        features = with_descriptor(features, working)
    if needs.xfeat and features.xfeat is None:
        features = replace(features, xfeat=xfeat_extract(working))
    if needs.aliked and features.aliked is None:
        features = replace(features, aliked=aliked_extract(working))
    return features


def reference_features(
    blob: bytes | None,
    image: bytes | Callable[[], bytes],
    settings: FeatureSettings,
    needs: Needs = Needs(),
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
    needs : Needs
        What the rule needs (:attr:`vision.rules.base.Rule.needs`): features
        stored without a global descriptor or XFeat features it needs get
        them from the image (keypoints kept) and count as recomputed.

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
    features = _usable_features(blob, settings)
    if features is not None and not lacks(features, needs):
        return features, False
    if features is not None:
        working, _ = decode_working(load(), settings)
        return _completed(features, working, needs), True
    return with_needs(prepare_photo(load(), settings), needs).features, True


def _usable_features(blob: bytes | None, settings: FeatureSettings) -> Features | None:
    """The stored features if they parse and were made with ``settings``."""
    if blob is None:
        return None
    try:
        features = features_from_bytes(blob)
    except ValueError:
        return None
    return features if features.settings == settings else None
