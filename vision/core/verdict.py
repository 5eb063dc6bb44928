"""The mobile client's JSON contract: ``{"status", "message", "result"}``.

Every flow ends in a :class:`Verdict`.  The messages are the exact strings of
the contract tables in ``SPEC.md``; the client matches on them, so they live
in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Register flow (POST /auth/stdimg, /auth/test)
TAKE_PICTURE_AGAIN = "Take Picture Again"
TOO_LITTLE_FEATURES = "Too Little Features"
GOOD_PICTURE = "Good Picture"
SOMETHING_WRONG = "Something Wrong"
# Verify flow (POST /auth/feature)
NO_STD_IMG = "You don't have std img"
MISSING_PICTURE = "Missing Picture"
MISSING_STD_PICTURE = "Missing Std Picture"
WRONG_PICTURE = "You took wrong picture"
COMPLETE = "Complete"
# Tag flow (POST /auth/tag)
NO_TAG = "No Tag"
CLARIFAI_API_FAULT = "Clarifai Api Fault"
MATCHED = "Matched"
NOT_MATCHED = "Not Matched"


@dataclass(frozen=True)
class Verdict:
    """One answer of the contract plus a human-readable reason.

    ``status``/``message``/``result`` are what the client reads; ``reason``
    says which check decided and by how much (shown in the dashboard, logged
    by the API, never needed by the client).  ``extra`` carries additional
    JSON-safe fields (keypoint count, inliers, key ...).
    """

    status: int
    message: str
    result: bool
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The contract body, without the extras."""
        return {"status": self.status, "message": self.message, "result": self.result}

    def with_extra(self, **extra: Any) -> Verdict:
        """The same answer with ``extra`` merged over this one's extras (the only way to add fields)."""
        return Verdict(self.status, self.message, self.result, self.reason, {**self.extra, **extra})

    def to_json(self) -> dict[str, Any]:
        """Contract body + reason + extras (extras never override the body)."""
        return {**self.extra, "reason": self.reason, **self.body()}
