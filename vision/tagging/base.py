"""The tagger interface, tag normalisation and the tag flow's contract verdict.

A tagger answers two questions about a BGR photo: which concepts it shows
(:meth:`Tagger.concepts`) and whether a given tag is among them with enough
confidence (:meth:`Tagger.match`).  :func:`tag_verdict` turns the second into
the contract answer of ``POST /auth/tag``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from vision.core.errors import VisionError
from vision.core.verdict import CLARIFAI_API_FAULT, MATCHED, NO_TAG, NOT_MATCHED, Verdict

DEFAULT_MIN_CONFIDENCE = 0.2
"""Default confidence a concept needs for a tag to match (a profile may override it)."""

VERDICT_CONCEPTS = 5
"""How many top concepts a verdict carries in ``extra["concepts"]``."""


@dataclass(frozen=True)
class Concept:
    """One concept a tagger sees in a photo.

    Attributes
    ----------
    name : str
        Human-readable concept name ("golden retriever", "dog").
    score : float
        Confidence in [0, 1].
    """

    name: str
    score: float

    def to_dict(self) -> dict[str, float | str]:
        """JSON-safe form, score rounded to 4 decimals."""
        return {"name": self.name, "score": round(float(self.score), 4)}


@dataclass(frozen=True)
class TagMatch:
    """Whether a tag was found, and which concept decided.

    Attributes
    ----------
    tag : str
        The tag as asked (stripped).
    matched : bool
        True when ``score >= min_confidence``.
    concept : str or None
        The concept that decided (the best one matching the tag), None when
        no concept of the tagger's vocabulary matches the tag at all.
    score : float
        That concept's confidence (0.0 when ``concept`` is None).
    concepts : list of Concept
        The photo's top concepts, best first, for display.
    """

    tag: str
    matched: bool
    concept: str | None
    score: float
    concepts: list[Concept] = field(default_factory=list)


class TaggerError(VisionError):
    """A tagging backend failed (transport, authentication, quota, model error).

    Parameters
    ----------
    cause : str
        Specific, user-presentable cause; it never contains credentials.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@runtime_checkable
class Tagger(Protocol):
    """What every tagging backend offers."""

    name: str

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        """Top concepts of a BGR uint8 photo, best first."""
        ...

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        """Whether ``tag`` is shown in the photo with at least ``min_confidence``."""
        ...


# Plural -> singular for words the suffix rules below get wrong.
_IRREGULAR = {
    "people": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "oxen": "ox",
    "knives": "knife",
    "leaves": "leaf",
    "wolves": "wolf",
    "shelves": "shelf",
    "loaves": "loaf",
    "calves": "calf",
    "halves": "half",
    "scarves": "scarf",
    "cacti": "cactus",
    "fungi": "fungus",
    "buses": "bus",
    "lenses": "lens",
    "potatoes": "potato",
    "tomatoes": "tomato",
    "mangoes": "mango",
    "heroes": "hero",
    "volcanoes": "volcano",
    "mosquitoes": "mosquito",
    "torpedoes": "torpedo",
    "dominoes": "domino",
    "echoes": "echo",
    "buffaloes": "buffalo",
}
# Words ending in "s" that are singular (or have no other form).
_INVARIANT = {
    "lens",
    "species",
    "series",
    "news",
    "gas",
    "chaos",
    "canvas",
    "atlas",
    "bias",
    "christmas",
    "chassis",
    "corps",
    "means",
    "mathematics",
    "physics",
}
# Singulars ending in "ie", whose "-ies" plural must not become "-y" (cookies -> cookie).
_IE_SINGULARS = {
    "tie",
    "bowtie",
    "pie",
    "magpie",
    "potpie",
    "collie",
    "cookie",
    "movie",
    "zombie",
    "brownie",
    "hoodie",
    "smoothie",
    "selfie",
    "calorie",
    "rookie",
    "goalie",
    "kelpie",
    "scottie",
    "genie",
    "hippie",
    "birdie",
    "budgie",
}
_SINGULAR_S_ENDINGS = ("ss", "us", "is", "ous", "'s")
_ES_ENDINGS = ("sses", "xes", "zzes", "ches", "shes")
_SEPARATORS = re.compile(r"[\s_\-]+")


