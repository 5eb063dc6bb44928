"""The API's hardening settings (limits, timeouts, pools, retention, auth), parsed in one place.

Every setting is optional (see README "Configuration"); the values come from
:func:`vision.core.settings.load_settings` like every other setting and are
checked with :func:`vision.core.settings.number`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from vision.core.settings import number, truthy
from vision.web.auth import AuthConfig

__all__ = ["ApiSettings"]


@dataclass(frozen=True)
class ApiSettings:
    """Limits of what one request, one client and one user may cost."""

    max_body_bytes: int = 15_000_000
    workers: int = 2
    request_timeout_s: float = 30.0
    body_timeout_s: float = 30.0
    body_idle_timeout_s: float = 10.0
    flow_threads: int = 32
    tag_threads: int = 8
    admission_threads: int = 8
    store_workers: int = 4
    store_timeout_s: float = 5.0
    breaker_failures: int = 5
    breaker_reset_s: float = 15.0
    max_references_per_user: int = 10
    rate_client_per_min: float = 120.0
    rate_user_per_min: float = 30.0
    store_original: bool = False
    quota_user_mb_per_day: float = 20.0
    quota_client_mb_per_day: float = 100.0
    quota_total_mb_per_day: float = 5000.0
    decode_timeout_s: float = 5.0
    quota_user_mb_total: float = 50.0
    quota_total_mb_total: float = 20000.0
    max_references_per_habit: int = 3
    keep_proof_photos: bool = False
    auth: AuthConfig = field(default_factory=AuthConfig)

    @classmethod
    def from_settings(cls, s: Mapping[str, str]) -> ApiSettings:
        """Read every ``VISION_*`` API setting; ``ValueError`` naming a malformed one."""

        def num(name: str, default: float, integer: bool = True, minimum: float = 1) -> float:
            return float(number(s, name, default, integer=integer, minimum=minimum))

        d = cls()
        return cls(
            max_body_bytes=int(num("VISION_MAX_BODY_BYTES", d.max_body_bytes)),
            workers=int(num("VISION_WORKERS", os.cpu_count() or d.workers)),
            request_timeout_s=num("VISION_REQUEST_TIMEOUT_S", d.request_timeout_s, False, 0.1),
            body_timeout_s=num("VISION_BODY_TIMEOUT_S", d.body_timeout_s, False, 0.1),
            body_idle_timeout_s=num("VISION_BODY_IDLE_TIMEOUT_S", d.body_idle_timeout_s, False, 0.1),
            flow_threads=int(num("VISION_FLOW_THREADS", d.flow_threads)),
            tag_threads=int(num("VISION_TAG_THREADS", d.tag_threads)),
            admission_threads=int(num("VISION_ADMISSION_THREADS", d.admission_threads)),
            store_workers=int(num("VISION_STORE_WORKERS", d.store_workers)),
            store_timeout_s=num("VISION_STORE_TIMEOUT_S", d.store_timeout_s, False, 0.05),
            breaker_failures=int(num("VISION_STORE_BREAKER_FAILURES", d.breaker_failures)),
            breaker_reset_s=num("VISION_STORE_BREAKER_RESET_S", d.breaker_reset_s, False, 0.1),
            max_references_per_user=int(num("VISION_MAX_REFERENCES_PER_USER", d.max_references_per_user)),
            rate_client_per_min=num("VISION_RATE_CLIENT_PER_MIN", d.rate_client_per_min, False, 0),
            rate_user_per_min=num("VISION_RATE_USER_PER_MIN", d.rate_user_per_min, False, 0),
            store_original=truthy(s.get("VISION_STORE_ORIGINAL")),
            quota_user_mb_per_day=num("VISION_QUOTA_USER_MB_PER_DAY", d.quota_user_mb_per_day, False, 0),
            quota_client_mb_per_day=num("VISION_QUOTA_CLIENT_MB_PER_DAY", d.quota_client_mb_per_day, False, 0),
            quota_total_mb_per_day=num("VISION_QUOTA_TOTAL_MB_PER_DAY", d.quota_total_mb_per_day, False, 0),
            decode_timeout_s=num("VISION_DECODE_TIMEOUT_S", d.decode_timeout_s, False, 0),
            quota_user_mb_total=num("VISION_QUOTA_USER_MB_TOTAL", d.quota_user_mb_total, False, 0),
            quota_total_mb_total=num("VISION_QUOTA_TOTAL_MB_TOTAL", d.quota_total_mb_total, False, 0),
            max_references_per_habit=_bounded(s, "VISION_MAX_REFERENCES_PER_HABIT", d.max_references_per_habit, 20),
            keep_proof_photos=truthy(s.get("VISION_KEEP_PROOF_PHOTOS")),
            auth=AuthConfig.from_settings(s),
        )


def _bounded(s: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A whole-number setting in ``1..maximum``; ``ValueError`` naming it and its bounds otherwise."""
    value = int(number(s, name, default, integer=True, minimum=1))
    if value > maximum:
        raise ValueError(f"{name} must be 1..{maximum}, got {value}")
    return value
