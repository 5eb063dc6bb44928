"""Habits: several references per user and habit, verified most similar first, every verdict in a history.

A habit is a short name (``[a-z0-9_-]``, 1-32 characters, default ``"default"``).  Its references
live in the store under the habit's *owner* id (:func:`habit_owner`): the user id itself for
``"default"``, else ``"<user>@@<habit>"``; so the replay proofs, the retention of references and the
history are per habit with no change to either store.  A request without a ``habit`` field keeps
today's flow (:mod:`vision.service.verify`: the latest reference only); with one, the verify flow is
:func:`verify_habit_bytes`: every reference of the habit (at most ``max_refs``), most similar first
by the global descriptor, each through :func:`vision.flows.verify.verify_photo` (the one dispatch),
stopping at the first acceptance, whose key is ``matched_reference``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import PreparedPhoto, prepare_photo, with_embedding
from vision.flows.references import stored_features, stored_photo
from vision.flows.verify import StoredMemory, Verification, replay_step, verify_photo
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, read_header
from vision.matchers.akaze import Features
from vision.matchers.descriptor import cosine_similarity
from vision.profile import Profile
from vision.service.common import Gate, describe_user_id, no_gate
from vision.store.base import ReferenceNotFoundError, ReferenceRecord, ReferenceStore, StoreError
from vision.store.history import HistoryEntry, history_log
from vision.store.ids import MAX_USER_ID_LENGTH, validate_client_user_id

__all__ = [
    "DEFAULT_HABIT",
    "DEFAULT_MAX_REFERENCES",
    "HabitError",
    "HabitResult",
    "check_habit",
    "habit_owner",
    "habit_references",
    "history_record",
    "profile_hash",
    "remember",
    "remove_habit_reference",
    "verify_habit",
    "verify_habit_bytes",
]

log = logging.getLogger("vision.service")

DEFAULT_HABIT = "default"
DEFAULT_MAX_REFERENCES = 3
SEPARATOR = "@@"
_HABIT = re.compile(r"[a-z0-9_-]{1,32}")


class HabitError(ValueError):
    """A habit name or a user id that cannot own a habit (the message says which rule failed)."""


def check_habit(habit: object) -> str:
    """The habit name (None means ``"default"``), or :class:`HabitError` naming the rule."""
    if habit is None:
        return DEFAULT_HABIT
    if not isinstance(habit, str):
        raise HabitError(f"'habit' must be a string, got {type(habit).__name__}")
    if not _HABIT.fullmatch(habit):
        raise HabitError("'habit' is 1-32 characters of a-z 0-9 _ -")
    return habit


def habit_owner(user_id: str, habit: str) -> str:
    """The store id of ``user_id``'s ``habit``: the user id for ``"default"``, else ``"<user>@@<habit>"``.

    When that would pass 64 characters it is ``"@@"`` and 40 hex digits of the pair's SHA-256.
    Raises :class:`HabitError` when the user id already contains the separator (it would reach
    another user's habit).
    """
    habit = check_habit(habit)
    if SEPARATOR in user_id:
        raise HabitError(f"a user id with habits may not contain {SEPARATOR!r}")
    if habit == DEFAULT_HABIT:
        return user_id
    owner = f"{user_id}{SEPARATOR}{habit}"
    if len(owner) > MAX_USER_ID_LENGTH:  # too long to read: a digest of both, still a valid store id
        owner = SEPARATOR + hashlib.sha256(f"{user_id}\0{habit}".encode()).hexdigest()[:40]
    return owner


def profile_hash(thresholds: Profile) -> str:
    """12 hex digits of the profile's SHA-256: which thresholds decided (the history's ``profile``)."""
    text = json.dumps(thresholds.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _ranked(
    refs: list[tuple[ReferenceRecord, Features]], query_embedding: Any
) -> list[tuple[ReferenceRecord, Features]]:
    """Most similar first by the global descriptors' cosine; newest first where a descriptor is missing."""
    if query_embedding is None or any(f.embedding is None for _, f in refs):
        return refs
    return sorted(refs, key=lambda rf: -cosine_similarity(rf[1].embedding, query_embedding))


def _load(store: ReferenceStore, records: list[ReferenceRecord], thresholds: Profile) -> list[tuple[Any, Any]]:
    """The references' usable features; one that no longer loads is logged and left out."""
    needs = rules.get(thresholds.rule).needs
    loaded = []
    for record in records:
        try:
            features, _ = stored_features(store, record.key, thresholds.feature_settings, needs)
        except (StoreError, ImageInputError) as exc:
            log.warning("habit reference %s does not load: %s", record.key, exc)
            continue
        loaded.append((record, features))
    return loaded


@dataclass(frozen=True)
class HabitResult:
    """A habit verification: its verdict and the new photo as prepared (None when it never was)."""

    verdict: v.Verdict
    query: PreparedPhoto | None = None

    def proof_photo(self, data: bytes) -> bytes | None:
        """The proof photo as the history keeps it: re-encoded as references are (working size, no metadata)."""
        return None if self.query is None else stored_photo(data, self.query).data


def verify_habit_bytes(
    store: ReferenceStore,
    data: bytes,
    owner: str,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    max_refs: int = DEFAULT_MAX_REFERENCES,
) -> v.Verdict:
    """The verdict of :func:`verify_habit`."""
    return verify_habit(store, data, owner, thresholds, limits, gate=gate, max_refs=max_refs).verdict