def _singular(word: str) -> str:
    """Singular of one lower-case English word (rule-based, see :func:`normalise_tag`)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word in _INVARIANT or not word.endswith("s"):
        return word
    if word.endswith(_SINGULAR_S_ENDINGS):
        return word
    if word.endswith("ies"):
        if word[:-1] in _IE_SINGULARS:
            return word[:-1]
        return word[:-3] + "y"
    if word.endswith(_ES_ENDINGS):
        return word[:-2]
    return word[:-1]


def normalise_tag(word: str) -> str:
    """Canonical form of a tag or concept name for comparison.

    Lower-cases, treats runs of spaces, underscores and hyphens as one space,
    strips, and makes the last word singular ("Dogs" -> "dog", "boxes" ->
    "box", "coffee mugs" -> "coffee mug", "bus" and "glass" stay).  The same
    function is applied to both sides of every comparison, so a rule that is
    imperfect for a rare word still matches that word with itself.  Note
    "glasses" becomes "glass": it then matches both drinking glasses and
    (through WordNet's "glasses" = spectacles, an ancestor of sunglasses)
    eyewear.

    Parameters
    ----------
    word : str
        A tag typed by a user, or a concept name.

    Returns
    -------
    str
        The normalised form ("" for a blank input).
    """
    words = _SEPARATORS.sub(" ", word.strip().lower()).strip().split(" ")
    if words == [""]:
        return ""
    words[-1] = _singular(words[-1])
    return " ".join(words)


def tag_verdict(
    tagger: Tagger, image_bgr: np.ndarray, tag: str | None, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> Verdict:
    """The tag flow's contract answer for one photo.

    Parameters
    ----------
    tagger : Tagger
        Backend to ask.
    image_bgr : np.ndarray
        H x W x 3 uint8 BGR photo (as decoded by OpenCV).
    tag : str or None
        The word the client asks for.
    min_confidence : float
        Confidence the deciding concept needs.

    Returns
    -------
    Verdict
        400 "No Tag" for a missing or blank tag; 500 "Clarifai Api Fault"
        with the cause as ``reason`` when the backend fails; otherwise 200
        "Matched" (True) or "Not Matched" (False) with the deciding concept
        and score in ``reason`` and the top concepts in ``extra``.
    """
    if tag is None or not tag.strip():
        return Verdict(400, NO_TAG, False, reason="the request has no tag word")
    try:
        found = tagger.match(image_bgr, tag.strip(), min_confidence)
    except TaggerError as exc:
        return Verdict(
            500, CLARIFAI_API_FAULT, False, reason=f"{tagger.name} tagger: {exc.cause}", extra={"backend": tagger.name}
        )
    extra = {
        "backend": tagger.name,
        "tag": found.tag,
        "concept": found.concept,
        "score": round(float(found.score), 4),
        "min_confidence": min_confidence,
        "concepts": [c.to_dict() for c in found.concepts[:VERDICT_CONCEPTS]],
    }
    if found.matched:
        return Verdict(200, MATCHED, True, reason=_reason(found, min_confidence), extra=extra)
    return Verdict(200, NOT_MATCHED, False, reason=_reason(found, min_confidence), extra=extra)


def _reason(found: TagMatch, min_confidence: float) -> str:
    """One sentence naming the deciding concept, its score and the threshold."""
    if found.concept is None:
        best = f"; top concept: {found.concepts[0].name} {found.concepts[0].score:.2f}" if found.concepts else ""
        return f"no concept matches '{found.tag}'{best}"
    cmp = ">=" if found.matched else "<"
    return f"'{found.tag}' decided by concept '{found.concept}' {found.score:.2f} {cmp} {min_confidence:.2f}"
