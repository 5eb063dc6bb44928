"""The register flow of the mobile contract (``POST /auth/stdimg``), as plain functions.

Every function takes the photo as bytes or as the client's base64 text, a
reference store and the thresholds, and returns a
:class:`~vision.core.verdict.Verdict` whose ``to_json()`` is the HTTP answer.
It never raises for bad input or backend trouble.  The CPU-heavy step runs
inside ``gate``; store I/O outside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import register_photo, unreadable_photo
from vision.flows.references import save_reference, stored_photo
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, read_header
from vision.profile import Profile
from vision.replay.memory import save_reference_fingerprint
from vision.service.common import Gate, describe_user_id, json_type, new_anonymous_id, no_gate, photo_text
from vision.store.base import InvalidUserIdError, ReferenceStore, StoreError, StoreUnavailableError
from vision.store.ids import validate_client_user_id, validate_user_id

__all__ = ["register_b64", "register_bytes"]

log = logging.getLogger("vision.service")

Charge = Callable[[int], "v.Verdict | None"]
"""A storage quota: called with the stored photo's size in bytes; a verdict ends the register."""


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
    owner_id: bool = False,
) -> v.Verdict:
    """Register flow from the client's base64 text; see :func:`register_bytes`.

    ``owner_id`` says ``user_id`` is a store owner id the habit flow composed
    (``<user>@@<habit>``, already checked); a client's own id may not hold ``@@``.

    A ``data`` that is missing, not a string, empty or not base64 is
    ``400 Take Picture Again``.
    """
    text, bad_photo = photo_text(data)
    if bad_photo:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_photo)
    bad_id = _check_optional_id(user_id, owner_id)
    if bad_id:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, bad_id)
    try:
        # Outside the CPU gate: bounded by the body cap (ms), so a hostile photo is refused at once (issue 22).
        raw = decode_base64(text, limits)
    except ImageInputError as exc:
        return v.Verdict(400, v.TAKE_PICTURE_AGAIN, False, str(exc))
    try:
        read_header(raw, limits)
    except ImageInputError as exc:
        return unreadable_photo(exc)  # the answer register_photo gives under the gate
    return register_bytes(
        store,
        raw,
        user_id,  # type: ignore[arg-type]
        thresholds,
        limits,
        gate=gate,
        charge=charge,
        keep_original=keep_original,
        owner_id=owner_id,
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
    owner_id: bool = False,
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
        Store ``data`` as sent instead of the re-encoded working image (:mod:`vision.image.stored_photo`).

    Returns
    -------
    Verdict
        400 ``Take Picture Again`` (not an image, bad user id), 400 ``Too
        Little Features``, 500 ``Something Wrong`` (store unreachable: nothing
        stored), the verdict of ``charge``, or 200 ``Good Picture`` with
        ``key``, ``name`` and, when the store gives one, ``url``.
    """
    bad_id = _check_optional_id(user_id, owner_id)
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
    return verdict.with_extra(**extra)


def _check_optional_id(user_id: object, owner_id: bool = False) -> str:
    """'' when ``user_id`` is None or a valid id (a client's, or a store owner's), else the reason it is rejected."""
    if user_id is None:
        return ""
    if not isinstance(user_id, str):
        return f"'name' must be a string user id, got {json_type(user_id)}"
    try:
        (validate_user_id if owner_id else validate_client_user_id)(user_id)
    except InvalidUserIdError as exc:
        return f"invalid user id: {exc}"
    return ""
