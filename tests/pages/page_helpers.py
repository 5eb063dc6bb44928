"""Helpers for the AppTest page tests (imported by them; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


def open_page(page: str) -> AppTest:
    """Run the app, then switch to ``page`` (e.g. ``pages/verify.py``) and run it."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if page != "pages/register.py":
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything the page says in success/warning/error boxes and captions, one string."""
    parts = [e.value for kind in (at.success, at.warning, at.error, at.caption, at.info) for e in kind]
    return "\n".join(str(p) for p in parts)
