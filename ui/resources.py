"""Cached loaders: the expensive steps run once per input, sliders rerun only the cheap step.

``st.cache_data`` keys on the photo bytes and the feature settings, so moving
a decision slider (ratio, RANSAC, inliers, area) reuses decode + features +
kNN matches and only reruns the rule's decision (:func:`vision.flows.verify.decide_matched`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from vision import rules
from vision.core.errors import ImageInputError
from vision.core.settings import load_settings
from vision.core.verdict import Verdict
from vision.flows.prepare import PreparedPhoto, prepare_photo, registration_verdict, unreadable_photo
from vision.flows.references import LoadedReference, load_reference
from vision.image.imageio import decode_image
from vision.matchers.akaze import Features, FeatureSettings, decode_working
from vision.matchers.descriptor import with_descriptor
from vision.profile import Profile
from vision.rules.base import Needs
from vision.rules.evidence import PairMatch, match_features
from vision.store import ReferenceStore, StoreError
from vision.store.factory import store_from_settings
from vision.tagging import Concept, Tagger, clarifai_configured, tagger_from_settings
from vision.views.draw import crop_to_aspect, thumbnail


def app_settings() -> dict[str, str]:
    """Environment merged with ``.streamlit/secrets.toml`` (secrets win): :func:`vision.core.settings.load_settings`."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def reference_store() -> ReferenceStore:
    """The configured store (local folder by default), created once per server."""
    return store_from_settings(app_settings())


def registration(data: bytes, thresholds: Profile) -> tuple[Verdict, PreparedPhoto | None]:
    """Register-flow verdict and photo; decode + features cached, the decision rerun."""
    try:
        photo = prepared(data, thresholds.feature_settings)
    except ImageInputError as exc:
        return unreadable_photo(exc), None
    return registration_verdict(photo, thresholds), photo


@st.cache_data(show_spinner="Extracting features...", max_entries=64)
def prepared(data: bytes, settings: FeatureSettings) -> PreparedPhoto:
    """Decode + features of one photo (raises vision.core.errors.ImageInputError)."""
    return prepare_photo(data, settings)


@st.cache_data(show_spinner="Loading the reference...", max_entries=32)
def stored_reference(key: str, settings: FeatureSettings, needs: Needs = Needs()) -> tuple[LoadedReference, np.ndarray]:
    """A stored reference with its features, and its image at working resolution for drawing.

    The features carry what the rule ``needs`` (computed and saved back when the stored features lack it).
    """
    loaded = load_reference(reference_store(), key, settings, needs)
    return loaded, decode_working(loaded.image, settings)[0]


@st.cache_data(show_spinner="Computing the global descriptor...", max_entries=64)
def embedded(features: Features, image: np.ndarray) -> Features:
    """``features`` with the global descriptor of their working-resolution ``image`` (fused rule)."""
    return with_descriptor(features, image)


@st.cache_data(show_spinner="Computing XFeat features...", max_entries=64)
def with_xfeat(features: Features, image: np.ndarray) -> Features:
    """``features`` with the XFeat features of their working-resolution ``image`` (learned rule)."""
    if features.xfeat is not None:
        return features
    from dataclasses import replace

    from vision.matchers.xfeat import extract

    return replace(features, xfeat=extract(image))


@st.cache_data(show_spinner="Matching...", max_entries=64)
def matches(ref: Features, query: Features) -> PairMatch:
    """kNN matches of two feature sets (the expensive half of verification)."""
    return match_features(ref, query)


@st.cache_data(show_spinner="Working on both photos at full resolution...", max_entries=16)
def gathered(rule: str, ref_data: bytes, query_data: bytes) -> Any:
    """The rule's threshold-free evidence from both photos at full resolution (``Rule.gather``)."""
    return rules.get(rule).gather((decode_image(ref_data).bgr, decode_image(query_data).bgr))


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail_of(key: str) -> np.ndarray | None:
    """RGB thumbnail of a stored reference, or None when its image is unusable."""
    try:
        image, _ = decode_working(reference_store().load_image(key), FeatureSettings(working_side=240))
    except (StoreError, ImageInputError):
        return None
    return thumbnail(image)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_thumbnail(path: str, side: int = 240, resent: str = "") -> np.ndarray:
    """RGB thumbnail of a bundled photo (``path`` under ``samples/``, sent again by ``resent``), cropped to 4:3."""
    from ui.examples import Example

    data = Example(path, "", resent=resent).read()
    image, _ = decode_working(data, FeatureSettings(working_side=side * 2))
    return thumbnail(crop_to_aspect(image, 4 / 3), side)


@st.cache_resource(show_spinner="Loading the tagger...")
def tagger(backend: str) -> Tagger:
    """One tagger per backend per server (the offline model loads once)."""
    return tagger_from_settings(app_settings(), backend)


def clarifai_available() -> bool:
    """Whether a Clarifai token is configured (environment or secrets)."""
    return clarifai_configured(app_settings())


@st.cache_data(show_spinner="Decoding...", max_entries=32)
def decoded(data: bytes) -> np.ndarray:
    """The upright photo (BGR) at up to 1600 px; raises vision.core.errors.ImageInputError."""
    return decode_working(data, FeatureSettings(working_side=1600))[0]


@st.cache_data(show_spinner="Asking the tagger...", max_entries=64)
def concepts(data: bytes, backend: str, top_k: int = 10) -> list[Concept]:
    """Top concepts of a photo; raises TaggerError (not cached) when the backend fails."""
    return tagger(backend).concepts(decoded(data), top_k)
