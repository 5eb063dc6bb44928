"""The dashboard's replay step, shared by the Verify and Demo pages.

After the verification rule, the replay rule asks whether the new photo is
the reference sent again (re-saved, screenshotted, cropped).  This module runs
it exactly as the verify flow does (aligned by the verification's own
homography), and words its result for people: the headline, the detail and
the caption of the aligned difference image all come from the replay
finding that made the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vision.matchers.akaze import Features
from vision.profile import Profile
from vision.replay.check import ReplayFinding
from vision.replay.memory import verification_alignment
from vision.views.match import MatchView, RuleOutcome, match_view
from vision.views.outcome import geometric_evidence
from vision.views.replay import replay_view

__all__ = ["ReplayStep", "replay_match_view", "replay_step"]


@dataclass(frozen=True)
class ReplayStep:
    """A rule's outcome after the replay rule, with the replay finding and its picture.

    ``picture`` is the :func:`~vision.views.replay.difference_image`
    (``(h, 3w, 3)`` BGR uint8), None when the check was off, not run (the
    original rule) or the photos did not align.
    """

    outcome: RuleOutcome
    finding: ReplayFinding | None = None
    picture: np.ndarray | None = None

    @property
    def replay(self) -> bool:
        """Whether the replay rule turned the verdict into ``You took wrong picture``."""
        return self.outcome.verdict.extra.get("replay") is True

    @property
    def caption(self) -> str:
        """The difference image's caption, from the finding ("" without a picture)."""
        if self.picture is None or self.finding is None:
            return ""
        said = "Replay" if self.finding.replay else "New photo"
        return (
            "Replay check: reference aligned onto the new photo (left), new photo (middle), "
            f"difference of their fine detail (right). {said}: {self.finding.reason}"
        )


def replay_step(
    outcome: RuleOutcome,
    ref_image: np.ndarray,
    ref_features: Features,
    query_image: np.ndarray,
    query_features: Features,
    thresholds: Profile,
) -> ReplayStep:
    """Run the replay rule on ``outcome`` as the verify flow does (the original rule is left as it is).

    ``ref_image``/``query_image`` are ``(H, W, 3)`` BGR uint8 working images,
    with their AKAZE features.  With ``replay_check`` off the verdict only
    gains ``replay: false`` and there is no picture.
    """
    if outcome.rule == "original":  # the design note's rule has no AKAZE homography to align by
        return ReplayStep(outcome)
    alignment = verification_alignment(geometric_evidence(outcome), ref_features)
    verdict, finding, picture = replay_view(
        outcome.verdict, ref_image, ref_features, query_image, query_features, thresholds, alignment
    )
    return ReplayStep(replace(outcome, verdict=verdict), finding, picture)


def replay_match_view(step: ReplayStep, noun: str = "thing") -> MatchView:
    """The rule's :class:`MatchView`; for a replay, a plain headline and the finding's reason as detail."""
    view = match_view(step.outcome, noun)
    if not step.replay or step.finding is None:
        return view
    label = step.finding.candidate.label if step.finding.candidate is not None else "an earlier photo"
    reason = step.finding.reason
    return replace(view, headline=f"Not a new photo: this repeats {label}", detail=reason[:1].upper() + reason[1:])
