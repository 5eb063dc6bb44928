"""Tag check: does a photo show the word the app asks for?

Two backends behind one :class:`~vision.tagging.base.Tagger` interface: the
offline EfficientNet-Lite0 tagger (:mod:`vision.tagging.local`, the default)
and Clarifai's ``general-image-recognition`` (:mod:`vision.tagging.clarifai`).
:func:`tag_verdict` turns a tagger's answer into the contract's verdict.
"""

from vision.tagging.base import (
    DEFAULT_MIN_CONFIDENCE,
    Concept,
    Tagger,
    TaggerError,
    TagMatch,
    normalise_tag,
    tag_verdict,
)
from vision.tagging.factory import BACKENDS, clarifai_configured, tagger_from_settings

__all__ = [
    "BACKENDS",
    "DEFAULT_MIN_CONFIDENCE",
    "Concept",
    "TagMatch",
    "Tagger",
    "TaggerError",
    "clarifai_configured",
    "normalise_tag",
    "tag_verdict",
    "tagger_from_settings",
]
