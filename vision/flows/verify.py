"""The verify flow: one dispatch through ``rules.get``, then the replay step, once.

Every caller verifies here: the API (:mod:`vision.service.verify`), the CLI
(:func:`verify_pair_bytes`), the Verify and Demo pages and the lab's parity
test.  The flow prepares both photos as the rule's
:class:`~vision.rules.base.Needs` say, matches their AKAZE features once,
asks the rule to decide, and hands an accepted photo to the replay check
(:func:`replay_step`), aligned by the rule's own homography.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import PreparedPhoto, prepare_photo, unreadable_photo, upgraded_reference, with_needs
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_image
from vision.matchers.akaze import Features
from vision.profile import Profile
from vision.replay.memory import (
    ReplayOutcome,
    apply_replay_rule,
    check_against_reference,
    verification_alignment,
    with_replay_verdict,
)
from vision.rules.base import MISSING_PICTURE, MISSING_STD, Decision, Needs, PairInput
from vision.rules.evidence import MatchEvidence, PairMatch, match_features
from vision.store.base import ReferenceRecord, ReferenceStore

__all__ = [
    "ReferenceOnly",
    "StoredMemory",
    "Verification",
    "decide_matched",
    "replay_step",
    "verify_pair_bytes",
    "verify_photo",
]

Gate = Callable[[], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class Verification:
    """A verification's verdict with the deciding rule's evidence and per-stage timings (ms).

    Attributes
    ----------
    verdict : Verdict
        ``extra`` has ``rule`` (the rule that decided) and ``timings_ms``.
    decision : Decision or None
        What the rule returned (None when a photo could not be used).
    timings : dict[str, float]
        Each stage once: the new photo's ``decode``, ``features`` (and what
        the rule needed), ``match``, then the rule's own stages.
    query : PreparedPhoto or None
    pair : PairMatch or None
    replay : ReplayOutcome or None
        The replay check's outcome once :func:`replay_step` ran it.
    """

    verdict: v.Verdict
    decision: Decision | None
    timings: dict[str, float]
    query: PreparedPhoto | None = None
    pair: PairMatch | None = None
    replay: ReplayOutcome | None = None

    @property
    def rule(self) -> str:
        """The rule that decided (``fused`` without global descriptors: ``robust``)."""
        return str(self.verdict.extra.get("rule", ""))

    @property
    def evidence(self) -> Any:
        """The AKAZE :class:`MatchEvidence` the verdict rests on, else the rule's own evidence (None: undecided)."""
        if self.decision is None:
            return None
        return self.decision.alignment if self.decision.alignment is not None else self.decision.evidence

    @property
    def alignment(self) -> MatchEvidence | None:
        """The AKAZE evidence the replay check aligns by (None: the rule has none)."""
        return None if self.decision is None else self.decision.alignment

    @property
    def similarity(self) -> float | None:
        """The global descriptors' cosine as the verdict states it (``extra["similarity"]``), None unless used."""
        value = self.verdict.extra.get("similarity")
        return None if value is None else float(value)

    def to_json(self) -> dict[str, Any]:
        body = self.verdict.to_json()
        body["timings_ms"] = self.timings
        return body


def _failed(verdict: v.Verdict, rule: str) -> Verification:
    return Verification(verdict.with_extra(rule=rule), None, {})


def verify_photo(
    ref: Features,
    data: bytes,
    thresholds: Profile,
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    rule: str | None = None,
    ref_image: bytes | None = None,
    query: PreparedPhoto | None = None,
) -> Verification:
    """A new photo's bytes against a reference's features, decided by ``rules.get(rule or thresholds.rule)``.

    Parameters
    ----------
    ref : Features
        The reference's stored features.  What the rule needs and they lack
        (a global descriptor, XFeat features) is computed from ``ref_image``
        when given; without it a rule decides on what there is (the fused rule
        falls back to robust, and says so).
    data : bytes
        The new photo, encoded.  One that does not decode is ``400 Missing Picture``.
    ref_image : bytes, optional
        The reference's encoded photo (required by a rule that needs full-resolution images).
    query : PreparedPhoto, optional
        The new photo already prepared from ``data`` (a page caches it); its
        missing needs are still computed.
    """
    chosen = rules.get(rule or thresholds.rule)
    needs = chosen.needs
    settings = thresholds.feature_settings
    if ref_image is not None:
        ref = upgraded_reference(ref, ref_image, settings, limits, needs)
    # A reference without a descriptor makes the query's useless: compute it only when both can have one.
    query_needs = Needs(embedding=needs.embedding and ref.embedding is not None)
    try:
        photo = query if query is not None else prepare_photo(data, settings, limits)
        photo = with_needs(photo, query_needs)
    except ImageInputError as exc:
        return _failed(unreadable_photo(exc, v.MISSING_PICTURE), chosen.name)
    full: tuple[np.ndarray, np.ndarray] | None = None
    if needs.full_images:
        if ref_image is None:
            reason = f"the {chosen.name} rule needs the reference photo itself, not only its features"
            return _failed(v.Verdict(500, v.MISSING_STD_PICTURE, False, reason), chosen.name)
        try:
            ref_full = decode_image(ref_image, limits=limits).bgr
        except ImageInputError as exc:
            reason = f"the reference photo does not load: {exc}"
            return _failed(
                v.Verdict(500, v.MISSING_STD_PICTURE, False, reason, {"error": type(exc).__name__}), chosen.name
            )
        try:
            full = (ref_full, decode_image(data, limits=limits).bgr)
        except ImageInputError as exc:
            return _failed(unreadable_photo(exc, v.MISSING_PICTURE), chosen.name)
    return decide_matched(match_features(ref, photo.features), photo, thresholds, rule=chosen.name, full_images=full)


