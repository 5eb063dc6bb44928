"""What every rule provides (see :mod:`vision.rules`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from vision.lab.scored import ScoredSet
    from vision.profile import Profile

#: The contract body of a reference that cannot be used (``verify_bytes``).
MISSING_STD = {"status": 500, "message": "Missing Std Picture", "result": False}
#: The contract body of a query that cannot be used.
MISSING_PICTURE = {"status": 400, "message": "Missing Picture", "result": False}


class Rule(Protocol):
    """A decision rule.

    Attributes
    ----------
    name : str
        As in ``--rule``, profiles and reports.
    label : str
        One line for a page's rule picker.
    decided_by : Mapping[str, str]
        The words for each ``verdict.extra["decided_by"]`` code the rule sets (empty when it sets none).
    geometric : bool
        Whether the lab scores it from the shared geometric evidence (inliers,
        outline area, similarity); False for a rule with its own per-pair
        score (:meth:`lab_scores` then reads it from the scored set).

    A rule that is not geometric (other than ``original``, kept on
    ``ScoredSet.original_area``) also defines ``score_pair(root, pair, profile)
    -> (score, error or None, milliseconds)``: the engine runs it on the
    workers (it must be picklable: a method of a module-level class) and keeps
    the scores in ``ScoredSet.rule_scores[name]``.
    """

    name: str
    label: str
    decided_by: Mapping[str, str]
    geometric: bool

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        """Gather the evidence for one pair of encoded photos and decide: the contract body plus details."""
        ...

    def lab_available(self, scored: ScoredSet) -> bool:
        """Whether the scored set holds what this rule needs."""
        ...

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        """``(N,)`` float: the rule's score per pair (its ROC sweeps a threshold over it)."""
        ...

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        """``(N,)`` bool: the rule's verdicts at ``scored.thresholds`` (before excluding unusable pairs)."""
        ...

    def lab_threshold(self, profile: Profile) -> float:
        """The score the rule accepts from."""
        ...
