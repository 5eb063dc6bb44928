"""A pair handed from the Tuning lab to the Verify page (same session: the lab's thresholds come along)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

KEY = "verify_handoff"


@dataclass(frozen=True)
class Handoff:
    """Both photos' bytes and names, and where they came from."""

    ref_name: str
    ref_data: bytes
    query_name: str
    query_data: bytes
    origin: str


def send(handoff: Handoff) -> None:
    """Open the Verify page on ``handoff``'s pair (from the page's script, not a callback)."""
    st.session_state[KEY] = handoff
    st.switch_page("pages/verify.py")


def received() -> Handoff | None:
    """The pair handed to the Verify page, if any."""
    held = st.session_state.get(KEY)
    return held if isinstance(held, Handoff) else None


def clear() -> None:
    """Back to choosing photos on the Verify page."""
    st.session_state.pop(KEY, None)
