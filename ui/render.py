"""Small rendering helpers shared by the pages (no computation).

The verdict card leads with a plain-language headline ("Same building: 215
points line up"); the contract's words ("200 · Complete") follow in small
type for the engineers.  Every text is HTML-escaped before it is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import streamlit as st

from vision.core.verdict import Verdict
from vision.views.match import Figure
from vision.views.plain import plain_message
from vision.views.replay_step import ReplayStep

MAX_TEXT = 400  # user text (file names, reasons) is capped before it is shown

CSS = """
<style>
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem;}
.vcard {border-radius: .6rem; padding: .9rem 1.1rem; margin: .2rem 0 .6rem 0; border-left: .5rem solid;}
.vcard.ok {background: #e9f7ec; border-color: #1e9e45; color: #0f3d1d;}
.vcard.bad {background: #fdeeee; border-color: #d2343b; color: #4d1013;}
.vcard.err {background: #fff5e0; border-color: #e08a00; color: #4a3000;}
.vcard .vhead {font-size: 1.55rem; font-weight: 700; line-height: 1.25;}
.vcard.small .vhead {font-size: 1.15rem;}
.vcard .vdetail {font-size: .95rem; margin-top: .3rem;}
.vcard .vcontract {font-size: .75rem; opacity: .75; margin-top: .45rem; font-family: monospace;}
.figs {display: flex; flex-wrap: wrap; gap: .4rem .6rem; margin: .2rem 0 .6rem 0;}
.fig {border: 1px solid rgba(128,128,128,.35); border-radius: .5rem; padding: .3rem .6rem; min-width: 7.5rem;}
.fig .fl {font-size: .75rem; opacity: .75;}
.fig .fv {font-size: 1.15rem; font-weight: 600;}
.fig .fn {font-size: .75rem; opacity: .75;}
@media (max-width: 640px) {
  .vcard .vhead {font-size: 1.2rem;}
  .fig {flex: 1 1 0; min-width: 5.5rem; padding: .2rem .45rem;}
  .fig .fv {font-size: 1rem;}
  [data-testid="stColumn"]:has(.st-key-verdict_first) {order: -1;}
}
</style>
"""


def inject_css() -> None:
    """The card and figure styles (once per page run)."""
    st.markdown(CSS, unsafe_allow_html=True)


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def verdict_card(verdict: Verdict, headline: str | None = None, detail: str = "", small: bool = False) -> None:
    """A coloured card: the plain headline, a detail line, and the contract's answer in small type."""
    tone = "ok" if verdict.result else ("err" if verdict.status >= 400 else "bad")
    icon = {"ok": "✅", "bad": "❌", "err": "⚠️"}[tone]
    head = headline or plain_message(verdict)
    contract = f"API answer: {verdict.status} · “{verdict.message}”"
    if verdict.reason:
        contract += f" · {verdict.reason}"
    parts = [f'<div class="vhead">{icon} {escape(_cap(head))}</div>']
    if detail:
        parts.append(f'<div class="vdetail">{escape(_cap(detail))}</div>')
    parts.append(f'<div class="vcontract">{escape(_cap(contract))}</div>')
    classes = f"vcard {tone}" + (" small" if small else "")
    st.markdown(f'<div class="{classes}" role="status">{"".join(parts)}</div>', unsafe_allow_html=True)


def show_verdict(verdict: Verdict, headline: str | None = None, detail: str = "") -> None:
    """The verdict card at its usual size (kept for pages that do not need more)."""
    verdict_card(verdict, headline, detail)


def figures(items: Sequence[Figure]) -> None:
    """The numbers behind a verdict as compact chips that wrap (two or three per row on a phone)."""
    chips = []
    for f in items:
        need = f'<div class="fn">needs {escape(f.need)}</div>' if f.need else ""
        title = f' title="{escape(f.help)}"' if f.help else ""
        chips.append(
            f'<div class="fig"{title}><div class="fl">{escape(f.label)}</div>'
            f'<div class="fv">{escape(f.value)}</div>{need}</div>'
        )
    st.markdown(f'<div class="figs">{"".join(chips)}</div>', unsafe_allow_html=True)


def show_timings(timings: dict[str, float]) -> None:
    """Milliseconds per stage, one line of small type."""
    if timings:
        st.caption("Time (ms): " + " · ".join(f"{k} {v:.0f}" for k, v in timings.items()))


def replay_picture(step: ReplayStep) -> None:
    """The replay check's aligned difference image with its caption from the finding (nothing without one)."""
    if step.picture is None:
        return
    st.image(step.picture, width="stretch", channels="BGR")  # difference_image draws in BGR (OpenCV colour map)
    st.caption(step.caption)
