"""The habit endpoints' flows as plain functions: register into a habit, verify it, read its history, dispute.

Each takes the parsed JSON body's fields, validates them (a clear ``400`` naming the field, nothing
changed), and returns a :class:`~vision.core.verdict.Verdict`; none raises for bad input or store
trouble.  The decisions are :mod:`vision.service.habits`'s; the HTTP glue is :mod:`vision.web.habits`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vision.core import verdict as v
from vision.core.logsafe import safe_text
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64
from vision.profile import Profile
from vision.service.common import Gate, describe_user_id, new_anonymous_id, no_gate, photo_text
from vision.service.habits import (
    DEFAULT_MAX_REFERENCES,
    HabitError,
    check_habit,
    habit_owner,
    remember,
    verify_habit,
)
from vision.service.register import Charge, register_b64
from vision.store.base import InvalidUserIdError, ReferenceNotFoundError, StoreError
from vision.store.disputes import DisputeRow, disputes_of
from vision.store.history import MAX_PAGE, HistoryEntry, HistoryLog, check_entry_id, history_log
from vision.store.ids import validate_client_user_id

__all__ = ["CLAIMS", "dispute", "history_page", "register_habit_b64", "review_dispute", "verify_habit_b64"]

log = logging.getLogger("vision.service")

CLAIMS = ("same", "different")
BAD, NOT_FOUND, RECORDED, HISTORY = "Bad Request", "Not Found", "Recorded", "History"


def _owner(user_id: object, habit: object, message: str) -> tuple[str, str, str] | v.Verdict:
    """``(user, habit, owner)`` or the 400 verdict with ``message`` naming what is wrong."""
    if not isinstance(user_id, str):
        return v.Verdict(400, message, False, "a habit needs the user id 'name' (a string)")
    try:
        validate_client_user_id(user_id)
        name = check_habit(habit)
        return user_id, name, habit_owner(user_id, name)
    except (InvalidUserIdError, HabitError) as exc:
        return v.Verdict(400, message, False, str(exc))


def register_habit_b64(
    store: Any,
    data: object,
    user_id: object,
    habit: object,
    replace_all: object,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    charge: Charge | None = None,
    keep_original: bool = False,
    max_refs: int = DEFAULT_MAX_REFERENCES,
) -> v.Verdict:
    """Add a reference to the habit (``replace_all``: it becomes the only one); the oldest beyond ``max_refs`` go.

    Answers as :func:`vision.service.register.register_b64`, with ``name`` the user, ``habit`` and
    ``references`` (the habit's keys, newest first).
    """
    if replace_all is not None and not isinstance(replace_all, bool):
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, "'replace' must be true or false")
    _, bad_photo = photo_text(data)
    if bad_photo:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_photo)
    # Without a name the photo is stored under a fresh anonymous id, as today's register does.
    who = _owner(new_anonymous_id() if user_id is None else user_id, habit, v.TAKE_PICTURE_AGAIN)
    if isinstance(who, v.Verdict):
        return who
    user, name, owner = who
    verdict = register_b64(
        store, data, owner, thresholds, limits, gate=gate, charge=charge, keep_original=keep_original, owner_id=True
    )
    if not verdict.result:
        return verdict
    key = verdict.extra.get("key")
    try:
        records = store.list(owner)
        doomed = [r.key for r in records if r.key != key] if replace_all else [r.key for r in records[max_refs:]]
        for old in doomed:
            try:
                store.delete(old)
            except ReferenceNotFoundError:
                continue
        keys = [r.key for r in store.list(owner)]
    except StoreError as exc:
        log.warning("register %s: stored %s; older references not pruned: %s", describe_user_id(owner), key, exc)
        keys = [str(key)]
    return verdict.with_extra(name=user, habit=name, references=keys)


def verify_habit_b64(
    store: Any,
    data: object,
    user_id: object,
    habit: object,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    max_refs: int = DEFAULT_MAX_REFERENCES,
    keep_photo: bool = False,
) -> v.Verdict:
    """Verify against the habit's references (:func:`verify_habit`) and append the verdict to its history.

    ``keep_photo`` (``VISION_KEEP_PROOF_PHOTOS``): the history entry keeps the proof photo,
    re-encoded as references are.  The answer gains ``habit`` and ``verification_id`` (the
    history entry a dispute names).
    """
    who = _owner(user_id, habit, v.NO_STD_IMG)
    if isinstance(who, v.Verdict):
        return who.with_extra(replay=False)
    _, name, owner = who
    text, bad_photo = photo_text(data)
    if bad_photo:
        return v.Verdict(400, v.MISSING_PICTURE, False, bad_photo, {"replay": False})
    try:  # outside the CPU gate, as the register and verify flows: bounded by the body cap (ms)
        raw = decode_base64(text, limits)
    except Exception as exc:  # ImageInputError: not base64, too large
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc), {"replay": False})
    result = verify_habit(store, raw, owner, thresholds, limits, gate=gate, max_refs=max_refs)
    photo = result.proof_photo(raw) if keep_photo else None
    del raw
    entry = remember(store, owner, result.verdict, name, thresholds, photo)
    return result.verdict.with_extra(habit=name, verification_id=entry.entry_id if entry else None)


def _on_history(
    store: Any, user_id: object, habit: object, failure: str, action: Callable[[HistoryLog, str, str], v.Verdict]
) -> v.Verdict:
    """Check the user and habit, then answer ``action(log, habit, owner)`` on the habit's history.

    The one shape of both history endpoints: a bad user or habit is a 400 naming it, a ValueError
    of ``action`` (a malformed field) a 400 with its message, store trouble a 500 ``failure``.
    """
    who = _owner(user_id, habit, BAD)
    if isinstance(who, v.Verdict):
        return who
    _, name, owner = who
    try:
        return action(history_log(store), name, owner)
    except ValueError as exc:
        return v.Verdict(400, BAD, False, str(exc))
    except StoreError as exc:
        log.error("%s (%s): %s", failure, describe_user_id(owner), exc)
        return v.Verdict(500, v.SOMETHING_WRONG, False, failure)


def history_page(store: Any, user_id: object, habit: object, limit: object, before: object) -> v.Verdict:
    """One page of the habit's history, newest first: ``entries`` and ``next`` (the cursor, None at the end)."""

    def read(history: HistoryLog, name: str, owner: str) -> v.Verdict:
        text = "20" if limit in (None, "") else str(limit).strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
            raise ValueError(f"'limit' must be an integer 1..{MAX_PAGE}")
        cursor = None if before in (None, "") else check_entry_id(before)
        entries, nxt = history.page(owner, int(text), cursor)
        extra = {"habit": name, "entries": [e.to_json() for e in entries], "next": nxt}
        return v.Verdict(200, HISTORY, True, f"{len(entries)} entries", extra)

    return _on_history(store, user_id, habit, "the history cannot be read", read)


def dispute(store: Any, user_id: object, habit: object, verification_id: object, claim: object) -> v.Verdict:
    """Record the user's claim (``same`` or ``different``) on one verification of the habit's history.

    The entry gains ``dispute: {claim, label, reviewed: false}`` (label 1 for ``same``); a second
    dispute of the same verification replaces the claim.  Unknown id: 404 ``Not Found``.  With the
    proof photo kept, the pair also goes into the disputes set (``tuning_pair``: whether it did).
    """

    def record(history: HistoryLog, name: str, owner: str) -> v.Verdict:
        if claim not in CLAIMS:
            raise ValueError(f"'claim' must be one of {list(CLAIMS)}, got {safe_text(claim, 40)!r}")
        try:
            entry_id = check_entry_id(verification_id)
        except ValueError as exc:
            raise ValueError(f"'id': {exc}") from None
        entry = history.get(owner, entry_id)
        if entry is None:
            return v.Verdict(404, NOT_FOUND, False, "no such verification in this habit's history")
        marked = {**entry.data, "dispute": {"claim": claim, "label": int(claim == "same"), "reviewed": False}}
        history.put(owner, replace(entry, data=marked))
        extra = {"habit": name, "id": entry_id, "claim": claim, "tuning_pair": _tuning_pair(store, owner, entry, claim)}
        return v.Verdict(200, RECORDED, True, f"claim {claim!r} recorded, awaiting review", extra)

    return _on_history(store, user_id, habit, "the dispute cannot be recorded", record)


def _tuning_pair(store: Any, owner: str, entry: HistoryEntry, claim: str) -> bool:
    """Write the disputed pair (reference + kept proof photo) into the disputes set; whether it was written.

    Nothing without a kept proof photo or once the reference is gone; store trouble is logged (the
    claim itself is recorded already).
    """
    key = entry.data.get("reference")
    if not entry.data.get("proof_photo") or not isinstance(key, str):
        return False
    try:
        proof = history_log(store).photo(owner, entry.entry_id)
        if proof is None:
            return False
        disputes_of(store).add(owner, entry.entry_id, claim, store.load_image(key), proof)
    except ReferenceNotFoundError:
        return False
    except (StoreError, ValueError) as exc:
        log.warning("dispute %s: the tuning pair is not written: %s", describe_user_id(owner), exc)
        return False
    return True


def review_dispute(store: Any, entry_id: str, *, flip: bool) -> DisputeRow:
    """Mark a disputed pair reviewed (its label confirmed, or flipped) in the disputes set and the history.

    Raises KeyError for an unknown dispute, ValueError for a malformed id, the store's errors.
    """
    row = disputes_of(store).review(entry_id, flip=flip)
    log_ = history_log(store)
    entry = log_.get(row.owner, row.id)
    if entry is not None and isinstance(entry.data.get("dispute"), dict):
        reviewed = {**entry.data["dispute"], "label": row.label, "reviewed": True}
        log_.put(row.owner, replace(entry, data={**entry.data, "dispute": reviewed}))
    return row
