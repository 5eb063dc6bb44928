"""The learned rule's evidence as the dashboard shows it (see :mod:`vision.views.match`).

The learned rule counts the stronger matcher's checked inliers: AKAZE's
(a plausible homography with a visible outline) or XFeat + LighterGlue's.
The view draws the lines of the matcher that decided, and only when they
counted; the other matches go to the faint layer.  A pair accepted by the
second opinion (ALIKED + LightGlue, :mod:`vision.rules.second_opinion`) shows
ALIKED's matches.
"""

from __future__ import annotations

import numpy as np

from vision.matchers.geometry import project_outline, project_polygon
from vision.rules.learned_steps import XFeatMatch
from vision.views.match import Figure, Lines, MatchView, RuleOutcome, candidate_lines, register_view
from vision.views.plain import different, same


def _xfeat_lines(match: XFeatMatch | None, mask: np.ndarray) -> Lines:
    if match is None or not mask.any():
        return Lines.empty()
    n = int(mask.sum())
    return Lines(match.src[mask].astype(np.float32), match.dst[mask].astype(np.float32), np.full(n, 0.9, np.float32))


@register_view("learned")
def learned_view(outcome: RuleOutcome, noun: str) -> MatchView:
    """``outcome.evidence`` is ``(MatchEvidence, LearnedOutcome)`` (see ``vision.views.outcome``)."""
    evidence, learned = outcome.evidence
    t = outcome.thresholds
    extra = learned.verdict.extra
    akaze, xf = int(extra.get("akaze_inliers", 0)), int(extra.get("xfeat_inliers", 0))
    by_aliked = extra.get("decided_by") == "aliked" and learned.aliked is not None
    match = learned.aliked if by_aliked else learned.xfeat
    by_xfeat = extra.get("decided_by") == "xfeat" and match is not None
    counted_n = int(extra.get("aliked_inliers", 0)) if by_aliked else xf
    outline = None
    if (by_xfeat or by_aliked) and match is not None:
        inliers = np.asarray(match.geometry.inliers, bool)
        counted = _xfeat_lines(match, inliers) if counted_n else Lines.empty()
        others = _xfeat_lines(match, ~inliers if counted_n else np.ones_like(inliers))
        g = match.geometry
        if counted_n and g.H is not None and not g.problems and g.rotation == 0:
            # what the checks projected: the inliers' box (3-D scenes fold outside it) or the frame
            outline = project_outline(g.H, outcome.ref_size) if g.region is None else project_polygon(g.H, g.region)
    else:
        counted = candidate_lines(outcome.pair, evidence.inliers) if akaze else Lines.empty()
        others = candidate_lines(outcome.pair, evidence.tentative & ~evidence.inliers if akaze else evidence.tentative)
        outline = evidence.outline if akaze else None
    n = counted_n if by_aliked else max(akaze, xf)
    sim = learned.similarity
    accepted = learned.verdict.result
    if by_aliked:
        headline = same(noun, f"{n} points line up on a second look (ALIKED) and the photos look alike")
    elif accepted and akaze >= t.min_inliers:
        headline = same(noun, f"{n} points line up")
    elif accepted:
        headline = same(noun, f"{n} points line up and the photos look alike ({(sim or 0.0):.2f})")
    elif n < t.learned_min_inliers:
        headline = different(f"{f'only {n}' if n else 'no'} points line up, {t.learned_min_inliers} needed")
    else:
        headline = different(f"only {n} points line up and the photos do not look alike enough ({(sim or 0.0):.2f})")
    matcher = "ALIKED + LightGlue" if by_aliked else "XFeat + LighterGlue" if by_xfeat else "AKAZE"
    # the threshold this verdict was held to: AKAZE's alone, or the minimum that lets the look-alike score decide
    alone = accepted and akaze >= t.min_inliers
    need = f"{t.min_inliers}" if alone else f"{t.learned_min_inliers}"
    if by_aliked and counted_n >= t.second_opinion_min_inliers:
        need = f"{t.second_opinion_min_inliers} (second opinion)"
    elif by_aliked:  # fewer than the second opinion's own minimum: its inliers carried the look-alike score
        need = f"{t.learned_min_inliers} + look-alike (second opinion)"
    elif not alone and n >= t.learned_min_inliers:
        need += " + look-alike"
    figures: tuple[Figure, ...] = (
        Figure(
            "Points that line up",
            str(n),
            need,
            f"{t.min_inliers} or more accept on their own; from {t.learned_min_inliers} the look-alike score "
            "decides with them.",
        ),
        Figure("Counted by", matcher, help="XFeat + LighterGlue runs only when AKAZE is not conclusive."),
        Figure("Look-alike score", "n/a" if sim is None else f"{sim:.2f}"),
        Figure("AKAZE / XFeat", f"{akaze} / {'not run' if learned.xfeat is None else xf}"),
    )
    if "aliked_inliers" in extra:
        figures += (
            Figure(
                "Second opinion (ALIKED)",
                str(int(extra["aliked_inliers"])),
                f"{t.second_opinion_min_inliers}, or {t.learned_min_inliers} + look-alike",
                f"Runs only when the rule rejects photos that look alike (similarity >= "
                f"{t.second_opinion_min_similarity:g}); {t.second_opinion_min_inliers} or more accept on their "
                f"own, from {t.learned_min_inliers} its points go into the look-alike score"
                + (f" ({float(extra['aliked_score']):.2f})." if "aliked_score" in extra else "."),
            ),
        )
    detail = f"{n or 'No'} points agree with one view of the reference ({matcher})."
    return MatchView(
        "learned",
        accepted,
        headline,
        detail,
        counted,
        "points that line up",
        others,
        "matches that do not line up",
        None if outline is None or not np.all(np.isfinite(outline)) else outline,
        None,
        figures,
    )
