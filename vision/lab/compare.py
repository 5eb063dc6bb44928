"""A/B comparison of two threshold profiles on the same labelled pairs.

Pure arithmetic on verdict arrays (no Streamlit, no ScoredSet): the page takes
profile A's and B's verdicts from the same scored set and gets each profile's
rates with Wilson intervals, the per-kind accept counts side by side, and the
pairs whose verdict flips, each saying which profile got it right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.lab.intervals import Interval, RateIntervals, rate_intervals, wilson


@dataclass(frozen=True)
class Flip:
    """A pair that one profile accepts and the other rejects.

    ``position`` indexes the arrays given to :func:`compare`; ``right`` is
    ``"A"`` or ``"B"``: the profile whose verdict matches the label.
    """

    position: int
    name: str
    kind: str
    label: int
    a_accepts: bool

    @property
    def b_accepts(self) -> bool:
        return not self.a_accepts

    @property
    def right(self) -> str:
        return "A" if self.a_accepts == bool(self.label) else "B"


@dataclass(frozen=True)
class KindRow:
    """One kind's accept counts under A and B (with intervals)."""

    kind: str
    label: int
    a: Interval
    b: Interval


@dataclass(frozen=True)
class ABReport:
    """Both profiles' rates, the per-kind table and the flips (A-right first, then by name)."""

    a: RateIntervals
    b: RateIntervals
    kinds: tuple[KindRow, ...]
    flips: tuple[Flip, ...]

    @property
    def fixed_by_b(self) -> int:
        """Flips B gets right (A got them wrong)."""
        return sum(f.right == "B" for f in self.flips)

    @property
    def broken_by_b(self) -> int:
        """Flips A got right and B gets wrong."""
        return sum(f.right == "A" for f in self.flips)


def _rates(accepted: np.ndarray, labels: np.ndarray) -> RateIntervals:
    pos, neg = labels == 1, labels == 0
    return rate_intervals(int(accepted[pos].sum()), int(pos.sum()), int(accepted[neg].sum()), int(neg.sum()))


def compare(
    labels: Sequence[int] | np.ndarray,
    kinds: Sequence[str],
    names: Sequence[str],
    accepted_a: Sequence[bool] | np.ndarray,
    accepted_b: Sequence[bool] | np.ndarray,
    usable: Sequence[bool] | np.ndarray | None = None,
) -> ABReport:
    """Compare two profiles' verdicts on the same ``(N,)`` pairs.

    Parameters
    ----------
    labels : (N,) int
        1 same, 0 different.
    kinds, names : (N,) str
        Each pair's kind (table rows) and a readable name (``ref vs query``).
    accepted_a, accepted_b : (N,) bool
        The two profiles' verdicts.
    usable : (N,) bool, optional
        Pairs that count (unusable pairs are left out of every figure).
    """
    y = np.asarray(labels, int)
    a, b = np.asarray(accepted_a, bool), np.asarray(accepted_b, bool)
    n = y.size
    if not (a.size == b.size == len(kinds) == len(names) == n):
        raise ValueError(f"arrays of different lengths: labels {n}, kinds {len(kinds)}, A {a.size}, B {b.size}")
    ok = np.ones(n, bool) if usable is None else np.asarray(usable, bool)
    kind_arr = np.array(kinds, dtype=object)
    rows = []
    for kind in sorted(set(kind_arr[ok].tolist())):
        m = ok & (kind_arr == kind)
        count = int(m.sum())
        rows.append(KindRow(str(kind), int(y[m][0]), wilson(int(a[m].sum()), count), wilson(int(b[m].sum()), count)))
    flipped = [int(i) for i in np.flatnonzero(ok & (a != b))]
    flips = [Flip(i, str(names[i]), str(kinds[i]), int(y[i]), bool(a[i])) for i in flipped]
    flips.sort(key=lambda f: (f.right != "A", f.name))
    return ABReport(_rates(a[ok], y[ok]), _rates(b[ok], y[ok]), tuple(rows), tuple(flips))
