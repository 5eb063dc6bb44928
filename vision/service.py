"""The three flows of the mobile contract as plain functions (no web framework).

``api.py`` is a thin FastAPI layer over these; the dashboard may call them
directly.  Every function takes the photo as bytes (``*_bytes``) or as the
client's base64 text, plus a reference store / tagger and the thresholds, and
returns a :class:`~vision.verdict.Verdict` whose ``to_json()`` is the HTTP
answer (``status`` is the HTTP status too).  They never raise for bad input
or backend trouble: every path ends in a contract verdict, with a ``reason``
that says what happened and a log line for the 500s.

Everything stays in memory: the photo bytes go from the request to the
decoder and to the store, never through a file with a fixed name.

The CPU-heavy steps (decode, AKAZE, matching, tagging) run inside ``gate``,
a context manager the caller may pass (``api.py`` passes a semaphore sized
to the cores so concurrent requests queue instead of thrashing); store I/O
runs outside it, so a slow S3 round trip does not hold a CPU slot.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from vision import verdict as v
from vision.errors import ImageInputError
from vision.features import Features
from vision.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, read_header
from vision.logsafe import safe_text
from vision.pipeline import register_photo, verify_photo
from vision.profile import Profile
from vision.references import save_reference, stored_features, stored_photo
from vision.replay_flow import (
    apply_replay_rule,
    capture_time_extras,
    save_reference_fingerprint,
    verification_alignment,
    with_replay_verdict,
)
from vision.service_common import Gate, json_type, no_gate
from vision.service_tag import TAG_DECODE_SIDE, tag_b64, tag_bytes
from vision.store.base import (
    CorruptReferenceError,
    InvalidUserIdError,
    ReferenceNotFoundError,
    ReferenceRecord,
    ReferenceStore,
    StoreError,
    StoreUnavailableError,
)
from vision.store.ids import validate_user_id

__all__ = [
    "ANONYMOUS_PREFIX",
    "TAG_DECODE_SIDE",
    "describe_user_id",
    "new_anonymous_id",
    "register_b64",
    "register_bytes",
    "tag_b64",
    "tag_bytes",
    "verify_b64",
    "verify_bytes",
]

Charge = Callable[[int], "v.Verdict | None"]
"""A storage quota: called with the stored photo's size in bytes; a verdict ends the register."""

log = logging.getLogger("vision.service")

ANONYMOUS_PREFIX = "anon-"
"""Prefix of the random user id a register request without ``name`` is stored under."""


def new_anonymous_id() -> str:
    """A fresh random user id (``anon-`` + 32 hex) for a register request without a name."""
    return ANONYMOUS_PREFIX + uuid.uuid4().hex


def describe_user_id(user_id: object) -> str:
    """A short, log-safe rendering of a (possibly hostile) user id: capped, control characters escaped."""
    if not isinstance(user_id, str):
        return f"<{type(user_id).__name__}>"
    return repr(safe_text(user_id, 40))


def _with_extra(verdict: v.Verdict, **extra: Any) -> v.Verdict:
    return v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, {**verdict.extra, **extra})


# -- register ------------------------------------------------------------------


def register_b64(
    store: ReferenceStore,
    data: object,
    user_id: object = None,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    charge: Charge | None = None,
    keep_original: bool = False,
) -> v.Verdict:
    """Register flow from the client's base64 text; see :func:`register_bytes`.

    A ``data`` that is missing, not a string, empty or not base64 is
    ``400 Take Picture Again``.
    """
    if data is None:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, "the request has no 'data' field (base64 photo)")
    if not isinstance(data, str):
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, f"'data' must be a base64 string, got {json_type(data)}")
    bad_id = _check_optional_id(user_id)
    if bad_id:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_id)
    try:
        with gate():  # base64 of a 15 MB body is CPU work too
            raw = decode_base64(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, str(exc))
    return register_bytes(
        store,
        raw,
        user_id,  # type: ignore[arg-type]
        thresholds,
        limits,
        gate=gate,
        charge=charge,
        keep_original=keep_original,
    )


def register_bytes(
    store: ReferenceStore,
    data: bytes,
    user_id: str | None = None,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
    charge: Charge | None = None,
    keep_original: bool = False,
) -> v.Verdict:
    """Check a photo and, when it is good, store it as ``user_id``'s latest reference.

    Parameters
    ----------
    store : ReferenceStore
    data : bytes
        The encoded photo (JPEG, PNG or WebP); stored re-encoded unless ``keep_original``.
    user_id : str or None
        Owner.  None stores the photo under a fresh anonymous id
        (:func:`new_anonymous_id`), returned as ``extra["name"]`` so the
        client can verify against it later.
    thresholds, limits
        Decision thresholds and decode limits.
    gate : callable returning a context manager
        Held around the CPU-heavy step.
    charge : callable, optional
        Called with the stored photo's size before anything is stored; a
        verdict it returns (a storage quota's 429) ends the flow.
    keep_original : bool
        Store ``data`` as sent instead of the re-encoded working image (:mod:`vision.stored_photo`).

    Returns
    -------
    Verdict
        400 ``Take Picture Again`` (not an image, bad user id), 400 ``Too
        Little Features``, 500 ``Something Wrong`` (store unreachable: nothing
        stored), the verdict of ``charge``, or 200 ``Good Picture`` with
        ``key``, ``name`` and, when the store gives one, ``url``.
    """
    bad_id = _check_optional_id(user_id)
    if bad_id:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_id)
    with gate():
        verdict, photo = register_photo(data, thresholds, limits)
    if photo is None or not verdict.result:
        return verdict
    owner = user_id if user_id is not None else new_anonymous_id()
    stored = stored_photo(data, photo, keep_original=keep_original)
    refused = charge(len(stored.data)) if charge is not None else None
    if refused is not None:
        log.info("register %s: %s", describe_user_id(owner), refused.reason)
        return refused
    try:
        record = save_reference(store, owner, data, photo, stored=stored)
    except StoreUnavailableError as exc:
        log.error("register %s: store unavailable (%s): %s", describe_user_id(owner), exc.reason, exc)
        return v.Verdict(500, v.SOMETHING_WRONG, False, f"the reference store is unavailable ({exc.reason})")
    except (StoreError, ValueError, TypeError) as exc:
        log.error("register %s: store rejected the reference: %s", describe_user_id(owner), exc)
        return v.Verdict(500, v.SOMETHING_WRONG, False, "the reference could not be stored")
    save_reference_fingerprint(store, record, photo.image, photo.features)
    extra: dict[str, Any] = {"key": record.key, "name": record.user_id}
    try:
        url = store.url(record.key)
    except StoreError as exc:  # the reference is stored: answer success without a URL
        log.warning("register %s: stored %s but could not make its URL: %s", describe_user_id(owner), record.key, exc)
        url = None
    if url:
        extra["url"] = url
    log.info("register %s: stored %s (%d keypoints)", describe_user_id(owner), record.key, record.n_keypoints)
    return _with_extra(verdict, **extra)


