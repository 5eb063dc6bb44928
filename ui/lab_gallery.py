"""The Tuning lab's match views: a pair opened from a chart or a table, and the errors gallery.

The errors gallery shows the current rule's false accepts and rejects, most
wrong first, in a grid, filtered by kind; it opens on a tab that has cases and
draws only the open tab.  Match drawings are kept per run, geometry and pair,
so a decision slider redraws none of them.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import streamlit as st

import ui.tuning_view as tv
from vision import rules
from vision.flows.verify import decide_matched
from vision.image.imageio import decode_image
from vision.lab.report import ErrorCase, error_cases
from vision.lab.run import TuningRun
from vision.lab.scored import ScoredSet, geometry_key
from vision.rules.evidence import PairMatch
from vision.views.draw import draw_match_view
from vision.views.match import RuleOutcome, match_view
from vision.views.outcome import outcome_of

GRID_COLUMNS = 3
#: Match drawings (JPEG, ~100-300 KB) kept per session.
MAX_DRAWINGS = 48
#: Width of a stored match drawing (px): a grid cell at 1400 px is ~430 px wide, twice that for sharp screens.
DRAWING_WIDTH = 960


def show_pair(position: int, run: TuningRun, scored: ScoredSet) -> None:
    """The match view of one pair of ``scored`` (position in it), as the errors gallery draws it."""
    if not 0 <= position < len(scored):
        return
    truth = bool(scored.labels[position])
    accepted = bool(scored.accepted[position])
    kind = ("true accept" if truth else "false accept") if accepted else ("false reject" if truth else "true reject")
    sim = float(scored.similarities[position]) if scored.has_similarity[position] else None
    case = ErrorCase(
        position,
        int(scored._index()[position]),
        scored.pairs[position],
        kind,
        float(scored.inliers[position]),
        float(scored.area_fraction[position]),
        0.0,
        scored.reason(position),
        sim,
    )
    with st.container(border=True):
        show_case(case, run, scored)


# --------------------------------------------------------------------------
# Errors gallery: the tab with cases, a grid, a filter by kind
# --------------------------------------------------------------------------


def errors_gallery(run: TuningRun, scored: ScoredSet) -> None:
    """False accepts and rejects of the current rule, most wrong first, in a grid; opens on a tab with cases.

    Only the open tab is drawn (``on_change="rerun"``), so a slider move draws at most one grid.
    """
    false_accepts, false_rejects = error_cases(scored)
    # Every kind of the set (not only those with errors now): the options stay put while sliders move.
    kinds = sorted({p.kind for p in scored.pairs})
    chosen = st.multiselect("Show kinds", kinds, key="tune_gallery_kinds", placeholder="every kind")
    keep = set(chosen or kinds)
    fa = [c for c in false_accepts if c.pair.kind in keep]
    fr = [c for c in false_rejects if c.pair.kind in keep]
    st.caption(f"{len(fa)} false accepts, {len(fr)} false rejects" + (" of the kinds chosen" if chosen else ""))
    labels = ["False accepts", "False rejects"]
    # Open on a tab that has cases.  No key: when the cases move to the other tab, the default (part of the
    # widget's identity) changes and the tabs open there; otherwise a click stays put across reruns.
    default = labels[1] if not fa and fr else labels[0]
    tabs = st.tabs(labels, default=default, on_change="rerun")
    for tab, cases, key in zip(tabs, (fa, fr), ("fa", "fr"), strict=True):
        if tab.open:
            with tab:
                grid(cases, run, scored, key)


def _drawing(case: ErrorCase, run: TuningRun, scored: ScoredSet) -> bytes | None:
    """The match drawing of a case as JPEG bytes, kept per run, geometry and pair (a slider move redraws nothing)."""
    store: OrderedDict = st.session_state.setdefault("tune_drawings", OrderedDict())
    verdict = bool(scored.accepted[case.position])  # the drawing's colours follow the verdict
    key = (
        run.labelled.fingerprint,
        run.settings,
        geometry_key(scored.thresholds),
        scored.rule,
        verdict,
        case.run_index,
    )
    if key not in store:
        match = run.matches[case.run_index]
        root, fp, side = run.labelled.root, run.labelled.fingerprint, run.settings.working_side
        ref = tv.working_photo(str(root / case.pair.ref), fp, side)
        query = tv.working_photo(str(root / case.pair.query), fp, side)
        jpeg = None
        if isinstance(match, PairMatch) and ref is not None and query is not None:
            # Verify's own view: the rule that decided, its counted lines, its clipped outline and legend.
            view = match_view(case_outcome(case, match, (ref, query), scored, run.labelled.root))
            rgb = cv2.cvtColor(draw_match_view(ref, query, view), cv2.COLOR_BGR2RGB)
            # Stored at the size it is shown: Streamlit re-encodes any image wider than its content
            # width on every rerun (0.05 s each), which a slider move must not pay.
            scale = DRAWING_WIDTH / rgb.shape[1]
            if scale < 1:
                rgb = cv2.resize(rgb, (DRAWING_WIDTH, round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
            ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
            jpeg = buffer.tobytes() if ok else None
        store[key] = jpeg
        while len(store) > MAX_DRAWINGS:
            store.popitem(last=False)
    return store[key]


def case_outcome(
    case: ErrorCase, match: PairMatch, images: tuple[np.ndarray, np.ndarray], scored: ScoredSet, root: Path
) -> RuleOutcome:
    """The current rule's outcome on a case's cached pair, as the Verify page shows it (no replay step).

    ``images`` are the pair's working images; ``root`` the set's folder (a full-resolution rule reads the files).
    """
    ref, query = images
    full = None
    if rules.get(scored.rule).needs.full_images:
        full = (
            decode_image((root / case.pair.ref).read_bytes()).bgr,
            decode_image((root / case.pair.query).read_bytes()).bgr,
        )
    verification = decide_matched(match, query, scored.thresholds, rule=scored.rule, full_images=full)
    sizes = ((ref.shape[1], ref.shape[0]), (query.shape[1], query.shape[0]))
    return outcome_of(verification, scored.thresholds, *sizes)


def show_case(case: ErrorCase, run: TuningRun, scored: ScoredSet) -> None:
    """One match view: the drawing with the projected outline, what the pair is, and why it was decided so."""
    sim = "" if case.similarity is None else f", similarity {case.similarity:.2f}"
    title = (
        f"{case.kind}: {case.pair.ref} vs {case.pair.query} ({case.pair.kind}) - "
        f"{case.inliers:.0f} inliers{sim}, outline {case.area_fraction:.1%}"
    )
    drawing = _drawing(case, run, scored)
    if drawing is not None:
        st.image(drawing, caption=title)
    else:
        st.markdown(title)
    st.caption(f"Reason: {case.reason}")


def grid(cases: list[ErrorCase], run: TuningRun, scored: ScoredSet, key: str) -> None:
    """The first cases in rows of :data:`GRID_COLUMNS`, and a control to show more."""
    if not cases:
        st.caption("None at the current thresholds.")
        return
    shown = st.session_state.setdefault(f"tune_{key}_shown", tv.GALLERY_STEP)
    visible = cases[:shown]
    for row in range(0, len(visible), GRID_COLUMNS):
        for col, case in zip(st.columns(GRID_COLUMNS), visible[row : row + GRID_COLUMNS], strict=False):
            with col:
                show_case(case, run, scored)
    if len(cases) > shown:
        st.button(
            f"Show {min(tv.GALLERY_STEP, len(cases) - shown)} more ({len(cases) - shown} not shown yet)",
            key=f"tune_{key}_more",
            on_click=_show_more,
            args=(key,),
        )


def _show_more(key: str) -> None:
    st.session_state[f"tune_{key}_shown"] = st.session_state.get(f"tune_{key}_shown", tv.GALLERY_STEP) + tv.GALLERY_STEP
