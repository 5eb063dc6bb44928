"""The profile: every tunable number and the default rule, and its JSON/TOML files.

``Profile`` holds every tunable number.  Some of them change the expensive
step (working resolution, keypoint cap: features must be recomputed); the
others only change the cheap step (ratio test on cached kNN matches, RANSAC,
decision) and can follow a slider live.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from vision.features import FeatureSettings
from vision.geometry import RANSAC_METHODS

RULES = ("robust", "fused", "original")
DEFAULT_RULES = ("robust", "fused")
"""The rules a profile may select as the default (``original`` is for comparison only)."""


@dataclass(frozen=True)
class Profile:
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
    def from_dict(cls, data: dict[str, Any]) -> Profile:
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


def save_profile(thresholds: Profile, path: str | Path) -> Path:
    """Write a thresholds profile; ``.toml`` suffix gives TOML, anything else JSON."""
    path = Path(path)
    path.write_text(dumps_profile(thresholds, "toml" if path.suffix == ".toml" else "json"))
    return path


def dumps_profile(thresholds: Profile, fmt: str = "json") -> str:
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


def loads_profile(text: str) -> Profile:
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
    return Profile.from_dict(table)


def load_profile(path: str | Path | None) -> Profile:
    """Profile from a profile file, or the defaults when ``path`` is None."""
    if path is None:
        return Profile()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read profile {path}: {exc.strerror}") from None
    return loads_profile(text)
