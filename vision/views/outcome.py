"""A verification as the views draw it: the deciding rule's verdict with that rule's own evidence.

The dashboard asks :mod:`vision.flows.verify` for a verdict and gets a
:class:`~vision.flows.verify.Verification`; :func:`outcome_of` turns it into
the :class:`~vision.views.match.RuleOutcome` whose verdict and evidence come
from the rule that decided, so the picture and numbers beside a verdict can
never be another rule's.
"""

from __future__ import annotations

import vision.views.learned  # noqa: F401  (registers the learned rule's view)
from vision.flows.verify import Verification
from vision.profile import Profile
from vision.views.match import RuleOutcome, Size

__all__ = ["outcome_of"]


def outcome_of(verification: Verification, thresholds: Profile, ref_size: Size, query_size: Size) -> RuleOutcome:
    """The view's input for ``verification`` (one that decided: ``verification.decision`` is set).

    ``ref_size`` / ``query_size`` are the drawn images' ``(width, height)``.
    """
    if verification.decision is None:
        raise ValueError("this verification did not decide (a photo could not be used): nothing to draw")
    d = verification.decision
    return RuleOutcome(d.rule, verification.verdict, d.evidence, thresholds, ref_size, query_size, verification.pair)
