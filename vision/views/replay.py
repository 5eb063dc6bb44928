"""Pictures of the replay check for the dashboard: the aligned difference image.

The check compares the two photos' fine detail after aligning the earlier
one onto the new one; the picture shows exactly that: the earlier photo
warped by the check's homography, the new photo, and the absolute
difference of their band-passed detail (the quantity whose correlation
decides).  A replay's difference is dark everywhere; a genuine new photo
lights up where parallax, light or objects changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.core import verdict as v
from vision.matchers.akaze import Features
from vision.profile import Profile
from vision.replay.check import Alignment, Candidate, ReplayFinding, align_thumbnail, detail, find_replay
from vision.replay.fingerprint import Fingerprint, make_fingerprint
from vision.replay.memory import ReplayOutcome, replay_thresholds, with_replay_verdict

__all__ = ["DISPLAY_SCALE", "difference_image", "replay_against_reference", "replay_view"]

DISPLAY_SCALE = 3
"""Thumbnails are enlarged this many times (nearest neighbour) for display."""
_DIFF_FULL_SCALE = 40.0  # detail difference (gray levels) shown as full brightness


def difference_image(candidate: Fingerprint, query_fp: Fingerprint, H: np.ndarray) -> np.ndarray:
    """Side by side: earlier photo aligned, new photo, detail difference (heat map).

    Parameters
    ----------
    candidate, query_fp : Fingerprint
        The earlier photo's and the new photo's fingerprints.
    H : np.ndarray
        ``(3, 3)`` candidate-thumbnail -> query-thumbnail homography
        (``ReplayEvidence.H``).

    Returns
    -------
    np.ndarray
        ``(h * s, 3 * w * s, 3)`` BGR uint8 with ``s = DISPLAY_SCALE``;
        outside the aligned area the difference panel is gray.
    """
    warped, valid = align_thumbnail(candidate, query_fp.thumb, H)
    diff = np.abs(detail(warped) - detail(query_fp.thumb))
    level = np.clip(diff * (255.0 / _DIFF_FULL_SCALE), 0, 255).astype(np.uint8)
    heat = cv2.applyColorMap(level, cv2.COLORMAP_INFERNO)
    heat[~valid] = 96
    shown_earlier = np.where(valid, warped, 0).astype(np.uint8)
    panels = [cv2.cvtColor(shown_earlier, cv2.COLOR_GRAY2BGR), cv2.cvtColor(query_fp.thumb, cv2.COLOR_GRAY2BGR), heat]
    strip = np.hstack(panels)
    s = DISPLAY_SCALE
    return cv2.resize(strip, (strip.shape[1] * s, strip.shape[0] * s), interpolation=cv2.INTER_NEAREST)


def replay_against_reference(
    ref_image: np.ndarray,
    ref_features: Features,
    query_image: np.ndarray,
    query_features: Features,
    thresholds: Profile,
    alignment: Alignment | None = None,
) -> tuple[ReplayFinding, np.ndarray | None]:
    """The replay check of a new photo against a reference, with its difference image.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        ``(H, W, 3)`` BGR uint8 working images.
    ref_features, query_features : Features
        Their AKAZE features.

    Returns
    -------
    finding, picture
        The check's finding (by the profile's replay thresholds) and the
        :func:`difference_image`, or None when no homography aligned them.
    """
    ref_fp = make_fingerprint(ref_image, ref_features)
    query_fp = make_fingerprint(query_image, query_features)
    candidates = [Candidate("the reference photo", ref_fp, "reference", alignment)]
    finding = find_replay(candidates, query_features, query_fp, replay_thresholds(thresholds))
    H = finding.evidence.H if finding.evidence is not None else None
    return finding, (difference_image(ref_fp, query_fp, H) if H is not None else None)


def replay_view(
    verdict: v.Verdict,
    ref_image: np.ndarray,
    ref_features: Features,
    query_image: np.ndarray,
    query_features: Features,
    thresholds: Profile,
    alignment: Alignment | None = None,
) -> tuple[v.Verdict, ReplayFinding | None, np.ndarray | None]:
    """The dashboard's replay step: the verdict after the replay rule, the finding and the picture.

    As in the verify flow, only an accepted photo can become a replay
    (``You took wrong picture`` with ``replay: true``); the difference image
    is drawn whenever the two photos align, to show what the rule measured.
    With ``replay_check`` off nothing is checked: ``(verdict + replay false, None, None)``.
    """
    if thresholds.replay_check != "on":
        return with_replay_verdict(verdict, ReplayOutcome(None, {"replay": False, "replay_check": "off"})), None, None
    finding, picture = replay_against_reference(
        ref_image, ref_features, query_image, query_features, thresholds, alignment
    )
    extras: dict = {"replay": False, "replay_check": "on"}
    if finding.evidence is not None:
        extras["replay_evidence"] = finding.evidence.to_json()
    if verdict.result and finding.replay:
        extras.update(replay=True, replay_of={"kind": "reference", "id": "reference", "label": "the reference photo"})
        return with_replay_verdict(verdict, ReplayOutcome(finding, extras)), finding, picture
    return with_replay_verdict(verdict, ReplayOutcome(None, extras)), finding, picture