def verify_habit(
    store: ReferenceStore,
    data: bytes,
    owner: str,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    max_refs: int = DEFAULT_MAX_REFERENCES,
) -> HabitResult:
    """Verify ``data`` against the habit's references (``owner``: :func:`habit_owner`).

    The new photo is prepared once; the references (newest ``max_refs``) are tried most similar
    first, each by :func:`verify_photo`; the first acceptance goes through the replay step against
    its reference, the habit's other references and its proofs.  Answers as :func:`vision.service.verify.verify_bytes`,
    plus ``matched_reference`` (the accepted reference's key, None when none accepted) and
    ``references_tried``.  A rejection reports the most similar reference's verdict.
    """

    def refused(status: int, message: str, reason: str) -> HabitResult:
        return HabitResult(v.Verdict(status, message, False, reason, {"replay": False}))

    try:  # outside the CPU gate (bounded by the body cap: ms): a hostile photo never waits for a slot (issue 22)
        read_header(data, limits)
    except ImageInputError as exc:
        return refused(400, v.MISSING_PICTURE, str(exc))
    try:
        records = store.list(owner)[:max_refs]
    except StoreError as exc:
        log.error("verify %s: cannot list the habit's references: %s", describe_user_id(owner), exc)
        return refused(500, v.MISSING_STD_PICTURE, "the habit's references cannot be read")
    if not records:
        return refused(400, v.NO_STD_IMG, "this habit has no reference photo")
    refs = _load(store, records, thresholds)
    if not refs:
        return refused(500, v.MISSING_STD_PICTURE, "no reference of the habit loads")
    needs = rules.get(thresholds.rule).needs
    try:
        with gate():
            query = prepare_photo(data, thresholds.feature_settings, limits)
            if len(refs) > 1 and all(f.embedding is not None for _, f in refs):
                query = with_embedding(query)
    except ImageInputError as exc:
        return refused(400, v.MISSING_PICTURE, str(exc))
    first: tuple[Verification, ReferenceRecord, Features] | None = None
    tried = 0
    for record, features in _ranked(refs, query.features.embedding):
        ref_image = store.load_image(record.key) if needs.full_images else None
        with gate():
            verification = verify_photo(features, data, thresholds, limits, ref_image=ref_image, query=query)
        tried += 1
        first = first or (verification, record, features)
        if verification.verdict.result:
            # Every reference of the habit is a photo the new one may not repeat, not only the matched one.
            others = tuple((r, f) for r, f in refs if r.key != record.key)
            memory = StoredMemory(store, record, gate, others)
            verification = replay_step(verification, features, thresholds, memory)
            matched = record.key if verification.verdict.result else None
            verdict = verification.verdict.with_extra(key=record.key, matched_reference=matched, references_tried=tried)
            return HabitResult(verdict, query)
    assert first is not None
    verification, record, _ = first
    verdict = verification.verdict.with_extra(
        key=record.key, matched_reference=None, references_tried=tried, replay=False
    )
    return HabitResult(verdict, query)


def history_record(verdict: v.Verdict, habit: str, thresholds: Profile) -> dict[str, Any]:
    """What the history keeps of a verdict: time comes from the log; no photo, only the small numbers."""
    numbers = {
        k: val for k, val in verdict.extra.items() if isinstance(val, (int, float)) and not isinstance(val, bool)
    }
    return {
        "habit": habit,
        "status": verdict.status,
        "message": verdict.message,
        "result": verdict.result,
        "reason": str(verdict.reason)[:300],
        "rule": str(verdict.extra.get("rule", ""))[:32],
        "numbers": {k: numbers[k] for k in sorted(numbers)[:24]},
        "replay": bool(verdict.extra.get("replay", False)),
        "profile": profile_hash(thresholds),
        # The accepted reference, else the one the rejection reports (matched_reference is None then).
        "reference": verdict.extra.get("matched_reference") or verdict.extra.get("key"),
    }


def remember(
    store: Any, owner: str, verdict: v.Verdict, habit: str, thresholds: Profile, photo: bytes | None = None
) -> HistoryEntry | None:
    """Append the verdict (and the proof ``photo``, when kept) to the habit's history; never raises.

    Not for a request that named no usable user or sent no usable photo.
    """
    if verdict.status not in (200,) and verdict.message != v.MISSING_STD_PICTURE:
        return None
    try:
        return history_log(store).append(owner, history_record(verdict, habit, thresholds), photo)
    except (StoreError, ValueError, TypeError) as exc:
        log.warning("history of %s not written: %s", describe_user_id(owner), exc)
        return None


def habit_references(store: ReferenceStore, user_id: str, habit: str) -> list[ReferenceRecord]:
    """The habit's references, newest first (``[]`` for none).

    Raises :class:`~vision.store.base.InvalidUserIdError` or :class:`HabitError` for a bad user id or
    habit name (the message names the rule), :class:`~vision.store.base.StoreError` when the store fails.
    """
    return store.list(habit_owner(validate_client_user_id(user_id), check_habit(habit)))


def remove_habit_reference(store: Any, user_id: str, habit: str, key: str) -> list[ReferenceRecord]:
    """Delete one reference of ``user_id``'s ``habit``; the habit's remaining references, newest first.

    ``store`` is a :class:`~vision.store.base.BlobReferenceStore` or the API's
    :class:`~vision.store.guard.GuardedStore` around one (its ``delete_reference``: image, features,
    fingerprint and metadata go, the latest pointer moves to the newest remaining reference or is
    removed with the last).  A key of another habit or user, or an unknown one, raises
    :class:`~vision.store.base.ReferenceNotFoundError` and changes nothing; a bad id or habit raises
    as :func:`habit_references`.
    """
    name = check_habit(habit)
    owner = habit_owner(validate_client_user_id(user_id), name)
    try:
        store.delete_reference(owner, key)
    except ReferenceNotFoundError:
        raise ReferenceNotFoundError(f"no reference {key!r} in habit {name!r} of {user_id!r}") from None
    return store.list(owner)
