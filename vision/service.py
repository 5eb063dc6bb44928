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

import contextlib
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any

from vision import verdict as v
from vision.errors import ImageInputError
from vision.features import Features, features_to_bytes
from vision.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, decode_image, read_header
from vision.pipeline import reference_features, register_photo, verify_photo
from vision.profile import Profile
from vision.references import save_reference
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

log = logging.getLogger("vision.service")

ANONYMOUS_PREFIX = "anon-"
"""Prefix of the random user id a register request without ``name`` is stored under."""

TAG_DECODE_SIDE = 512
"""JPEGs are DCT-reduced to about this long side before tagging (the model sees 224 px)."""

Gate = Callable[[], ContextManager[Any]]


def _no_gate() -> ContextManager[Any]:
    return contextlib.nullcontext()


def new_anonymous_id() -> str:
    """A fresh random user id (``anon-`` + 32 hex) for a register request without a name."""
    return ANONYMOUS_PREFIX + uuid.uuid4().hex


def describe_user_id(user_id: object) -> str:
    """A short, log-safe rendering of a (possibly hostile) user id."""
    if not isinstance(user_id, str):
        return f"<{type(user_id).__name__}>"
    if len(user_id) > 40:
        return f"{user_id[:32]!r}...({len(user_id)} chars)"
    return repr(user_id)


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
    gate: Gate = _no_gate,
) -> v.Verdict:
    """Register flow from the client's base64 text; see :func:`register_bytes`.

    A ``data`` that is missing, not a string, empty or not base64 is
    ``400 Take Picture Again``.
    """
    if data is None:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, "the request has no 'data' field (base64 photo)")
    if not isinstance(data, str):
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, f"'data' must be a base64 string, got {_json_type(data)}")
    bad_id = _check_optional_id(user_id)
    if bad_id:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_id)
    try:
        raw = decode_base64(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, str(exc))
    return register_bytes(store, raw, user_id, thresholds, limits, gate=gate)  # type: ignore[arg-type]


def register_bytes(
    store: ReferenceStore,
    data: bytes,
    user_id: str | None = None,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = _no_gate,
) -> v.Verdict:
    """Check a photo and, when it is good, store it as ``user_id``'s latest reference.

    Parameters
    ----------
    store : ReferenceStore
    data : bytes
        The encoded photo (JPEG, PNG or WebP), stored as sent.
    user_id : str or None
        Owner.  None stores the photo under a fresh anonymous id
        (:func:`new_anonymous_id`), returned as ``extra["name"]`` so the
        client can verify against it later.
    thresholds, limits
        Decision thresholds and decode limits.
    gate : callable returning a context manager
        Held around the CPU-heavy step.

    Returns
    -------
    Verdict
        400 ``Take Picture Again`` (not an image, bad user id), 400 ``Too
        Little Features``, 500 ``Something Wrong`` (store unreachable: nothing
        stored), or 200 ``Good Picture`` with ``key``, ``name`` and, when the
        store gives one, ``url``.
    """
    bad_id = _check_optional_id(user_id)
    if bad_id:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_id)
    with gate():
        verdict, photo = register_photo(data, thresholds, limits)
    if photo is None or not verdict.result:
        return verdict
    owner = user_id if user_id is not None else new_anonymous_id()
    try:
        record = save_reference(store, owner, data, photo)
    except StoreUnavailableError as exc:
        log.error("register %s: store unavailable (%s): %s", describe_user_id(owner), exc.reason, exc)
        return v.Verdict(500, v.SOMETHING_WRONG, False, f"the reference store is unavailable ({exc.reason})")
    except (StoreError, ValueError, TypeError) as exc:
        log.error("register %s: store rejected the reference: %s", describe_user_id(owner), exc)
        return v.Verdict(500, v.SOMETHING_WRONG, False, "the reference could not be stored")
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
        return f"'name' must be a string user id, got {_json_type(user_id)}"
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
    gate: Gate = _no_gate,
) -> v.Verdict:
    """Verify flow from the client's base64 text; see :func:`verify_bytes`.

    The user is checked first (no valid user id, or no reference: ``400 You
    don't have std img``), then the photo (missing, not a string, not base64,
    not an image: ``400 Missing Picture``).
    """
    early = _check_user(store, user_id)
    if isinstance(early, v.Verdict):
        return early
    if data is None:
        return v.Verdict(400, v.MISSING_PICTURE, False, "the request has no 'data' field (base64 photo)")
    if not isinstance(data, str):
        return v.Verdict(400, v.MISSING_PICTURE, False, f"'data' must be a base64 string, got {_json_type(data)}")
    try:
        raw = decode_base64(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc))
    return _verify_against(store, early, raw, thresholds, limits, gate)


