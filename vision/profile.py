"""The profile: every tunable number and the default rule, and its JSON/TOML files.

``Profile`` holds every tunable number.  Some of them change the expensive
step (working resolution, keypoint cap: features must be recomputed); the
others only change the cheap step (ratio test on cached kNN matches, RANSAC,
decision) and can follow a slider live.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from vision.matchers.akaze import FeatureSettings
from vision.matchers.geometry import RANSAC_METHODS
from vision.replay.thresholds import ReplayThresholds
from vision.rules.catalogue import default_rule_names

_REPLAY = ReplayThresholds()

__all__ = ["Profile", "dumps_profile", "load_profile", "loads_profile", "save_profile"]


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
    # The fused rule (vision.rules.fusion): accept when a plausible homography has
    # >= fused_min_inliers inliers and log(1 + inliers) + fused_weight *
    # similarity >= fused_threshold (global descriptors' cosine similarity).
    rule: str = "learned"
    fused_min_inliers: int = 8
    fused_weight: float = 4.0
    fused_threshold: float = 4.8
    # The learned rule (vision.rules.learned_steps): evidence = max(AKAZE plausible
    # inliers, XFeat + LighterGlue checked inliers); accept when the robust
    # rule accepts, or evidence >= learned_min_inliers and log(1 + evidence) +
    # learned_weight * similarity >= learned_threshold.  XFeat inliers count
    # when their homography is convex, not mirrored, stretched at most
    # learned_max_stretch and the inliers cover >= learned_min_coverage of
    # both images; learned_rotations = 1 adds XFeat tries on the query turned
    # by 90-degree steps when the first is inconclusive.  Fitted on
    # shared/data holding out whole scenes (scripts/analyse_learned.py).
    learned_min_inliers: int = 10
    learned_weight: float = 4.0
    learned_threshold: float = 5.04
    learned_max_stretch: float = 16.0
    learned_min_coverage: float = 0.0
    learned_rotations: int = 0
    # What XFeat's and ALIKED's plausibility checks project: "inliers" (the box
    # around the homography's inliers: objects, rooms and far buildings fold
    # only outside the matched part) or "frame" (the whole reference frame).
    learned_outline: str = "inliers"
    # The learned rule's second opinion (vision.rules.second_opinion): a pair the
    # rule rejects whose global similarity is >= second_opinion_min_similarity
    # (the grey zone: it looks alike, the inliers are too few) is matched again
    # with ALIKED + LightGlue; >= second_opinion_min_inliers checked inliers
    # accept it, and fewer count as the learned score's evidence (same
    # learned_min_inliers and learned_threshold).  0 inliers = off.  Picked on
    # shared/data holding out whole scenes (scripts/measure_aliked.py).
    second_opinion_min_similarity: float = 0.4
    second_opinion_min_inliers: int = 21
    # The original note's rule
    original_min_area_px: float = 30.0
    # Tag check
    tag_min_confidence: float = 0.2
    # Replay check (vision.replay.check): a new photo that repeats the reference or
    # an accepted proof is rejected.  "on" / "off"; replay_<name> is
    # ReplayThresholds.<name> (chosen on the replay set, see
    # scripts/build_replay_set.py); replay_keep proofs are remembered per user.
    replay_check: str = "on"
    replay_min_inliers: int = _REPLAY.min_inliers
    replay_min_inlier_fraction: float = _REPLAY.min_inlier_fraction
    replay_min_detail_ncc: float = _REPLAY.min_detail_ncc
    replay_max_similarity_residual: float = _REPLAY.max_similarity_residual
    replay_max_angle_off_deg: float = _REPLAY.max_angle_off_deg
    replay_min_framed_ncc: float = _REPLAY.min_framed_ncc
    replay_min_frame_inside: float = _REPLAY.min_frame_inside
    replay_max_border_flatness: float = _REPLAY.max_border_flatness
    replay_min_cell_share: float = _REPLAY.min_cell_share
    replay_min_cells: int = _REPLAY.min_cells
    replay_min_content_ncc: float = _REPLAY.min_content_ncc
    replay_keep: int = 30
    # Cross-user index (vision.replay.global_index): newest accepted proofs kept, compact, no user ids; 0 = off.
    replay_global_keep: int = 200
    # Capture time (EXIF DateTimeOriginal) older than this many hours is
    # reported in the verdict's extras; 0 = off (many apps strip EXIF).
    capture_max_age_h: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            (self.min_keypoints >= 0, "min_keypoints must be >= 0"),
            (0 < self.ratio <= 1, "ratio must be in (0, 1]"),
            (self.ransac_method in RANSAC_METHODS, f"ransac_method must be one of {sorted(RANSAC_METHODS)}"),
            (0 < self.ransac_reproj_px <= 50, "ransac_reproj_px must be in (0, 50]"),
            (self.min_inliers >= 4, "min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 <= self.min_area_fraction <= 1, "min_area_fraction must be in [0, 1]"),
            (self.rule in default_rule_names(), f"rule must be one of {', '.join(default_rule_names())}"),
            (self.fused_min_inliers >= 4, "fused_min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 < self.fused_weight <= 50, "fused_weight must be in (0, 50]"),
            (0 < self.fused_threshold <= 20, "fused_threshold must be in (0, 20]"),
            (self.learned_min_inliers >= 4, "learned_min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 <= self.learned_weight <= 50, "learned_weight must be in [0, 50]"),
            (0 < self.learned_threshold <= 20, "learned_threshold must be in (0, 20]"),
            (1 <= self.learned_max_stretch <= 1e6, "learned_max_stretch must be in [1, 1e6]"),
            (0 <= self.learned_min_coverage <= 1, "learned_min_coverage must be in [0, 1]"),
            (self.learned_rotations in (0, 1), "learned_rotations must be 0 or 1"),
            (self.learned_outline in ("inliers", "frame"), "learned_outline must be 'inliers' or 'frame'"),
            (-1 <= self.second_opinion_min_similarity <= 1, "second_opinion_min_similarity must be in [-1, 1]"),
            (
                self.second_opinion_min_inliers == 0 or self.second_opinion_min_inliers >= 4,
                "second_opinion_min_inliers must be 0 (off) or >= 4 (a homography needs 4 points)",
            ),
            (self.original_min_area_px >= 0, "original_min_area_px must be >= 0"),
            (0 <= self.tag_min_confidence <= 1, "tag_min_confidence must be in [0, 1]"),
            (self.replay_check in ("on", "off"), "replay_check must be 'on' or 'off'"),
            (self.replay_min_inliers >= 4, "replay_min_inliers must be >= 4 (a homography needs 4 points)"),
            (0 <= self.replay_min_inlier_fraction <= 1, "replay_min_inlier_fraction must be in [0, 1]"),
            (-1 <= self.replay_min_detail_ncc <= 1, "replay_min_detail_ncc must be in [-1, 1]"),
            (-1 <= self.replay_min_framed_ncc <= 1, "replay_min_framed_ncc must be in [-1, 1]"),
            (self.replay_max_similarity_residual >= 0, "replay_max_similarity_residual must be >= 0"),
            (0 <= self.replay_max_angle_off_deg <= 45, "replay_max_angle_off_deg must be in [0, 45]"),
            (0 <= self.replay_min_frame_inside <= 1, "replay_min_frame_inside must be in [0, 1]"),
            (self.replay_max_border_flatness >= 0, "replay_max_border_flatness must be >= 0"),
            (0 <= self.replay_min_cell_share <= 1, "replay_min_cell_share must be in [0, 1]"),
            (self.replay_min_cells >= 1, "replay_min_cells must be >= 1"),
            (-1 <= self.replay_min_content_ncc <= 1, "replay_min_content_ncc must be in [-1, 1]"),
            (1 <= self.replay_keep <= 1000, "replay_keep must be in [1, 1000]"),
            (0 <= self.replay_global_keep <= 100_000, "replay_global_keep must be in [0, 100000]"),
            (0 <= self.capture_max_age_h <= 24 * 3650, "capture_max_age_h must be in [0, 87600] (0 = off)"),
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


def save_profile(thresholds: Profile, path: str | Path, provenance: Mapping[str, Any] | None = None) -> Path:
    """Write a thresholds profile; ``.toml`` suffix gives TOML, anything else JSON (see :func:`dumps_profile`)."""
    path = Path(path)
    path.write_text(dumps_profile(thresholds, "toml" if path.suffix == ".toml" else "json", provenance))
    return path


def dumps_profile(thresholds: Profile, fmt: str = "json", provenance: Mapping[str, Any] | None = None) -> str:
    """Profile text in ``json`` or ``toml`` (table ``[thresholds]``).

    ``provenance`` (which data, which commit, which rates: :func:`vision.lab.runs.provenance`)
    is written beside the thresholds, as ``provenance`` (JSON) or a ``[provenance]`` table of
    dotted keys (TOML); loading a profile reads the thresholds only.
    """
    data = thresholds.to_dict()
    if fmt == "json":
        body: dict[str, Any] = {"thresholds": data}
        if provenance:
            body["provenance"] = dict(provenance)
        return json.dumps(body, indent=2) + "\n"
    if fmt == "toml":
        lines = ["[thresholds]"] + [f"{k} = {_toml_value(val)}" for k, val in data.items()]
        if provenance:
            lines += ["", "[provenance]"] + [f'"{k}" = {json.dumps(str(val))}' for k, val in _flat(provenance)]
        return "\n".join(lines) + "\n"
    raise ValueError(f"format must be json or toml, got {fmt!r}")


def _flat(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        out += _flat(value, name + ".") if isinstance(value, Mapping) else [(name, value)]
    return out


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
