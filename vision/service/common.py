"""What the contract's flows share: the CPU gate's type, anonymous ids, and log-safe names of request values."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any

from vision.core.errors import ImageInputError
from vision.core.logsafe import safe_text
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, read_header

Gate = Callable[[], ContextManager[Any]]
"""A context manager factory held around CPU-heavy work (the API bounds how many run at once)."""


def no_gate() -> ContextManager[Any]:
    """The gate of a caller that does not bound CPU work (the CLI, tests)."""
    return contextlib.nullcontext()


def photo_text(data: object) -> tuple[str, str]:
    """A request's ``data`` field as ``(base64 text, "")``, or ``("", why it cannot be a base64 photo)``.

    Only the field's presence and type are checked here; decoding the text says the rest.
    """
    if data is None:
        return "", "the request has no 'data' field (base64 photo)"
    if not isinstance(data, str):
        return "", f"'data' must be a base64 string, got {json_type(data)}"
    return data, ""


def unusable_photo(data: object, limits: DecodeLimits = DEFAULT_LIMITS) -> bool:
    """Whether a request's ``data`` field is refused without decoding a pixel: missing, not a string,
    not base64, too large, or a header :func:`vision.image.imageio.read_header` refuses (the decode
    budget's scan floods and text bombs included).

    Every base64 flow (register, verify, tag, and their habit forms) answers such a request from its
    own checks, before any store I/O and before a CPU slot, so the web layer may run the flow for it
    on its admission threads: a hostile photo is answered without waiting behind genuine work
    (:func:`vision.web.flows.admit`).  Costs one base64 decode and a header walk (ms: bounded by the
    body cap).
    """
    text, bad = photo_text(data)
    if bad:
        return True
    try:
        read_header(decode_base64(text, limits), limits)
    except ImageInputError:
        return True
    return False


def json_type(value: object) -> str:
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
