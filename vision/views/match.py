"""What a verification shows: the evidence of the rule that made the verdict, and only that.

Each decision rule has a *view function* that turns its outcome into a
:class:`MatchView`: the lines it counted (drawn by default), the lines it
considered but did not count (drawn faint behind a toggle), the outline it
judged (or none), the figures behind the verdict and a plain-language
headline.  The dashboard draws a ``MatchView`` without knowing the rule, so
a new rule needs only ``@register_view("name")`` here (or in its own module);
a rule without a view function gets :func:`generic_view`, which shows the
numbers its verdict carries and draws nothing it cannot vouch for.

Coordinates in a ``MatchView`` are in the pixels of the images drawn (the
working-resolution photos), whatever resolution the rule itself ran at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vision.core import verdict as v
from vision.profile import Profile
from vision.rules.evidence import MatchEvidence, OriginalEvidence, decide_original, decide_verification
from vision.views.plain import different, plain_problems, same

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class Lines:
    """Matched point pairs to draw.

    Attributes
    ----------
    ref, query : np.ndarray
        ``(N, 2)`` float32 positions in the drawn reference / new photo.
    strength : np.ndarray
        ``(N,)`` float32 in ``[0, 1]``: how confident the match is (1 best),
        for the colour ramp.
    """

    ref: np.ndarray
    query: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return int(self.ref.shape[0])

    @staticmethod
    def empty() -> Lines:
        return Lines(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.float32))


@dataclass(frozen=True)
class Figure:
    """One number behind the verdict: ``value`` and, when the rule compares it, what it ``needs``."""

    label: str
    value: str
    need: str = ""
    help: str = ""


@dataclass(frozen=True)
class MatchView:
    """Everything the match picture and the verdict card show for one verification.

    ``counted`` are the lines the rule counted (inliers of a plausible fit,
    or the original rule's 80 best matches); ``others`` the ones it looked
    at and did not count; ``outline`` the reference's frame projected into
    the new photo, ``None`` when the rule had no usable one;
    ``outline_rejected`` an implausible outline, only for the faint layer.
    """

    rule: str
    accepted: bool
    headline: str
    detail: str
    counted: Lines
    counted_name: str
    others: Lines = field(default_factory=Lines.empty)
    others_name: str = "not counted"
    outline: np.ndarray | None = None
    outline_rejected: np.ndarray | None = None
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class RuleOutcome:
    """A rule's verdict with its own evidence, as the view functions take it.

    ``evidence`` is whatever the rule produced (:class:`MatchEvidence` for
    robust and fused, :class:`OriginalEvidence` for original); ``pair`` the
    cached kNN matches (``vision.flows.prepare.PairMatch``) when the rule used
    them; ``ref_size`` / ``query_size`` the drawn images' ``(width, height)``.
    """

    rule: str
    verdict: v.Verdict
    evidence: Any
    thresholds: Profile
    ref_size: Size
    query_size: Size
    pair: Any = None


ViewFunction = Callable[[RuleOutcome, str], MatchView]
VIEWS: dict[str, ViewFunction] = {}


def register_view(rule: str) -> Callable[[ViewFunction], ViewFunction]:
    """Decorator: ``fn(outcome, noun) -> MatchView`` shows the rule ``rule``."""

    def add(fn: ViewFunction) -> ViewFunction:
        VIEWS[rule] = fn
        return fn

    return add


def match_view(outcome: RuleOutcome, noun: str = "thing") -> MatchView:
    """The view of ``outcome`` by its rule's view function (:func:`generic_view` if none).

    ``noun`` names what the photos show ("building"), for the headline.  When
    something after the rule changed the verdict (a replay check, say), the
    headline follows the verdict and says why, so the card never contradicts it.
    """
    view = VIEWS.get(outcome.rule, generic_view)(outcome, noun)
    verdict = outcome.verdict
    if view.accepted != verdict.result:
        why = verdict.reason or verdict.message
        headline = same(noun, why) if verdict.result else different(why)
        view = replace(view, accepted=verdict.result, headline=headline)
    if not verdict.result:
        view = faint_rejected(view)
    said = _replay_words(verdict.extra)
    if said:
        view = replace(view, figures=(*view.figures, Figure("Replay check", said)))
    return view


def faint_rejected(view: MatchView) -> MatchView:
    """A rejected verdict's view: nothing drawn as counted, the fit's lines and outline only in the faint layer.

    Green lines and a solid outline beside a red verdict would say "these
    agree" about a fit the verdict refused, so they move behind the toggle.
    """
    if not len(view.counted) and view.outline is None:
        return view
    others = Lines(
        np.concatenate([view.counted.ref, view.others.ref]).astype(np.float32),
        np.concatenate([view.counted.query, view.others.query]).astype(np.float32),
        np.concatenate([view.counted.strength, view.others.strength]).astype(np.float32),
    )
    rejected = view.outline_rejected if view.outline_rejected is not None else view.outline
    return replace(
        view, counted=Lines.empty(), others=others, others_name="matches of a rejected fit", outline=None,
        outline_rejected=rejected,
    )  # fmt: skip


def _replay_words(extra: dict[str, Any]) -> str:
    """What the replay check said, or "" when it did not run (a rejected photo, a rule without a homography)."""
    if extra.get("replay") is True:
        return "an old photo sent again"
    return {"on": "a new photo", "off": "off", "unavailable": "could not run"}.get(str(extra.get("replay_check")), "")


def _brief(value: Any, limit: int = 60) -> str:
    """A short, plain rendering of an extra's value for a figure chip."""
    if isinstance(value, bool):
        return "an old photo sent again" if value else "a new photo"
    if isinstance(value, dict):
        value = value.get("verdict", value.get("status", value.get("result", value)))
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- helpers ---------------------------------------------------------------------------


def _strength_from_ratio(distance: np.ndarray, second: np.ndarray) -> np.ndarray:
    """1 - d1/d2 stretched to [0, 1] (a match far better than its runner-up is 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isfinite(second) & (second > 0), distance / second, 0.0)
    return np.clip((1.0 - ratio) / 0.5, 0.0, 1.0).astype(np.float32)


def candidate_lines(pair: Any, mask: np.ndarray) -> Lines:
    """The candidates of ``pair`` selected by ``mask``, strongest first."""
    if pair is None or mask.size == 0 or not mask.any():
        return Lines.empty()
    idx = np.flatnonzero(mask)
    c = pair.candidates
    strength = _strength_from_ratio(c.distance[idx], c.second_distance[idx])
    order = np.argsort(-strength, kind="stable")
    idx, strength = idx[order], strength[order]
    return Lines(
        pair.ref.points[c.ref_idx[idx]].astype(np.float32),
        pair.query.points[c.query_idx[idx]].astype(np.float32),
        strength,
    )


def _finite(outline: np.ndarray | None) -> np.ndarray | None:
    return outline if outline is not None and np.all(np.isfinite(outline)) else None


def _keypoint_figure(evidence: Any) -> Figure:
    return Figure(
        "Keypoints",
        f"{evidence.n_ref_keypoints} / {evidence.n_query_keypoints}",
        help="Distinctive points found on the reference / the new photo.",
    )


# -- robust ----------------------------------------------------------------------------


def _geometric_split(outcome: RuleOutcome) -> tuple[Lines, Lines, np.ndarray | None, np.ndarray | None]:
    """(counted, others, outline, rejected outline) of a homography rule.

    Inliers count only when the fit is plausible: an implausible fit's
    "inliers" agree with an impossible view, so they go to the faint layer.
    """
    e: MatchEvidence = outcome.evidence
    plausible = e.H is not None and not e.problems
    if plausible:
        counted = candidate_lines(outcome.pair, e.inliers)
        others = candidate_lines(outcome.pair, e.tentative & ~e.inliers)
        return counted, others, _finite(e.outline), None
    return Lines.empty(), candidate_lines(outcome.pair, e.tentative), None, _finite(e.outline)


def _failure_headline(e: MatchEvidence, counted: int, need: int, noun: str) -> str:
    if e.H is None or e.problems:
        return different(f"no points line up, {need} needed")
    return different(f"only {counted} points line up, {need} needed")


@register_view("robust")
def robust_view(outcome: RuleOutcome, noun: str) -> MatchView:
    e: MatchEvidence = outcome.evidence
    t = outcome.thresholds
    counted, others, outline, rejected = _geometric_split(outcome)
    n = len(counted)
    accepted = decide_verification(e, t).result  # the rule's own call (a later step may overrule it)
    if accepted:
        headline = same(noun, f"{n} points line up")
    elif e.H is not None and not e.problems and n >= t.min_inliers:
        headline = different(
            f"the matching part covers only {e.area_fraction:.1%} of the new photo ({t.min_area_fraction:.1%} needed)"
        )
    else:
        headline = _failure_headline(e, n, t.min_inliers, noun)
    figures = (
        Figure("Points that line up", str(n), f"{t.min_inliers}", "Matches that agree with one view of the reference."),
        Figure(
            "Outline in the new photo",
            f"{e.area_fraction:.0%}" if outline is not None else "none",
            f"{t.min_area_fraction:.0%}",
            "How much of the new photo the reference's projected frame covers.",
        ),
        Figure("Candidate matches", str(e.n_tentative), help="Matches that passed the ratio test."),
        _keypoint_figure(e),
    )
    return MatchView(
        "robust",
        accepted,
        headline,
        _detail(e, n),
        counted,
        "points that line up",
        others,
        "matches that do not line up",
        outline,
        rejected,
        figures,
    )


def _detail(e: MatchEvidence, n: int) -> str:
    if e.H is None:
        return "No consistent view of the reference could be fitted."
    if e.problems:
        return f"The best fit is impossible for a photo ({plain_problems(e.problems)}), so no point counts."
    return f"{n} of {e.n_tentative} candidate matches agree with one view of the reference."


# -- fused -----------------------------------------------------------------------------


@register_view("fused")
def fused_view(outcome: RuleOutcome, noun: str) -> MatchView:
    from vision.rules.fusion import fused_evidence, geometry_alone_inliers

    e: MatchEvidence = outcome.evidence
    t = outcome.thresholds
    similarity = outcome.verdict.extra.get("similarity")
    if similarity is None:  # no global descriptor: the robust rule decided
        return robust_view(RuleOutcome("robust", *_rest(outcome)), noun)
    f = fused_evidence(e, float(similarity), t)
    counted, others, outline, rejected = _geometric_split(outcome)
    n = f.inliers  # what the score used: 0 without a plausible fit
    alone = geometry_alone_inliers(t)
    need_sim = f.required_similarity
    # The similarity is compared only once the geometric checks pass; before
    # that (or when it needs more than 1) a "needed" figure would be meaningless.
    sim_weighed = f.decided_by in ("similarity", "fused_score") and need_sim <= 1.0
    if f.accepted and f.decided_by == "geometry":
        headline = same(noun, f"{n} points line up")
    elif f.accepted:
        headline = same(noun, f"{n} points line up and the photos look alike ({f.similarity:.2f})")
    elif f.decided_by == "fused_score":
        headline = different(
            f"only {n} points line up and the photos do not look alike enough "
            f"({f.similarity:.2f}, {need_sim:.2f} needed with {n} points)"
        )
    elif f.decided_by == "outline_area":
        headline = different(
            f"the matching part covers only {e.area_fraction:.1%} of the new photo ({t.min_area_fraction:.1%} needed)"
        )
    else:
        headline = _failure_headline(e, n, t.fused_min_inliers, noun)
    need_points = f"{alone}" if f.decided_by == "geometry" else f"{t.fused_min_inliers}"
    if sim_weighed:
        need_points += " + look-alike"
    figures = (
        Figure(
            "Points that line up",
            str(n),
            need_points,
            f"At least {t.fused_min_inliers}; {alone} or more accept without the similarity.",
        ),
        Figure(
            "Look-alike score",
            f"{f.similarity:.2f}",
            f"{need_sim:.2f}" if sim_weighed else "",
            "Cosine similarity of the two photos' overall appearance (EfficientNet-Lite0). "
            + ("Compared with what these points need." if sim_weighed else "Not weighed for this verdict."),
        ),
        Figure(
            "Outline in the new photo",
            f"{e.area_fraction:.0%}" if outline is not None else "none",
            f"{t.min_area_fraction:.0%}",
            "How much of the new photo the reference's projected frame covers.",
        ),
        _keypoint_figure(e),
    )
    return MatchView(
        "fused",
        f.accepted,
        headline,
        _detail(e, n),
        counted,
        "points that line up",
        others,
        "matches that do not line up",
        outline,
        rejected,
        figures,
    )


def _rest(outcome: RuleOutcome) -> tuple:
    return (outcome.verdict, outcome.evidence, outcome.thresholds, outcome.ref_size, outcome.query_size, outcome.pair)


# -- original --------------------------------------------------------------------------


def _scale(points: np.ndarray | None, source: Size, target: Size) -> np.ndarray | None:
    if points is None or not source[0] or not source[1]:
        return None
    s = np.array([target[0] / source[0], target[1] / source[1]], np.float32)
    return (np.asarray(points, np.float32).reshape(-1, 2) * s).astype(np.float32)


@register_view("original")
def original_view(outcome: RuleOutcome, noun: str) -> MatchView:
    """The note's rule: its 80 best (L2) matches and its outline, scaled from full resolution."""
    e: OriginalEvidence = outcome.evidence
    t = outcome.thresholds
    ref_pts = _scale(e.ref_points, e.ref_size, outcome.ref_size)
    query_pts = _scale(e.query_points, e.query_size, outcome.query_size)
    if ref_pts is None or query_pts is None or not len(ref_pts):
        counted = Lines.empty()
    else:  # the note sorts by distance: the first is its best
        counted = Lines(ref_pts, query_pts, np.linspace(1.0, 0.2, len(ref_pts)).astype(np.float32))
    outline = _finite(_scale(e.outline, e.query_size, outcome.query_size))
    area = e.area_px
    accepted = decide_original(e, t).result
    if area is None:
        headline = different(f"the note's rule could not fit an outline ({e.problem})")
    elif accepted:
        headline = same(
            noun, f"by the note's rule, the outline covers {area:,.0f} px² (more than {t.original_min_area_px:g})"
        )
    else:
        headline = different(f"by the note's rule, the outline covers only {area:,.0f} px² (more than "
                             f"{t.original_min_area_px:g} needed)")  # fmt: skip
    figures = (
        Figure("Outline area", "none" if area is None else f"{area:,.0f} px²", f"> {t.original_min_area_px:g} px²"),
        Figure(
            "Best matches used", str(e.n_matches), help="The note keeps the 80 closest (L2) matches, no ratio test."
        ),
        Figure(
            "Keypoints (full size)",
            f"{e.n_ref_keypoints} / {e.n_query_keypoints}",
            help="The note detects at the photos' full resolution.",
        ),
    )
    detail = (
        "The design note's rule: the 80 closest matches, one RANSAC fit, accept when the outline's area "
        f"exceeds {t.original_min_area_px:g} px² at full resolution (any shape, even mirrored)."
    )
    return MatchView(
        "original", accepted, headline, detail, counted, "best matches (the note's 80)", outline=outline,
        figures=figures,
    )  # fmt: skip


# -- any other rule --------------------------------------------------------------------


def generic_view(outcome: RuleOutcome, noun: str) -> MatchView:
    """A rule without a view function: its verdict's numbers, no lines, no outline.

    Drawing another rule's lines would contradict the verdict, so none are drawn.
    """
    extra = outcome.verdict.extra
    figures = tuple(
        Figure(key.replace("_", " ").capitalize(), _short(value))
        for key, value in extra.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and key != "timings_ms"
    )
    inliers = extra.get("inliers")
    if outcome.verdict.result:
        headline = same(noun, f"{inliers} points line up" if inliers is not None else "accepted")
    else:
        headline = different(f"only {inliers} points line up" if inliers is not None else "rejected")
    return MatchView(
        outcome.rule,
        outcome.verdict.result,
        headline,
        outcome.verdict.reason,
        Lines.empty(),
        "points that line up",
        figures=figures,
    )


def _short(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if math.isfinite(value) else str(value)
