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
from vision.profile import Profile
from vision.replay.check import ReplayFinding
from vision.replay.memory import replay_thresholds
from vision.views.match import Figure, MatchView, RuleOutcome, match_view
from vision.views.replay import finding_picture

__all__ = ["ReplayStep", "new_photo_words", "replay_match_view", "replay_step"]


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
        """The difference image's caption: what it shows and, for a new photo, why it is new ("" without one).

        A replay's reason is the verdict's (said once, on the card); a new
        photo's is worded here from the finding's numbers, each clause true of
        this photo (the check's own sentence joins alternatives with "or").
        """
        if self.picture is None or self.finding is None:
            return ""
        panels = "Replay check: the reference aligned onto the new photo, the new photo, and the difference of their fine detail"
        if self.finding.replay:
            return f"{panels} (dark: nothing changed, a copy)."
        return f"{panels} (bright where the scene changed). {new_photo_words(self.finding, self.outcome.thresholds)}"


def new_photo_words(finding: ReplayFinding, thresholds: Profile) -> str:
    """Why the replay check found a photo new, in one true sentence with its numbers (3 decimals near a line)."""
    e, t = finding.evidence, replay_thresholds(thresholds)
    if e is None:
        return "A new photo: " + finding.reason
    if e.n_inliers < t.min_inliers:
        return f"A new photo: only {e.n_inliers} of the reference's points align with it ({t.min_inliers} for a copy)."
    ncc = _number(e.detail_ncc, (t.min_detail_ncc, t.min_framed_ncc))
    if e.detail_ncc < t.min_detail_ncc:
        return f"A new photo: its fine detail differs (correlation {ncc}; a copy has {t.min_detail_ncc:.2f} or more)."
    changed = []
    if e.similarity_residual > t.max_similarity_residual:
        changed.append(
            f"the perspective changed ({e.similarity_residual:.2%}; a copy at most {t.max_similarity_residual:.2%})"
        )
    if e.angle_off_deg > t.max_angle_off_deg:
        changed.append(f"the camera rolled {e.angle_off_deg:.1f} degrees (a copy at most {t.max_angle_off_deg:.1f})")
    view = " and ".join(changed) or "the view is new"
    return f"A new photo: its fine detail is close (correlation {ncc}) but {view}, with no screen border around it."


def _number(value: float, lines: tuple[float, ...]) -> str:
    """``value`` with 2 decimals, or 3 when 2 would print one of the thresholds it is compared with."""
    two = f"{value:.2f}"
    return f"{value:.3f}" if any(two == f"{x:.2f}" and value != x for x in lines) else two


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
    # Said once: the headline in words; the check's numbers are the caption's and the verdict's reason's.
    figures = (Figure("Replay check", "an old photo sent again", help=step.finding.reason),)
    return replace(
        view,
        headline=f"Not a new photo: this is {label} sent again",
        detail="A proof must be a new photo, taken now.",
        figures=figures,
    )
