"""The OpenAPI side: request models with the limits the server enforces, answer examples, endpoint texts."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vision.core import verdict as v
from vision.store.ids import MAX_USER_ID_LENGTH
from vision.tagging import words as tagwords
from vision.web.flows import BUSY, FORBIDDEN, REGISTER, TAG, TIMEOUT, TOO_MANY, UNAUTHORIZED, VERIFY, Flow

log = logging.getLogger("vision.api")


# -- request/answer models (for the OpenAPI page; bodies are parsed by hand) ----


# What the server enforces, published: a photo is base64 (an optional data: URL prefix,
# line breaks allowed), at most the body limit; a user id is 1-64 of [A-Za-z0-9_.@-], not
# starting with "." nor containing ".."; a tag is 1-64 characters without control characters.
USER_ID_PATTERN = r"^[A-Za-z0-9_@-](\.?[A-Za-z0-9_@-])*\.?$"  # no leading ".", no ".."
TAG_PATTERN = tagwords.TAG_PATTERN
PHOTO_PATTERN = r"^(data:image/[\w.+-]+;base64,)?[A-Za-z0-9+/=\s_-]+$"
_PHOTO_MAX = 20_000_000


class RegisterRequest(BaseModel):
    data: str = Field(
        description="The photo, base64 (JPEG, PNG or WebP; a data: URL prefix is accepted).",
        min_length=4,
        max_length=_PHOTO_MAX,
        pattern=PHOTO_PATTERN,
    )
    name: str | None = Field(
        None,
        description="User id (1-64 of A-Z a-z 0-9 _ . @ -). The photo becomes this user's latest "
        "reference. Without it the photo is stored under a fresh anonymous id, returned as `name` "
        "(with a bearer token: the token's subject).",
        min_length=1,
        max_length=MAX_USER_ID_LENGTH,
        pattern=USER_ID_PATTERN,
    )
    habit: str | None = Field(
        None,
        description="Habit name (1-32 of a-z 0-9 _ -; default `default`). With it the habit keeps up to "
        "VISION_MAX_REFERENCES_PER_HABIT references (3) and the answer names the habit.",
        min_length=1,
        max_length=32,
        pattern=r"^[a-z0-9_-]{1,32}$",
    )
    replace: bool | None = Field(None, description="With `habit`: true replaces all the habit's references.")


class FeatureRequest(BaseModel):
    data: str = Field(description="The new photo, base64.", min_length=4, max_length=_PHOTO_MAX, pattern=PHOTO_PATTERN)
    name: str = Field(
        description="User id whose latest reference the photo is compared with (with a bearer token: "
        "may be omitted, and must equal the token's subject).",
        min_length=1,
        max_length=MAX_USER_ID_LENGTH,
        pattern=USER_ID_PATTERN,
    )
    habit: str | None = Field(
        None,
        description="Habit name (1-32 of a-z 0-9 _ -; default `default`). With it every reference of the "
        "habit is tried, most similar first; the answer has `matched_reference` and `verification_id`.",
        min_length=1,
        max_length=32,
        pattern=r"^[a-z0-9_-]{1,32}$",
    )


class TagRequest(BaseModel):
    data: str = Field(description="The photo, base64.", min_length=4, max_length=_PHOTO_MAX, pattern=PHOTO_PATTERN)
    tag: str = Field(
        description="The word the photo should show, e.g. `dog`.",
        min_length=1,
        max_length=tagwords.MAX_TAG_CHARS,
        pattern=TAG_PATTERN,
    )


class Answer(BaseModel):
    status: int = Field(description="Same as the HTTP status code.")
    message: str = Field(description="One of the contract's messages.")
    result: bool
    reason: str | None = Field(None, description="Why (for humans and logs; clients need not read it).")
    key: str | None = Field(None, description="Register: the stored reference's key; verify: the key compared with.")
    name: str | None = Field(None, description="Register: the user id the reference was stored under.")
    url: str | None = Field(None, description="Register with the S3 store: a (presigned) URL of the photo.")
    replay: bool | None = Field(
        None,
        description="Verify: true when the photo repeats the reference or an earlier accepted proof "
        "(re-sent, re-saved, cropped, rotated, screenshotted or photographed off a screen); `reason` names it.",
    )

    model_config = {"extra": "allow"}


_ANSWERS = {
    REGISTER: {
        200: (
            "Good Picture",
            {
                "status": 200,
                "message": v.GOOD_PICTURE,
                "result": True,
                "reason": "3127 keypoints >= 80 required",
                "key": "hong/3f2a...",
                "name": "hong",
            },
        ),
        400: (
            "Take Picture Again (not an image, bad body, bad name) or Too Little Features",
            {"status": 400, "message": v.TOO_LITTLE_FEATURES, "result": False},
        ),
        500: (
            "Something Wrong (store unreachable; nothing stored)",
            {"status": 500, "message": v.SOMETHING_WRONG, "result": False},
        ),
    },
    VERIFY: {
        200: (
            "Complete, or You took wrong picture",
            {"status": 200, "message": v.COMPLETE, "result": True, "inliers": 669},
        ),
        400: (
            "You don't have std img (no/invalid name, no reference) or Missing Picture (bad photo or body)",
            {"status": 400, "message": v.NO_STD_IMG, "result": False},
        ),
        500: (
            "Missing Std Picture (store unreachable, reference does not load)",
            {"status": 500, "message": v.MISSING_STD_PICTURE, "result": False},
        ),
    },
    TAG: {
        200: ("Matched or Not Matched", {"status": 200, "message": v.MATCHED, "result": True}),
        400: (
            "No Tag (no tag word; also a missing/undecodable photo or a bad body)",
            {"status": 400, "message": v.NO_TAG, "result": False},
        ),
        500: (
            "Clarifai Api Fault (the tagging backend failed)",
            {"status": 500, "message": v.CLARIFAI_API_FAULT, "result": False},
        ),
    },
}


_COMMON_ANSWERS = {
    401: ("Unauthorized: missing or invalid API key or bearer token (auth modes api-key, jwt)", UNAUTHORIZED),
    403: ("Forbidden: the token's subject is not the `name` asked for", FORBIDDEN),
    408: ("Request Timeout: the body was not sent in time", TIMEOUT),
    429: ("Too Many Requests: per-client or per-user rate limit, or a storage quota (see Retry-After)", TOO_MANY),
    503: ("Server Busy: no CPU slot before the request's deadline (see Retry-After)", BUSY),
}


def route_docs(flow: Flow, model: type[BaseModel]) -> dict[str, Any]:
    answers = dict(_ANSWERS[flow])
    for code, (desc, message) in _COMMON_ANSWERS.items():
        if flow is TAG and code == 403:
            continue  # the tag flow names no user
        answers[code] = (desc, {"status": code, "message": message, "result": False})
    return {
        "response_class": JSONResponse,
        "responses": {
            code: {"model": Answer, "description": desc, "content": {"application/json": {"example": ex}}}
            for code, (desc, ex) in answers.items()
        },
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": model.model_json_schema()}},
            }
        },
    }


REGISTER_DOC = """Register a reference photo.