def _check_optional_id(user_id: object) -> str:
    """'' when ``user_id`` is None or a valid id, else the reason it is rejected."""
    if user_id is None:
        return ""
    if not isinstance(user_id, str):
        return f"'name' must be a string user id, got {json_type(user_id)}"
    try:
        validate_user_id(user_id)
    except InvalidUserIdError as exc:
        return f"invalid user id: {exc}"
    return ""


# -- verify --------------------------------------------------------------------


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
    if data is None:
        return v.Verdict(400, v.MISSING_PICTURE, False, "the request has no 'data' field (base64 photo)")
    if not isinstance(data, str):
        return v.Verdict(400, v.MISSING_PICTURE, False, f"'data' must be a base64 string, got {json_type(data)}")
    try:
        with gate():
            raw = decode_base64(data, limits)
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
    return verdict if "replay" in verdict.extra else _with_extra(verdict, replay=False)


def _check_user_id(user_id: object) -> v.Verdict | None:
    """The verdict for a missing or malformed user id, else None."""
    if user_id is None:
        return v.Verdict(400, v.NO_STD_IMG, False, "the request has no 'name' (user id)")
    if not isinstance(user_id, str):
        return v.Verdict(400, v.NO_STD_IMG, False, f"'name' must be a string user id, got {json_type(user_id)}")
    try:
        validate_user_id(user_id)
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
        with gate():
            read_header(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc))
    ref = _load_reference(store, record, thresholds)
    if isinstance(ref, v.Verdict) and ref.status == 400:
        # Deleted meanwhile: a concurrent register moved the pointer on and retention removed this one.
        newer = _check_user(store, record.user_id)
        if isinstance(newer, ReferenceRecord) and newer.key != record.key:
            record, ref = newer, _load_reference(store, newer, thresholds)
    if isinstance(ref, v.Verdict):
        return ref
    with gate():
        verification = verify_photo(ref, data, thresholds, limits)
    verdict = _with_extra(verification.verdict, key=record.key, replay=False)
    if verdict.result and verification.query is not None:
        query = verification.query
        alignment = verification_alignment(verification.evidence, ref)
        outcome = apply_replay_rule(store, record, ref, query.image, query.features, thresholds, gate, alignment)
        verdict = with_replay_verdict(verdict, outcome)
    if verdict.status == 200:
        verdict = _with_extra(verdict, **capture_time_extras(data, thresholds.capture_max_age_h))
    log.info(
        "verify %s against %s: %s (%s)", describe_user_id(record.user_id), record.key, verdict.message, verdict.reason
    )
    return verdict


def _load_reference(store: ReferenceStore, record: ReferenceRecord, thresholds: Profile) -> Features | v.Verdict:
    """Usable reference features (:func:`vision.references.stored_features`), or the verdict saying why not."""
    key = record.key
    who = describe_user_id(record.user_id)
    try:
        # Not inside the CPU gate: usually this only parses the stored blob,
        # and a recomputation (rare: stale settings) may wait on the store.
        features, _ = stored_features(
            store,
            key,
            thresholds.feature_settings,
            embed=thresholds.rule in ("fused", "learned"),
            learned=thresholds.rule == "learned",
        )
    except ReferenceNotFoundError:
        return v.Verdict(400, v.NO_STD_IMG, False, f"the reference {key} was deleted meanwhile")
    except StoreError as exc:
        return _missing_std(f"verify {who}: cannot load the reference {key}", exc)
    except ImageInputError as exc:
        log.error("verify %s: the reference image %s does not decode: %s", who, key, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference photo does not load: {exc}")
    return features


def _missing_std(context: str, exc: StoreError) -> v.Verdict:
    if isinstance(exc, StoreUnavailableError):
        log.error("%s: store unavailable (%s): %s", context, exc.reason, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference store is unavailable ({exc.reason})")
    if isinstance(exc, CorruptReferenceError):
        log.error("%s: reference is corrupt: %s", context, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference photo does not load: {exc}")
    log.error("%s: %s", context, exc)
    return v.Verdict(500, v.MISSING_STD_PICTURE, False, "the reference photo does not load")
