"""The Verify and Demo pages' verdict: the verify flow's own steps on the page's cached photos and matches.

The expensive inputs (features, descriptors, XFeat features, kNN matches,
full-resolution evidence) come from :mod:`ui.resources`' caches; the rule's
decision and the replay step are :mod:`vision.flows.verify`'s, the same the
API runs, so a slider move reruns only the cheap part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ui.resources import embedded, gathered, matches, with_xfeat
from vision import rules
from vision.flows.prepare import PreparedPhoto
from vision.flows.verify import ReferenceOnly, Verification, decide_matched, replay_step
from vision.matchers.akaze import Features
from vision.profile import Profile
from vision.views.match import RuleOutcome
from vision.views.outcome import outcome_of
from vision.views.replay_step import ReplayStep
from vision.views.replay_step import replay_step as replay_view_step


@dataclass(frozen=True)
class PageVerdict:
    """What a page shows: the verification, the rule's outcome after the replay step, and that step's view."""

    verification: Verification
    outcome: RuleOutcome
    replayed: ReplayStep


def page_verdict(
    rule: str,
    ref: tuple[bytes, Features, np.ndarray],
    query: tuple[bytes, PreparedPhoto],
    thresholds: Profile,
) -> PageVerdict:
    """``rule``'s verdict on a reference ``(bytes, features, working image)`` and a new photo ``(bytes, prepared)``."""
    ref_bytes, ref_features, ref_image = ref
    query_bytes, photo = query
    needs = rules.get(rule).needs
    pair = matches(ref_features, photo.features)
    if needs.embedding or needs.xfeat:  # global descriptors: cached per photo, the kNN matches reused
        pair = replace(pair, ref=embedded(pair.ref, ref_image), query=embedded(pair.query, photo.image))
    if needs.xfeat:  # both sides cached, so a slider move or a drawing toggle reruns no XFeat
        pair = replace(pair, ref=with_xfeat(pair.ref, ref_image), query=with_xfeat(pair.query, photo.image))
    evidence = gathered(rule, ref_bytes, query_bytes) if needs.full_images else None
    verification = decide_matched(pair, photo, thresholds, rule=rule, gathered=evidence)
    verification = replay_step(verification, pair.ref, thresholds, ReferenceOnly(ref_image))
    sizes = ((ref_image.shape[1], ref_image.shape[0]), (photo.image.shape[1], photo.image.shape[0]))
    outcome = outcome_of(verification, thresholds, *sizes)
    return PageVerdict(verification, outcome, replay_view_step(verification, outcome))