The photo is decoded and its AKAZE keypoints counted; with enough of them it is
stored and becomes the latest reference of `name`.

**Without `name`** the photo is still stored (as the original design did for
every good picture), under a fresh random user id `anon-<32 hex>` that the
answer returns as `name`, together with the reference `key` (and `url` with
the S3 store).  The client passes that `name` to `/auth/feature` later.

Bad input of any kind (body not JSON, wrong content-type, over the size
limit, missing or non-string `data`, invalid base64, not an image,
decompression bomb, invalid `name`) is `400 Take Picture Again` with a
`reason`; nothing is stored.
"""

VERIFY_DOC = """Verify a new photo against the user's latest reference.

The reference is looked up in the reference store by `name` only (with a
bearer token: the token's subject); no URL is ever read from the request.
Checks, in order: `name` missing or not a valid user id -> `400 You don't have
std img`; `data` missing, not base64 or not an image by its header (and a body
that is not a JSON object, too large, or sent with another content-type) ->
`400 Missing Picture`; only then the store: no reference -> `400 You don't
have std img`; store unreachable, hanging, or the latest reference corrupt ->
`500 Missing Std Picture`; reference image gone or undecodable when its
features must be recomputed -> `500 Missing Std Picture`.  Stale features are
recomputed and saved back.
"""

TAG_DOC = """Does the photo show `tag`?

`400 No Tag` is the contract's only 4xx answer of this flow, so it also
answers a missing or undecodable photo and an unusable body (see `reason`).
"""
