"""Thresholds, the evidence a verification produces, and the verdicts.

``Thresholds`` holds every tunable number.  Some of them change the expensive
step (working resolution, keypoint cap: features must be recomputed); the
others only change the cheap step (ratio test on cached kNN matches, RANSAC,
decision) and can follow a slider live.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from vision import verdict as v
from vision.features import FeatureSettings
from vision.geometry import RANSAC_METHODS

RULES = ("robust", "fused", "original")
DEFAULT_RULES = ("robust", "fused")
"""The rules a profile may select as the default (``original`` is for comparison only)."""


@dataclass(frozen=True)
class Thresholds:
    """Every tunable number of the three flows (one profile file).

    Defaults were chosen on ``shared/data`` holding out scenes (see README).
    """

    # Register
    min_keypoints: int = 80
    # Features (expensive: a change recomputes features)
    working_side: int = 1000
    max_keypoints: int = 2000
    # Matching and geometry (cheap: reruns on cached kNN matches)
    ratio: float = 0.8
    ransac_method: str = "magsac"
    ransac_reproj_px: float = 5.0
    # Decision
    min_inliers: int = 15
    min_area_fraction: float = 0.01
    # The fused rule (vision.fusion): accept when a plausible homography has
    # >= fused_min_inliers inliers and log(1 + inliers) + fused_weight *
    # similarity >= fused_threshold (global descriptors' cosine similarity).
    rule: str = "fused"
    fused_min_inliers: int = 8
    fused_weight: float = 4.0
    fused_threshold: float = 4.8
    # The original note's rule
    original_min_area_px: float = 30.0
    # Tag check
    tag_min_confidence: float = 0.2

    def __post_init__(self) -> None:
        checks = [
            (self.min_keypoints >= 0, "min_keypoints must be >= 0"),
            (0 < self.ratio <= 1, "ratio must be in (0, 1]"),
            (self.ransac_method in RANSAC_METHODS, f"ransac_method must be one of {sorted(RANSAC_METHODS)}"),
            (0 < self.ransac_reproj_px <= 50, "ransac_reproj_px must be in (0, 50]"),
            (self.min_inliers >= 4, "min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 <= self.min_area_fraction <= 1, "min_area_fraction must be in [0, 1]"),
            (self.rule in DEFAULT_RULES, f"rule must be one of {', '.join(DEFAULT_RULES)}"),
            (self.fused_min_inliers >= 4, "fused_min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 < self.fused_weight <= 50, "fused_weight must be in (0, 50]"),
            (0 < self.fused_threshold <= 20, "fused_threshold must be in (0, 20]"),
            (self.original_min_area_px >= 0, "original_min_area_px must be >= 0"),
            (0 <= self.tag_min_confidence <= 1, "tag_min_confidence must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        FeatureSettings(self.working_side, self.max_keypoints)  # validates both

    @property
    def feature_settings(self) -> FeatureSettings:
        return FeatureSettings(working_side=self.working_side, max_keypoints=self.max_keypoints)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Build from a (possibly partial) mapping; unknown keys are an error."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        values = {name: _coerce(name, value, type(getattr(cls(), name))) for name, value in data.items()}
        return replace(cls(), **values)


def _coerce(name: str, value: Any, kind: type) -> Any:
    """Convert a profile value to the field's type without silently changing it."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}")
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}") from None


def save_profile(thresholds: Thresholds, path: str | Path) -> Path:
    """Write a thresholds profile; ``.toml`` suffix gives TOML, anything else JSON."""
    path = Path(path)
    path.write_text(dumps_profile(thresholds, "toml" if path.suffix == ".toml" else "json"))
    return path


def dumps_profile(thresholds: Thresholds, fmt: str = "json") -> str:
    """Profile text in ``json`` or ``toml`` (flat table ``[thresholds]``)."""
    data = thresholds.to_dict()
    if fmt == "json":
        return json.dumps({"thresholds": data}, indent=2) + "\n"
    if fmt == "toml":
        lines = ["[thresholds]"] + [f"{k} = {_toml_value(val)}" for k, val in data.items()]
        return "\n".join(lines) + "\n"
    raise ValueError(f"format must be json or toml, got {fmt!r}")


def _toml_value(value: Any) -> str:
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return json.dumps(value)


