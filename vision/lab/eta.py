"""Time estimates for the tuning lab's long steps: a steady countdown, and a run's cost before it starts.

``Progress.eta_s`` (rate so far times items left) jumps while threads finish
in bursts; :class:`SteadyEta` turns it into a countdown that only resets when
the estimate is clearly off.  :func:`extrapolate_s` sizes a whole run from a
timed sample, so that the page can say what the slow step will cost before
anyone starts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The raw estimate may differ this much (relative) from the countdown before the countdown is reset.
TOLERANCE = 0.25
#: Seconds of tolerance at the end of a stage, where the relative one gets too small.
MIN_TOLERANCE_S = 5.0


@dataclass
class SteadyEta:
    """A countdown of the seconds left in a stage, fed with ``(stage, done, total, elapsed_s)``.

    Silent (None) until ``max(3, 5 %)`` of the items are done; then it counts
    down with the clock and follows the raw estimate only when that one leaves
    a band of :data:`TOLERANCE` around it.  A new stage starts afresh.
    """

    stage: str | None = None
    anchor_eta_s: float | None = None
    anchor_elapsed_s: float = 0.0

    def update(self, stage: str, done: int, total: int, elapsed_s: float) -> float | None:
        """Seconds left (None while too few items are done to say)."""
        if stage != self.stage:
            self.stage, self.anchor_eta_s, self.anchor_elapsed_s = stage, None, 0.0
        if done <= 0 or done < min(total, max(3, math.ceil(0.05 * total))):
            return None
        raw = elapsed_s / done * (total - done)
        if self.anchor_eta_s is not None:
            countdown = max(self.anchor_eta_s - (elapsed_s - self.anchor_elapsed_s), 0.0)
            if abs(raw - countdown) <= max(TOLERANCE * countdown, MIN_TOLERANCE_S):
                return countdown
        self.anchor_eta_s, self.anchor_elapsed_s = raw, elapsed_s
        return raw


def eta_text(seconds: float | None) -> str:
    """``about 40 s left`` / ``about 3 min left`` (rounded: 5 s steps, whole minutes above 2 min); empty for None."""
    if seconds is None:
        return ""
    if seconds >= 120:
        return f"about {round(seconds / 60)} min left"
    return f"about {max(5, 5 * round(seconds / 5))} s left"


def extrapolate_s(sample_s: float, sample_items: int, total_items: int, workers: int) -> float:
    """Seconds for ``total_items`` at the sample's pace (``sample_items`` timed one after another) on ``workers``.

    Threads share the cores, so the speed-up is at most ``workers``; the sample
    includes per-item start-up, so this errs on the long side.
    """
    if sample_items <= 0 or sample_s < 0 or total_items < 0 or workers < 1:
        raise ValueError(
            f"need a timed sample and workers >= 1, got {sample_items} items in {sample_s} s on {workers} workers"
        )
    return sample_s / sample_items * total_items / workers
