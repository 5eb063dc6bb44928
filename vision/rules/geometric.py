"""Evidence gathering shared by the geometric rules (robust, fused): features, matches, homography."""

from __future__ import annotations

from typing import Any

from vision.errors import ImageInputError
from vision.pipeline import prepare_photo, verify_photo
from vision.profile import Profile
from vision.rules.base import MISSING_STD


def verify_geometric(ref_bytes: bytes, query_bytes: bytes, profile: Profile, rule: str) -> dict[str, Any]:
    """Prepare the reference (with its global descriptor for ``fused``), verify the query: body with timings."""
    try:
        ref = prepare_photo(ref_bytes, profile.feature_settings, embed=rule == "fused")
    except ImageInputError as exc:
        return {**MISSING_STD, "reason": str(exc)}
    result = verify_photo(ref.features, query_bytes, profile, rule=rule)
    body = result.to_json()
    body["timings_ms"] = {"ref_" + k: val for k, val in ref.timings.items()} | result.timings
    body["rule"] = result.rule
    return body
