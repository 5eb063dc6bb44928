"""How sure a rate measured on a small labelled set is: Wilson intervals and sample-size warnings.

A rate from 16 different pairs moves in steps of 6.25 %; "0.0 % false accepts"
from them says the true rate is below about 19 % (95 %), not that it is zero.
Everything here is arithmetic on counts (no Streamlit, no ScoredSet), so that
the page, the CLI and the tests share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A proportion ``k / n`` with its Wilson score interval ``[low, high]``.

    With ``n == 0`` the rate is ``nan`` and the interval ``[0, 1]``: nothing is known.
    """

    k: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def text(self, digits: int = 1) -> str:
        """``1.2 % (0.3-4.5 %)``, or ``n/a`` without any pair."""
        if not self.n:
            return "n/a"
        return f"{self.rate:.{digits}%} ({self.low * 100:.{digits}f}-{self.high * 100:.{digits}f} %)"

    def counts(self) -> str:
        """``3 / 250``."""
        return f"{self.k} / {self.n}"

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "k": self.k,
            "n": self.n,
            "rate": None if not self.n else round(self.rate, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
        }


def wilson(k: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval of ``k`` successes in ``n`` trials (95 % by default).

    Unlike ``p ± z·sqrt(p(1-p)/n)`` it stays inside ``[0, 1]`` and does not
    collapse to a point at ``k = 0`` or ``k = n``: 0 of 16 gives ``[0, 19.4 %]``.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(0, 0, 0.0, 1.0)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Exact ends where the data sit on them (rounding would put 1e-17 there).
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(k, n, low, high)


def pairs_to_show(target_far: float) -> int | None:
    """The fewest different pairs whose ``0 / n`` has a Wilson 95 % upper bound at or below ``target_far``.

    ``wilson(0, n).high = z² / (n + z²)``; None for a target of 0 (no finite set shows it).
    """
    if target_far <= 0:
        return None
    if target_far >= 1:
        return 1
    return max(math.ceil(Z95 * Z95 * (1 - target_far) / target_far - 1e-9), 1)


@dataclass(frozen=True)
class RateIntervals:
    """The three rates of a rule on a set, each with its interval and counts."""

    far: Interval  # false accepts / different pairs
    tar: Interval  # true accepts / same pairs
    frr: Interval  # false rejects / same pairs

    def to_json(self) -> dict[str, dict]:
        return {
            "false_accept_rate": self.far.to_json(),
            "true_accept_rate": self.tar.to_json(),
            "false_reject_rate": self.frr.to_json(),
        }


def rate_intervals(true_accepts: int, positives: int, false_accepts: int, negatives: int) -> RateIntervals:
    """Wilson intervals of FAR, TAR and FRR from a rule's counts (e.g. :class:`vision.metrics.Rates`)."""
    return RateIntervals(
        wilson(false_accepts, negatives), wilson(true_accepts, positives), wilson(positives - true_accepts, positives)
    )


# --------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------


def resolution_warning(target_far: float, negatives: int) -> str | None:
    """A warning when the set cannot measure ``target_far``: the target is finer than one negative.

    With ``n`` different pairs the measured FAR moves in steps of ``1 / n``; a
    target below that step can only mean "no false accept on these pairs",
    whose 95 % upper bound is ``wilson(0, n).high``.
    """
    if negatives <= 0:
        return "The set has no different pairs: a false-accept rate cannot be measured on it."
    step = 1.0 / negatives
    if target_far >= step:
        return None
    bound = wilson(0, negatives).high
    return (
        f"A target of {target_far:.1%} is finer than one different pair out of {negatives} ({step:.1%}): on this set "
        f"it can only mean no false accept at all, and 0 / {negatives} still allows a true rate up to {bound:.1%} "
        f"(95 %). About {pairs_to_show(target_far) or 'infinitely many'} different pairs would be needed to show it."
    )


def edge_warnings(values: Mapping[str, float], ranges: Mapping[str, tuple[float, float]]) -> list[str]:
    """One warning per recommended value that sits on an end of its slider's range.

    A value at the end was probably clipped there: the data asked for a number the slider cannot show.
    ``values`` and ``ranges`` are keyed by threshold name; names without a range are ignored.
    """
    out = []
    for name, value in values.items():
        if name not in ranges:
            continue
        lo, hi = ranges[name]
        end = "lowest" if value <= lo else "highest" if value >= hi else None
        if end:
            out.append(
                f"{name} = {value:g} is the {end} value of its slider ({lo:g}-{hi:g}): the data may ask for a "
                "value outside the range, and nothing on this set shows how far."
            )
    return out


#: A margin of this many inliers or fewer to the nearest different pair warns (issue 19: "within 1-2 inliers").
MARGIN_INLIERS = 2


def margin_warning(
    min_inliers: float, highest_negative: float, negatives: int, within: float = MARGIN_INLIERS
) -> str | None:
    """A warning when ``min_inliers`` is within ``within`` inliers of the highest different pair it rejects.

    ``highest_negative`` is that pair's inlier count (``nan`` or below 0 without one). That
    many more inliers on a new photo of a different scene would then be accepted.
    """
    if negatives <= 0 or not (math.isfinite(highest_negative) and math.isfinite(min_inliers)) or highest_negative < 0:
        return None
    gap = min_inliers - highest_negative
    if gap > within:
        return None
    more = max(math.ceil(gap), 1)
    return (
        f"min inliers = {min_inliers:g} is {more} inlier{'s' if more > 1 else ''} above the highest different pair "
        f"({highest_negative:g} inliers): {more} more on a photo of another scene and it is accepted. Keep a margin, "
        "or look at that pair."
    )


def far_bound_warning(far: Interval, target_far: float, rule: str) -> str | None:
    """A warning when the Wilson 95 % upper bound of ``rule``'s false-accept rate exceeds ``target_far``.

    The measured rate may meet the target while the set is too small to show it: 0 of 23
    different pairs is compatible with a true rate up to 14.3 %.
    """
    if not far.n or far.high <= target_far:
        return None
    more = pairs_to_show(target_far)
    need = f" (about {more} different pairs with no false accept would)" if more and far.k == 0 else ""
    return (
        f"The {rule} rule accepts {far.counts()} different pairs here ({far.rate:.1%}), but the 95 % upper bound of "
        f"its false-accept rate is {far.high:.1%}, above the target of {target_far:.1%}: this set cannot show that "
        f"the target is met{need}."
    )


def highest_rejected(scores: Sequence[float], labels: Sequence[int], threshold: float) -> float:
    """The largest score of a different pair (label 0) below ``threshold``; ``nan`` when none is."""
    neg = [float(s) for s, y in zip(scores, labels, strict=True) if not y and s < threshold]
    return max(neg) if neg else float("nan")


def recommendation_warnings(
    target_far: float,
    negatives: int,
    values: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]],
    highest_negative: float,
    far: Interval | None = None,
    rule: str = "robust",
) -> list[str]:
    """All the warnings about one recommendation, most basic first (resolution, edges, FAR bound, margin).

    ``far`` is ``rule``'s false accepts on the pairs tuned on; the bound warning is left out when the
    resolution warning already says it (no false accept and a target finer than one pair).
    """
    resolution = resolution_warning(target_far, negatives)
    found = [resolution, *edge_warnings(values, ranges)]
    if far is not None and not (resolution and far.k == 0):
        found.append(far_bound_warning(far, target_far, rule))
    found.append(margin_warning(values.get("min_inliers", float("nan")), highest_negative, negatives))
    return [w for w in found if w]