def decide_matched(
    pair: PairMatch,
    query: PreparedPhoto | np.ndarray,
    thresholds: Profile,
    *,
    rule: str | None = None,
    full_images: tuple[np.ndarray, np.ndarray] | None = None,
    gathered: Any = None,
) -> Verification:
    """The rule's verdict on matches already made (:func:`verify_photo`'s last step; pages call it per slider move).

    ``pair`` carries both photos' features with what the rule needs;
    ``query`` is the new photo as prepared (its image and timings), or only
    its ``(H, W, 3)`` working image (the lab's cached pairs: no timings, and
    no replay step can follow);
    ``full_images`` or ``gathered`` (see :class:`~vision.rules.base.PairInput`)
    feed a rule that decides on full-resolution photos.
    """
    chosen = rules.get(rule or thresholds.rule)
    photo = query if isinstance(query, PreparedPhoto) else None
    image: np.ndarray = query.image if isinstance(query, PreparedPhoto) else query
    decision = chosen.decide(PairInput(pair, image, full_images, gathered), thresholds)
    timings = {**(photo.timings if photo else {}), "match": pair.match_ms, **decision.timings}
    verdict = decision.verdict.with_extra(timings_ms=timings)
    return Verification(verdict, decision, timings, photo, pair)


# -- the replay step -------------------------------------------------------------------


@dataclass(frozen=True)
class StoredMemory:
    """The API's replay memory: the user's reference and remembered proofs in the store.

    ``others``: the habit's other references (record, features), each checked as a photo the new
    one may not repeat.
    """

    store: ReferenceStore
    record: ReferenceRecord
    gate: Gate = contextlib.nullcontext
    others: tuple[tuple[ReferenceRecord, Features], ...] = ()


@dataclass(frozen=True)
class ReferenceOnly:
    """The CLI's and the dashboard's replay check: the new photo against the reference photo only.

    ``image`` is the reference's ``(H, W, 3)`` BGR uint8 working image.
    """

    image: np.ndarray


def replay_step(
    verification: Verification, ref: Features, thresholds: Profile, memory: StoredMemory | ReferenceOnly
) -> Verification:
    """The replay check on an accepted verification (a replay becomes ``200 You took wrong picture``).

    It runs only when the rule accepted and has a homography to align the
    photos by; otherwise the verdict gains ``replay: false`` and nothing is
    checked.  With a :class:`StoredMemory` a genuine photo is remembered as a
    proof (``thresholds.replay_keep`` per user).
    """
    query, alignment_evidence = verification.query, verification.alignment
    if not verification.verdict.result or query is None or alignment_evidence is None:
        return replace(verification, verdict=verification.verdict.with_extra(replay=False))
    alignment = verification_alignment(alignment_evidence, ref)
    if isinstance(memory, StoredMemory):
        outcome = apply_replay_rule(
            memory.store,
            memory.record,
            ref,
            query.image,
            query.features,
            thresholds,
            memory.gate,
            alignment,
            others=memory.others,
        )
    else:
        outcome = check_against_reference(memory.image, ref, query.image, query.features, thresholds, alignment)
    return replace(verification, verdict=with_replay_verdict(verification.verdict, outcome), replay=outcome)


def verify_pair_bytes(ref_bytes: bytes, query_bytes: bytes, profile: Profile, rule: str | None = None) -> dict:
    """Two encoded photos, decided by the rule and checked for a replay: the CLI's JSON body with timings.

    The reference is prepared as the rule needs (``ref_`` timings), then
    :func:`verify_photo` and :func:`replay_step` against it, as the API does.
    """
    chosen = rules.get(rule or profile.rule)
    try:
        ref = prepare_photo(ref_bytes, profile.feature_settings, needs=chosen.needs)
    except ImageInputError as exc:
        return {**MISSING_STD, "reason": str(exc), "error": type(exc).__name__, "rule": chosen.name}
    result = verify_photo(ref.features, query_bytes, profile, rule=chosen.name, ref_image=ref_bytes)
    if result.decision is None and result.verdict.message == v.MISSING_PICTURE:
        body = {**MISSING_PICTURE, **result.verdict.to_json()}
    else:
        result = replay_step(result, ref.features, profile, ReferenceOnly(ref.image))
        body = result.verdict.to_json()
    body["timings_ms"] = {"ref_" + k: val for k, val in ref.timings.items()} | result.timings
    body["rule"] = result.rule
    return body
