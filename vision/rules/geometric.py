"""Evidence gathering shared by the rules that match features (robust, fused, learned): features, matches, homography."""

from __future__ import annotations

from typing import Any

from vision.core.errors import ImageInputError
from vision.flows.prepare import prepare_photo, verify_photo
from vision.profile import Profile
from vision.replay.memory import check_against_reference, verification_alignment, with_replay_verdict
from vision.rules.base import MISSING_STD


def verify_geometric(ref_bytes: bytes, query_bytes: bytes, profile: Profile, rule: str) -> dict[str, Any]:
    """Prepare the reference (with its global descriptor for ``fused``), verify the query: body with timings.

    An accepted query that is a copy of the reference is rejected by the replay
    rule (:mod:`vision.replay.memory`), as in the API's verify flow.
    """
    try:
        ref = prepare_photo(
            ref_bytes, profile.feature_settings, embed=rule in ("fused", "learned"), learned=rule == "learned"
        )
    except ImageInputError as exc:
        return {**MISSING_STD, "reason": str(exc), "error": type(exc).__name__}
    result = verify_photo(ref.features, query_bytes, profile, rule=rule)
    verdict = result.verdict
    if verdict.result and result.query is not None:
        alignment = verification_alignment(result.evidence, ref.features)
        query = result.query
        outcome = check_against_reference(ref.image, ref.features, query.image, query.features, profile, alignment)
        verdict = with_replay_verdict(verdict, outcome)
    body = verdict.to_json()
    body["timings_ms"] = {"ref_" + k: val for k, val in ref.timings.items()} | result.timings
    body["rule"] = result.rule
    return body
