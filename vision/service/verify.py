"""The verify flow of the mobile contract (``POST /auth/feature``), as plain functions.

The decision itself is :func:`vision.flows.verify.verify_photo` (one dispatch
through ``rules.get``) and :func:`vision.flows.verify.replay_step` against the
user's stored reference and proofs; this module adds the contract's order of
checks, the store's errors and the log lines.  It never raises for bad input
or backend trouble.
"""

from __future__ import annotations

import logging

from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.references import stored_features
from vision.flows.verify import StoredMemory, replay_step, verify_photo
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, read_header
from vision.matchers.akaze import Features
from vision.profile import Profile
from vision.replay.memory import capture_time_extras
from vision.service.common import Gate, describe_user_id, json_type, no_gate, photo_text
from vision.store.base import (
    CorruptReferenceError,
    InvalidUserIdError,
    ReferenceNotFoundError,
    ReferenceRecord,
    ReferenceStore,
    StoreError,
    StoreUnavailableError,
)
from vision.store.ids import validate_client_user_id

__all__ = ["verify_b64", "verify_bytes"]

log = logging.getLogger("vision.service")


def verify_b64(
    store: ReferenceStore,
    data: object,
    user_id: object,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
) -> v.Verdict:
    """Verify flow from the client's base64 text; see :func:`verify_bytes`.

    The user id's syntax is checked first (missing or invalid: ``400 You
    don't have std img``), then the photo (missing, not a string, not base64,
    not an image by its header: ``400 Missing Picture``), and only then is the
    store asked for the user's reference (none: ``400 You don't have std
    img``).  So a request without a usable photo cannot probe which users
    exist, and a bad photo costs no store I/O.
    """
    return _replay_field(_verify_b64(store, data, user_id, thresholds, limits, gate))


def _verify_b64(
    store: ReferenceStore, data: object, user_id: object, thresholds: Profile, limits: DecodeLimits, gate: Gate
) -> v.Verdict:
    bad = _check_user_id(user_id)
    if bad is not None:
        return bad
    text, bad_photo = photo_text(data)
    if bad_photo:
        return v.Verdict(400, v.MISSING_PICTURE, False, bad_photo)
    try:
        # Outside the CPU gate: bounded by the body cap (ms), so a hostile photo is refused at once (issue 22).
        raw = decode_base64(text, limits)
        read_header(raw, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc))
    early = _check_user(store, user_id)
    if isinstance(early, v.Verdict):
        return early
    return _verify_against(store, early, raw, thresholds, limits, gate)


def verify_bytes(
    store: ReferenceStore,
    data: bytes,
    user_id: str,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
) -> v.Verdict:
    """Verify a new photo against ``user_id``'s latest reference in ``store``.

    Only the store is consulted: no URL is ever fetched.  Stored features made
    with other settings (or missing, or unreadable) are recomputed from the
    reference image and saved back.

    Returns
    -------
    Verdict
        400 ``You don't have std img`` (invalid user id or no reference),
        400 ``Missing Picture`` (the new photo does not decode), 500 ``Missing
        Std Picture`` (store unreachable, or the reference's image is missing
        or does not decode while its features must be recomputed), 200 ``You
        took wrong picture`` or 200 ``Complete`` with the match evidence
        (``inliers``, ``area_fraction``...) and ``key`` as extras.
    """
    early = _check_user(store, user_id)
    if isinstance(early, v.Verdict):
        return _replay_field(early)
    return _replay_field(_verify_against(store, early, data, thresholds, limits, gate))


def _replay_field(verdict: v.Verdict) -> v.Verdict:
    """Every verify answer says whether it was a replay (``"replay": false`` unless the rule found one)."""
    return verdict if "replay" in verdict.extra else verdict.with_extra(replay=False)


def _check_user_id(user_id: object) -> v.Verdict | None:
    """The verdict for a missing or malformed user id, else None."""
    if user_id is None:
        return v.Verdict(400, v.NO_STD_IMG, False, "the request has no 'name' (user id)")
    if not isinstance(user_id, str):
        return v.Verdict(400, v.NO_STD_IMG, False, f"'name' must be a string user id, got {json_type(user_id)}")
    try:
        validate_client_user_id(user_id)
    except InvalidUserIdError as exc:
        return v.Verdict(400, v.NO_STD_IMG, False, f"invalid user id: {exc}")
    return None


