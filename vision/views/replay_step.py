"""The dashboard's replay step, shared by the Verify and Demo pages.

After the verification rule, the replay rule asks whether the new photo is
the reference sent again (re-saved, screenshotted, cropped).  The check runs
in the verify flow (:func:`vision.flows.verify.replay_step`, as for the API);
this module words its result for people: the headline, the detail and
the caption of the aligned difference image all come from the replay
finding that made the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vision.flows.verify import Verification
from vision.replay.check import ReplayFinding
from vision.views.match import MatchView, RuleOutcome, match_view
from vision.views.replay import finding_picture

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


def replay_step(verification: Verification, outcome: RuleOutcome) -> ReplayStep:
    """The page's view of the replay step that :func:`vision.flows.verify.replay_step` ran on ``verification``.

    ``outcome`` is the rule's outcome after that step (its verdict carries
    the replay's extras); the picture is what the check compared, drawn only
    when it ran and aligned the photos.
    """
    finding = verification.replay.finding if verification.replay is not None else None
    query = verification.query
    picture = None if finding is None or query is None else finding_picture(finding, query.image, query.features)
    return ReplayStep(outcome, finding, picture)


def replay_match_view(step: ReplayStep, noun: str = "thing") -> MatchView:
    """The rule's :class:`MatchView`; for a replay, a plain headline and the finding's reason as detail."""
    view = match_view(step.outcome, noun)
    if not step.replay or step.finding is None:
        return view
    label = step.finding.candidate.label if step.finding.candidate is not None else "an earlier photo"
    reason = step.finding.reason
    return replace(view, headline=f"Not a new photo: this repeats {label}", detail=reason[:1].upper() + reason[1:])
