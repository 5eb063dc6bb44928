"""Helpers for the AppTest page tests (imported by them; pytest puts this folder on sys.path)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


def open_page(page: str) -> AppTest:
    """Run the app, then switch to ``page`` (e.g. ``pages/verify.py``) and run it."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if page != "pages/demo.py":  # the default page
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything the page says in verdict cards, figures, alert boxes and captions, one string (tags stripped)."""
    parts = [e.value for kind in (at.success, at.warning, at.error, at.caption, at.info) for e in kind]
    parts += [card(m.value) for m in at.markdown if "<style>" not in m.value]
    return "\n".join(str(p) for p in parts)


def card(markup: str) -> str:
    """The text of an HTML fragment (verdict card, figure chips): tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def headlines(at: AppTest) -> list[str]:
    """The headline of every verdict card on the page, in order."""
    found = re.findall(r'<div class="vhead">(.*?)</div>', "\n".join(m.value for m in at.markdown))
    return [html.unescape(h) for h in found]


def figure_values(at: AppTest) -> dict[str, str]:
    """The figure chips on the page: label -> value (the last card's figures win)."""
    pairs = re.findall(
        r'<div class="fl">(.*?)</div><div class="fv">(.*?)</div>', "\n".join(m.value for m in at.markdown)
    )
    return {html.unescape(k): html.unescape(v) for k, v in pairs}
