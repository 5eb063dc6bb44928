"""Issue 11, item 9: the published OpenAPI schema is as strict as the server (schemathesis, every check).

Schema-valid requests must not be refused for anything the schema could
have said (a user id's alphabet, a tag's length, the body's shape), and
schema-invalid ones must be refused.  The one refusal the schema cannot
express is the photo itself: valid base64 of bytes that are not a usable
image is ``400`` by the contract, so ``positive_data_acceptance`` also
accepts a 400, and :func:`refused_only_for_the_photo` then insists that such a
400 is about the photo and nothing else.  Bounded: a fixed seed, a few dozen
examples per operation, a few seconds in all.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from api_fixtures import FakeTagger
from hypothesis import HealthCheck, settings

from api import create_app
from vision.core import verdict as v
from vision.profile import Profile
from vision.store import LocalReferenceStore

CONFIG = schemathesis.Config.from_str(
    """
seed = 11

[generation]
max-examples = 30
mode = "all"

[phases.stateful]
enabled = false

[checks.positive_data_acceptance]
# 400: the photo is not an image (see the module docstring); 404-like: "no reference" for an unknown user
expected-statuses = ["2xx", "400", "401", "403", "404", "429"]
"""
)

_STORE_DIR = tempfile.TemporaryDirectory(prefix="schemathesis-refs-")
APP = create_app(
    {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0"},
    store=LocalReferenceStore(Path(_STORE_DIR.name)),
    tagger=FakeTagger(),
    thresholds=Profile(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)

# Reasons that mean the request's structure was refused: a schema-valid request must never get one.
STRUCTURAL = ("user id", "'name'", "'data' must", "'tag'", "the tag", "JSON", "content-type", "no tag word")
PHOTO_MESSAGES = {v.TAKE_PICTURE_AGAIN, v.TOO_LITTLE_FEATURES, v.MISSING_PICTURE, v.NO_TAG, v.NO_STD_IMG}


@schemathesis.check
def refused_only_for_the_photo(ctx, response, case) -> bool | None:
    """A schema-valid request answered 400 was refused for its photo (or an unknown user), never its shape."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    body = response.json()
    assert body["message"] in PHOTO_MESSAGES, body
    reason = body.get("reason") or ""
    assert not any(fragment in reason for fragment in STRUCTURAL), f"schema-valid request refused: {reason}"
    if body["message"] == v.NO_STD_IMG:
        assert "has no reference photo" in reason, body
    return None


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_contract(case):
    case.call_and_validate()
