"""The one fake tagger of the tests: answers from a fixed concept table (no model, no network)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from vision.tagging.base import Concept, TagMatch, normalise_tag


class FakeTagger:
    """A :class:`vision.tagging.base.Tagger` with fixed concepts.

    Parameters
    ----------
    concepts : mapping of name to score, or a sequence of Concept
        What every photo shows (default: dog 0.9, grass 0.4).
    error : Exception, optional
        Raised by ``concepts`` and ``match`` instead of answering (``fail`` is the same).
    delay_s : float
        Sleep in ``match`` (a slow backend).

    ``match`` compares normalised names (``Dogs`` matches ``dog``), as the real taggers do,
    and counts its calls and the image shapes it was given.
    """

    name = "fake"

    def __init__(
        self,
        concepts: Mapping[str, float] | Sequence[Concept] | None = None,
        error: Exception | None = None,
        *,
        fail: Exception | None = None,
        delay_s: float = 0.0,
    ) -> None:
        if concepts is None:
            concepts = {"dog": 0.9, "grass": 0.4}
        found = [Concept(n, s) for n, s in concepts.items()] if isinstance(concepts, Mapping) else list(concepts)
        self.found = sorted(found, key=lambda c: -c.score)
        self.fail = error or fail
        self.delay_s = delay_s
        self.calls = 0
        self.shapes: list[tuple[int, ...]] = []

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        if self.fail is not None:
            raise self.fail
        return self.found[:top_k]

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        self.calls += 1
        self.shapes.append(tuple(image_bgr.shape))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        same = [c for c in self.found if normalise_tag(c.name) == normalise_tag(tag)]
        if not same:
            return TagMatch(tag, False, None, 0.0, self.found)
        return TagMatch(tag, same[0].score >= min_confidence, same[0].name, same[0].score, self.found)
