"""Dashboard entrypoint: ``streamlit run app.py``.

Declares the pages, the Demo first.  Each page draws the thresholds that act
on it in the sidebar (``ui.sidebar.render_sidebar``; the Demo page none, the
Tuning lab all); their values persist across pages.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Habit photo check", page_icon="📷", layout="wide")

PAGES = [
    st.Page("pages/demo.py", title="Demo", icon="✨", default=True),
    st.Page("pages/register.py", title="Register", icon="📥"),
    st.Page("pages/verify.py", title="Verify", icon="🔍"),
    st.Page("pages/tag.py", title="Tag", icon="🏷️"),
    st.Page("pages/tune.py", title="Tuning lab", icon="🎛️"),
    st.Page("pages/history.py", title="History", icon="🕒"),
]

st.navigation(PAGES).run()
