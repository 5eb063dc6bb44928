"""Small rendering helpers shared by the pages (no computation)."""

from __future__ import annotations

import streamlit as st

from vision.verdict import Verdict


def show_verdict(verdict: Verdict, label: str = "Verdict") -> None:
    """The contract's words, big, coloured by outcome, with the reason below."""
    text = f"**{label}: {verdict.message}** (status {verdict.status})"
    if verdict.result:
        st.success(text, icon="✅")
    elif verdict.status >= 500:
        st.error(text, icon="🛑")
    else:
        st.warning(text, icon="⚠️")
    if verdict.reason:
        st.caption(f"Reason: {verdict.reason}")


def show_timings(timings: dict[str, float]) -> None:
    """Milliseconds per stage as a compact table."""
    if timings:
        st.dataframe(
            {"stage": list(timings), "ms": [round(v, 1) for v in timings.values()]},
            hide_index=True,
            width="content",
        )
