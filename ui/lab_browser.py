"""The Tuning lab's whole-set browser: every pair, filtered and sorted, and one click to Verify."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.handoff import Handoff, send
from vision.lab.browse import PairFilter, pair_rows
from vision.lab.data import LabelledSet
from vision.lab.scored import ScoredSet

SORTS = {"nearest the threshold first": "margin", "highest score first": "score", "wrong first": "wrong_first"}


def pair_filter(scored: ScoredSet) -> PairFilter:
    """The browser's widgets: kinds, truth, verdict, score range, sort."""
    kinds = sorted({p.kind for p in scored.pairs})
    c1, c2, c3 = st.columns(3)
    chosen_kinds = c1.multiselect("Kinds", kinds, key="browse_kinds", placeholder="all kinds")
    truth = c2.multiselect("Truth", ["same", "different"], key="browse_truth", placeholder="both")
    verdicts = c3.multiselect("Verdict", ["accepted", "rejected", "unusable"], key="browse_verdicts", placeholder="all")
    scores = scored.scores()[scored.ok]
    finite = scores[np.isfinite(scores)]
    c4, c5 = st.columns([2, 1])
    score_range = None
    if finite.size and float(finite.min()) < float(finite.max()):
        lo, hi = float(finite.min()), float(finite.max())
        picked = c4.slider(f"Score range ({scored.rule} rule)", lo, hi, (lo, hi), key="browse_scores")
        score_range = None if picked == (lo, hi) else (float(picked[0]), float(picked[1]))
    sort = c5.selectbox("Sort", list(SORTS), key="browse_sort")
    return PairFilter(
        tuple(chosen_kinds),
        tuple(1 if t == "same" else 0 for t in truth),
        tuple(verdicts),
        score_range,
        SORTS[sort],
    )


def browse(labelled: LabelledSet, scored: ScoredSet) -> None:
    """The filtered table; selecting a row offers "Open in Verify" with the lab's thresholds."""
    rows = pair_rows(scored, pair_filter(scored))
    st.caption(f"{len(rows)} of {len(scored)} pairs; margin: distance to the {scored.rule} rule's boundary")
    event = st.dataframe(
        rows.drop(columns="position"),
        hide_index=True,
        key="browse_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    selected = event.selection.rows if event is not None else []
    if not selected:
        st.caption("Select a row to open that pair on the Verify page.")
        return
    row = rows.iloc[selected[0]]
    if st.button(f"Open {row['ref']} vs {row['query']} in Verify", key="browse_open"):
        ref, query = labelled.root / str(row["ref"]), labelled.root / str(row["query"])
        send(Handoff(str(row["ref"]), ref.read_bytes(), str(row["query"]), query.read_bytes(), labelled.name))
