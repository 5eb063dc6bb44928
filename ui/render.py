"""Small rendering helpers shared by the pages (no computation).

The verdict card leads with a plain-language headline ("Same building: 215
points line up"); the contract's words ("200 · Complete") follow in small
type for the engineers.  Every text is HTML-escaped before it is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import streamlit as st
import streamlit.components.v1 as components

from vision.core.verdict import Verdict
from vision.views.draw import STRONG
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
}
/* the chosen thumbnail: blue, not the red of a failed verdict */
[class*="st-key-thumbs_"] [data-testid="stBaseButton-primary"] {background: #1f5fa8; border-color: #1f5fa8; color: #fff;}
[class*="st-key-thumbs_"] [data-testid="stBaseButton-primary"]:hover {background: #184d8a; border-color: #184d8a;}
.legend {display: flex; flex-wrap: wrap; gap: .2rem 1rem; font-size: .9rem; margin: -.3rem 0 .6rem 0;}
.legend .sw {display: inline-block; width: 1.6rem; height: .55rem; border-radius: .2rem; margin-right: .35rem;
  vertical-align: middle;}
/* every uploader takes one photo: no "+" that suggests several */
[data-testid="stFileUploader"] button[aria-label="Add files"] {display: none;}
.picknote {font-size: .85rem; opacity: .85; margin: -.2rem 0 .5rem 0;}
[class*="st-key-thumbs_"] [data-testid^="stBaseButton-"] {padding: .2rem .25rem; min-height: 2rem;}
[class*="st-key-thumbs_"] [data-testid^="stBaseButton-"] p {font-size: .8rem; line-height: 1.15;}
</style>
"""


def inject_css() -> None:
    """The card and figure styles (once per page run)."""
    st.markdown(CSS, unsafe_allow_html=True)


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def contract_words(verdict: Verdict) -> str:
    """The contract's answer for engineers: ``API answer: 200 · “Complete” · <reason>``."""
    contract = f"API answer: {verdict.status} · “{verdict.message}”"
    return contract + (f" · {verdict.reason}" if verdict.reason else "")


def verdict_card(
    verdict: Verdict, headline: str | None = None, detail: str = "", small: bool = False, *, contract: bool = True
) -> None:
    """A coloured card: the plain headline, a detail line, and (``contract``) the contract's answer in small type."""
    tone = "ok" if verdict.result else ("err" if verdict.status >= 400 else "bad")
    icon = {"ok": "✅", "bad": "❌", "err": "⚠️"}[tone]
    head = headline or plain_message(verdict)
    parts = [f'<div class="vhead">{icon} {escape(_cap(head))}</div>']
    if detail:
        parts.append(f'<div class="vdetail">{escape(_cap(detail))}</div>')
    if contract:
        parts.append(f'<div class="vcontract">{escape(_cap(contract_words(verdict)))}</div>')
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


def replay_picture(step: ReplayStep, *, stacked: bool = False) -> None:
    """The replay check's aligned difference at a useful size, with its caption (nothing without one).

    :func:`vision.views.replay.difference_image` is one strip of three equal
    panels; each is cropped to where the reference landed in the new photo
    (the area compared), the difference (what decides) shown twice the size
    of the two aligned photos: beside them, or under them when ``stacked``.
    """
    if step.picture is None:
        return
    third = step.picture.shape[1] // 3
    earlier, new, diff = (step.picture[:, i * third : (i + 1) * third] for i in range(3))
    rows, cols = np.nonzero(earlier.any(axis=2))  # where the reference landed: the compared area
    if rows.size:  # a phone screenshot is a tall frame around the photo: show the part that was compared
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        earlier, new, diff = (panel[y0:y1, x0:x1] for panel in (earlier, new, diff))
    if stacked:  # a narrow column: the two photos side by side, the difference under them at full width
        a, b = st.columns(2, gap="small")
        big = st.container()
    else:  # a full-width row: the two photos small, the difference twice their size
        a, b, big = st.columns([1, 1, 2], gap="small")
    a.image(earlier, caption="The reference, aligned", width="stretch", channels="BGR")
    b.image(new, caption="The new photo", width="stretch", channels="BGR")
    big.image(diff, caption="Their fine detail's difference", width="stretch", channels="BGR")  # OpenCV's colours
    st.caption(step.caption)


def legend(rows: Sequence[tuple[str, tuple[int, int, int]]]) -> None:
    """The match picture's legend as text (readable on a phone): ``(text, BGR colour)`` rows."""
    items = []
    for i, (text, (b, g, r)) in enumerate(rows):
        ramp = i == 0 and (b, g, r) == STRONG  # the counted lines: amber to green by confidence
        colour = "linear-gradient(90deg, #fabe28, #28d23c)" if ramp else f"rgb({r},{g},{b})"
        items.append(f'<span><span class="sw" style="background: {colour}"></span>{escape(_cap(text))}</span>')
    st.markdown(f'<div class="legend">{"".join(items)}</div>', unsafe_allow_html=True)


def scroll_into_view(key: str, nonce: str) -> None:
    """On a narrow screen (a phone), scroll the container ``st-key-<key>`` to the top of the window.

    ``nonce`` changes with each choice (a new frame runs once per change);
    on a wide screen nothing moves, the answer is already beside the pickers.
    The script runs in a component's same-origin frame and reaches the page
    through ``window.parent`` (a script in ``st.html`` leaves the previous
    run's elements on the page).
    """
    script = (
        f"<script>/* {escape(nonce)} */(function(){{const doc=window.parent.document;let n=0;const go=()=>{{"
        f"const el=doc.querySelector('.st-key-{key}');"
        "if(el&&window.parent.innerWidth<=640){el.scrollIntoView({block:'start'});}"
        "else if(!el&&n++<40){setTimeout(go,50);}};setTimeout(go,150);})();</script>"
    )
    components.html(script, height=0)