def loads_profile(text: str) -> Thresholds:
    """Parse profile text (JSON or TOML, detected), with or without a ``thresholds`` table."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"profile is neither JSON nor TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("profile must be a table of thresholds")
    table = data.get("thresholds", data)
    if not isinstance(table, dict):
        raise ValueError("profile's 'thresholds' must be a table")
    return Thresholds.from_dict(table)


def load_profile(path: str | Path | None) -> Thresholds:
    """Thresholds from a profile file, or the defaults when ``path`` is None."""
    if path is None:
        return Thresholds()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read profile {path}: {exc.strerror}") from None
    return loads_profile(text)


@dataclass(frozen=True)
class MatchEvidence:
    """What the cheap step found for one pair (everything the decision needs).

    Attributes
    ----------
    n_ref_keypoints, n_query_keypoints : int
        Keypoints detected on each side.
    n_candidates : int
        kNN candidate matches (one per reference descriptor).
    tentative : np.ndarray
        ``(M,)`` bool mask over the candidates that passed the ratio test.
    inliers : np.ndarray
        ``(M,)`` bool mask over the candidates that are homography inliers.
    H : np.ndarray or None
        Reference -> query homography at working resolution.
    outline : np.ndarray or None
        ``(4, 2)`` reference frame projected into the query.
    area_fraction : float
        Projected outline area / query frame area (0 without ``H``).
    problems : list[str]
        Why ``H`` is implausible (empty when it is fine).
    """

    n_ref_keypoints: int
    n_query_keypoints: int
    n_candidates: int
    tentative: np.ndarray
    inliers: np.ndarray
    H: np.ndarray | None
    outline: np.ndarray | None
    area_fraction: float
    problems: list[str]

    @property
    def n_tentative(self) -> int:
        return int(self.tentative.sum())

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())

    @property
    def inlier_ratio(self) -> float:
        return self.n_inliers / self.n_tentative if self.n_tentative else 0.0

    @property
    def score(self) -> float:
        """Inliers of a plausible homography, else 0 (the ROC score of ``robust``)."""
        return float(self.n_inliers) if self.H is not None and not self.problems else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "ref_keypoints": self.n_ref_keypoints,
            "query_keypoints": self.n_query_keypoints,
            "tentative_matches": self.n_tentative,
            "inliers": self.n_inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "area_fraction": round(self.area_fraction, 4),
            "homography_problems": list(self.problems),
        }


def decide_registration(n_keypoints: int, thresholds: Thresholds) -> v.Verdict:
    """``Good Picture`` when the photo has enough keypoints to verify against later."""
    extra = {"keypoints": int(n_keypoints)}
    if n_keypoints < thresholds.min_keypoints:
        reason = f"{n_keypoints} keypoints < {thresholds.min_keypoints} required: too plain to verify against"
        if thresholds.min_keypoints > thresholds.max_keypoints:
            reason += f" (keypoints are counted up to max_keypoints = {thresholds.max_keypoints})"
        return v.Verdict(400, v.TOO_LITTLE_FEATURES, False, reason, extra)
    reason = f"{n_keypoints} keypoints >= {thresholds.min_keypoints} required"
    return v.Verdict(200, v.GOOD_PICTURE, True, reason, extra)


def decide_verification(evidence: MatchEvidence, thresholds: Thresholds) -> v.Verdict:
    """The robust rule: a plausible homography with enough inliers and a visible outline.

    Checks, in order (the first that fails is the reason): a homography could
    be fitted; it is geometrically plausible; inliers >= ``min_inliers``;
    outline area >= ``min_area_fraction`` of the query frame.
    """
    extra = evidence.summary()
    failure = _first_failure(evidence, thresholds)
    if failure:
        return v.Verdict(200, v.WRONG_PICTURE, False, failure, extra)
    reason = (
        f"{evidence.n_inliers} inliers >= {thresholds.min_inliers}, outline {evidence.area_fraction:.1%} of the frame"
    )
    return v.Verdict(200, v.COMPLETE, True, reason, extra)


def _first_failure(e: MatchEvidence, t: Thresholds) -> str:
    if e.H is None:
        return f"no homography: {e.n_tentative} tentative matches (at least 4 needed, {t.min_inliers} inliers required)"
    if e.problems:
        return "implausible homography: " + "; ".join(e.problems)
    if e.n_inliers < t.min_inliers:
        return f"{e.n_inliers} inliers < {t.min_inliers} required (short by {t.min_inliers - e.n_inliers})"
    if e.area_fraction < t.min_area_fraction:
        return f"outline covers {e.area_fraction:.2%} of the frame < {t.min_area_fraction:.2%} required"
    return ""


@dataclass(frozen=True)
class OriginalEvidence:
    """What the original note's pipeline computes for a pair.

    ``area_px`` is the shoelace area of the projected outline (the note's
    only decision value); ``None`` where the note's code would have crashed
    (no descriptors, no homography), which ``problem`` then explains.
    """

    n_ref_keypoints: int
    n_query_keypoints: int
    n_matches: int
    area_px: float | None
    problem: str = ""
    # What the note's rule looked at, for drawing (full-resolution pixels):
    # its best matches' ``(N, 2)`` positions, the ``(4, 2)`` outline, and the
    # photos' ``(width, height)``.
    ref_points: np.ndarray | None = None
    query_points: np.ndarray | None = None
    outline: np.ndarray | None = None
    ref_size: tuple[int, int] = (0, 0)
    query_size: tuple[int, int] = (0, 0)

    @property
    def score(self) -> float:
        return float(self.area_px) if self.area_px is not None else 0.0


def decide_original(evidence: OriginalEvidence, thresholds: Thresholds) -> v.Verdict:
    """The note's decision: accept when the outline's shoelace area exceeds 30 px²."""
    extra = {
        "ref_keypoints": evidence.n_ref_keypoints,
        "query_keypoints": evidence.n_query_keypoints,
        "matches": evidence.n_matches,
        "area_px": evidence.area_px,
    }
    if evidence.area_px is None:
        return v.Verdict(200, v.WRONG_PICTURE, False, f"original rule: {evidence.problem}", extra)
    if evidence.area_px <= thresholds.original_min_area_px:
        reason = f"original rule: area {evidence.area_px:.0f} px² <= {thresholds.original_min_area_px:g}"
        return v.Verdict(200, v.WRONG_PICTURE, False, reason, extra)
    reason = f"original rule: area {evidence.area_px:.0f} px² > {thresholds.original_min_area_px:g}"
    return v.Verdict(200, v.COMPLETE, True, reason, extra)
