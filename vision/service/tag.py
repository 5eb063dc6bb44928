"""The tag flow of the API: does the photo show the tag word? (``400 No Tag`` / ``500 Clarifai Api Fault``)."""

from __future__ import annotations

import logging
from typing import Any

from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.core.logsafe import safe_text
from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, decode_base64, decode_image, read_header
from vision.profile import Profile
from vision.service.common import Gate, json_type, no_gate, photo_text
from vision.tagging.words import check_tag

log = logging.getLogger("vision.service")

TAG_DECODE_SIDE = 512
"""JPEGs are DCT-reduced to about this long side before tagging (the model sees 224 px)."""


def tag_b64(
    tagger_or_factory: Any,
    data: object,
    tag: object,
    thresholds: Profile = Profile(),
    limits: DecodeLimits = DEFAULT_LIMITS,
    *,
    gate: Gate = no_gate,
) -> v.Verdict:
    """Tag flow from the client's base64 text; see :func:`tag_bytes`.

    The contract's only 4xx answer of this flow is ``400 No Tag``, so it also
    answers a request whose photo is missing or not an image (the ``reason``
    tells which).
    """
    if not isinstance(tag, str) or not tag.strip():
        what = "no tag word" if tag is None or isinstance(tag, str) else f"a {json_type(tag)} as tag"
        return v.Verdict(400, v.NO_TAG, False, f"the request has {what}")
    bad_tag = check_tag(tag)
    if bad_tag:
        return v.Verdict(400, v.NO_TAG, False, bad_tag)
    text, bad_photo = photo_text(data)
    if bad_photo:
        return v.Verdict(400, v.NO_TAG, False, bad_photo)
    try:
        # Outside the CPU gate: bounded by the body cap (ms), so a hostile photo is refused at once (issue 22).
        raw = decode_base64(text, limits)
        read_header(raw, limits)
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
    gate: Gate = no_gate,
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
    bad_tag = check_tag(tag)
    if bad_tag:
        return v.Verdict(400, v.NO_TAG, False, bad_tag)
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
            log.error(
                "tag %r: %s tagger failed: %s: %s", safe_text(tag), name, type(exc).__name__, safe_text(str(exc), 300)
            )
            return v.Verdict(
                500, v.CLARIFAI_API_FAULT, False, f"{name} tagger failed ({type(exc).__name__})", {"backend": name}
            )
    if verdict.status >= 500:
        log.error("tag %r: %s", safe_text(tag), safe_text(verdict.reason, 300))
    return verdict