def verify_bytes(
    store: ReferenceStore,
    data: bytes,
    user_id: str,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = _no_gate,
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
        return early
    return _verify_against(store, early, data, thresholds, limits, gate)


def _check_user(store: ReferenceStore, user_id: object) -> v.Verdict | ReferenceRecord:
    """The user's latest reference, or the verdict that ends the flow."""
    if user_id is None:
        return v.Verdict(400, v.NO_STD_IMG, False, "the request has no 'name' (user id)")
    if not isinstance(user_id, str):
        return v.Verdict(400, v.NO_STD_IMG, False, f"'name' must be a string user id, got {_json_type(user_id)}")
    try:
        validate_user_id(user_id)
    except InvalidUserIdError as exc:
        return v.Verdict(400, v.NO_STD_IMG, False, f"invalid user id: {exc}")
    try:
        record = store.latest(user_id)
    except StoreUnavailableError as exc:
        log.error("verify %s: store unavailable (%s): %s", describe_user_id(user_id), exc.reason, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference store is unavailable ({exc.reason})")
    except StoreError as exc:
        log.error("verify %s: cannot list references: %s", describe_user_id(user_id), exc)
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
        read_header(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.MISSING_PICTURE, False, str(exc))
    ref = _load_reference(store, record, thresholds)
    if isinstance(ref, v.Verdict):
        return ref
    with gate():
        verification = verify_photo(ref, data, thresholds, limits)
    verdict = _with_extra(verification.verdict, key=record.key)
    log.info(
        "verify %s against %s: %s (%s)", describe_user_id(record.user_id), record.key, verdict.message, verdict.reason
    )
    return verdict


def _load_reference(store: ReferenceStore, record: ReferenceRecord, thresholds: Profile) -> Features | v.Verdict:
    """Usable reference features: stored ones, or recomputed from the image (and saved back).

    The image is only downloaded when the stored features are missing,
    stale (other settings) or lack the fused rule's global descriptor.
    """
    key = record.key
    who = describe_user_id(record.user_id)
    try:
        # Not inside the CPU gate: usually this only parses the stored blob,
        # and a recomputation (rare: stale settings) may wait on the store.
        features, recomputed = reference_features(
            store.load_features(key),
            lambda: store.load_image(key),
            thresholds.feature_settings,
            embed=thresholds.rule == "fused",
        )
    except ReferenceNotFoundError:
        return v.Verdict(400, v.NO_STD_IMG, False, f"the reference {key} was deleted meanwhile")
    except StoreError as exc:
        return _missing_std(f"verify {who}: cannot load the reference {key}", exc)
    except ImageInputError as exc:
        log.error("verify %s: the reference image %s does not decode: %s", who, key, exc)
        return v.Verdict(500, v.MISSING_STD_PICTURE, False, f"the reference photo does not load: {exc}")
    if recomputed:
        log.info("verify %s: features of %s recomputed (missing, stale or without descriptor)", who, key)
        try:
            store.save_features(key, features_to_bytes(features))
        except (StoreError, TypeError, ValueError) as exc:  # verification still works
            log.warning("verify %s: could not save recomputed features of %s: %s", who, key, exc)
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


# -- tag -----------------------------------------------------------------------


def tag_b64(
    tagger_or_factory: Any,
    data: object,
    tag: object,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = _no_gate,
) -> v.Verdict:
    """Tag flow from the client's base64 text; see :func:`tag_bytes`.

    The contract's only 4xx answer of this flow is ``400 No Tag``, so it also
    answers a request whose photo is missing or not an image (the ``reason``
    tells which).
    """
    if not isinstance(tag, str) or not tag.strip():
        what = "no tag word" if tag is None or isinstance(tag, str) else f"a {_json_type(tag)} as tag"
        return v.Verdict(400, v.NO_TAG, False, f"the request has {what}")
    if data is None:
        return v.Verdict(400, v.NO_TAG, False, "the request has no 'data' field (base64 photo)")
    if not isinstance(data, str):
        return v.Verdict(400, v.NO_TAG, False, f"'data' must be a base64 string, got {_json_type(data)}")
    try:
        raw = decode_base64(data, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.NO_TAG, False, f"no usable photo: {exc}")
    return tag_bytes(tagger_or_factory, raw, tag, thresholds, limits, gate=gate)


def tag_bytes(
    tagger_or_factory: Any,
    data: bytes,
    tag: str | None,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = _no_gate,
) -> v.Verdict:
    """Whether the photo shows ``tag``, by the tagger's concepts.

    Parameters
    ----------
    tagger_or_factory : Tagger or callable returning one
        A factory lets the caller build the tagger lazily; a factory that
        raises is a backend fault (``500 Clarifai Api Fault``).

    Returns
    -------
    Verdict
        400 ``No Tag`` (no tag word, or a photo that does not decode),
        500 ``Clarifai Api Fault`` (the backend failed; the cause is logged and
        in ``reason``), 200 ``Matched`` / ``Not Matched``.
    """
    from vision.tagging.base import TaggerError, tag_verdict  # onnx/grpc stay unimported until needed

    if not isinstance(tag, str) or not tag.strip():
        return v.Verdict(400, v.NO_TAG, False, "the request has no tag word")
    try:
        tagger = (
            tagger_or_factory()
            if callable(tagger_or_factory) and not hasattr(tagger_or_factory, "match")
            else tagger_or_factory
        )
    except TaggerError as exc:
        log.error("tag: tagger unavailable: %s", exc.cause)
        return v.Verdict(500, v.CLARIFAI_API_FAULT, False, f"tagger unavailable: {exc.cause}")
    except Exception as exc:
        log.error("tag: cannot build the tagger: %s: %s", type(exc).__name__, exc)
        return v.Verdict(500, v.CLARIFAI_API_FAULT, False, f"tagger unavailable ({type(exc).__name__})")
    name = getattr(tagger, "name", type(tagger).__name__)
    with gate():
        try:
            image = decode_image(data, max_side=TAG_DECODE_SIDE, limits=limits).bgr
        except ImageInputError as exc:
            return v.Verdict(400, v.NO_TAG, False, f"no usable photo: {exc}")
        try:
            verdict = tag_verdict(tagger, image, tag, thresholds.tag_min_confidence)
        except Exception as exc:
            log.error("tag %r: %s tagger failed: %s: %s", tag[:64], name, type(exc).__name__, exc)
            return v.Verdict(
                500, v.CLARIFAI_API_FAULT, False, f"{name} tagger failed ({type(exc).__name__})", {"backend": name}
            )
    if verdict.status >= 500:
        log.error("tag %r: %s", tag[:64], verdict.reason)
    return verdict


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type (for reasons)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