def _check_user(store: ReferenceStore, user_id: object) -> v.Verdict | ReferenceRecord:
    """The user's latest reference, or the verdict that ends the flow."""
    bad = _check_user_id(user_id)
    if bad is not None:
        return bad
    assert isinstance(user_id, str)
    try:
        record = store.latest(user_id)
    except StoreUnavailableError as exc:
        log.error("verify %s: store unavailable (%s): %s", describe_user_id(user_id), exc.reason, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference store is unavailable ({exc.reason})")
    except CorruptReferenceError as exc:
        log.error("verify %s: the latest reference is corrupt: %s", describe_user_id(user_id), exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the latest reference does not load: {exc}")
    except StoreError as exc:
        log.error("verify %s: cannot read the latest reference: %s", describe_user_id(user_id), exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, "the user's references cannot be read")
    if record is None:
        return v.Verdict(400, v.NO_STD_IMG, False, f"user {user_id!r} has no reference photo")
    return record


def _verify_against(
    store: ReferenceStore,
    record: ReferenceRecord,
    data: bytes,
    thresholds: Profile,
    limits: DecodeLimits,
    gate: Gate,
) -> v.Verdict:
    try:  # header only: a photo that cannot decode is answered before any store I/O
        # Outside the CPU gate (bounded by the body cap: ms), so a hostile photo never waits for a slot (issue 22).
        read_header(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc))
    needs = rules.get(thresholds.rule).needs
    ref = _load_reference(store, record, thresholds)
    if isinstance(ref, v.Verdict) and ref.status == 400:
        # Deleted meanwhile: a concurrent register moved the pointer on and retention removed this one.
        newer = _check_user(store, record.user_id)
        if isinstance(newer, ReferenceRecord) and newer.key != record.key:
            record, ref = newer, _load_reference(store, newer, thresholds)
    if isinstance(ref, v.Verdict):
        return ref
    ref_image = _load_image(store, record) if needs.full_images else None
    if isinstance(ref_image, v.Verdict):
        return ref_image
    with gate():
        verification = verify_photo(ref, data, thresholds, limits, ref_image=ref_image)
    verification = replay_step(verification, ref, thresholds, StoredMemory(store, record, gate))
    verdict = verification.verdict.with_extra(key=record.key)
    if verdict.status == 200:
        verdict = verdict.with_extra(**capture_time_extras(data, thresholds.capture_max_age_h))
    log.info(
        "verify %s against %s: %s (%s)", describe_user_id(record.user_id), record.key, verdict.message, verdict.reason
    )
    return verdict


def _load_reference(store: ReferenceStore, record: ReferenceRecord, thresholds: Profile) -> Features | v.Verdict:
    """Usable reference features (:func:`vision.flows.references.stored_features`), or the verdict saying why not."""
    key = record.key
    who = describe_user_id(record.user_id)
    try:
        # Not inside the CPU gate: usually this only parses the stored blob,
        # and a recomputation (rare: stale settings) may wait on the store.
        features, _ = stored_features(
            store,
            key,
            thresholds.feature_settings,
            rules.get(thresholds.rule).needs,
        )
    except ReferenceNotFoundError:
        return v.Verdict(400, v.NO_STD_IMG, False, f"the reference {key} was deleted meanwhile")
    except StoreError as exc:
        return _missing_std(f"verify {who}: cannot load the reference {key}", exc)
    except ImageInputError as exc:
        log.error("verify %s: the reference image %s does not decode: %s", who, key, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference photo does not load: {exc}")
    return features


def _load_image(store: ReferenceStore, record: ReferenceRecord) -> bytes | v.Verdict:
    """The reference's encoded photo (a rule that decides on full-resolution images), or the verdict saying why not."""
    try:
        return store.load_image(record.key)
    except ReferenceNotFoundError:
        return v.Verdict(400, v.NO_STD_IMG, False, f"the reference {record.key} was deleted meanwhile")
    except StoreError as exc:
        return _missing_std(f"verify {describe_user_id(record.user_id)}: cannot load the image of {record.key}", exc)


def _missing_std(context: str, exc: StoreError) -> v.Verdict:
    if isinstance(exc, StoreUnavailableError):
        log.error("%s: store unavailable (%s): %s", context, exc.reason, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference store is unavailable ({exc.reason})")
    if isinstance(exc, CorruptReferenceError):
        log.error("%s: reference is corrupt: %s", context, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference photo does not load: {exc}")
    log.error("%s: %s", context, exc)
    return v.Verdict(500, v.MISSING_STD_PICTURE, False, "the reference photo does not load")
