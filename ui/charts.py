"""Charts of the Tag page (Altair specs; no computation beyond arranging the numbers)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from vision.tagging import Concept

ASKED = "#1e9e45"
OTHER = "#9aa5b1"


def concept_chart(concepts: Sequence[Concept], asked: str | None, min_confidence: float, tag: str) -> alt.LayerChart:
    """Horizontal bars of the top concepts, the asked-for tag's concept in green, the threshold as a red rule.

    ``asked`` is the concept that decided the tag (``verdict.extra["concept"]``);
    it is added when it is not among ``concepts``.
    """
    rows = [(c.name, float(c.score)) for c in concepts]
    if asked and asked not in {name for name, _ in rows}:
        rows.append((asked, 0.0))
    frame = pd.DataFrame(
        {
            "concept": [name for name, _ in rows],
            "confidence": [score for _, score in rows],
            "kind": [f"asked: {tag}" if name == asked else "other concepts" for name, _ in rows],
        }
    )
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="confidence"),
            y=alt.Y("concept:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=[f"asked: {tag}", "other concepts"], range=[ASKED, OTHER]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["concept", alt.Tooltip("confidence:Q", format=".2f")],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [min_confidence]}))
        .mark_rule(color="#d2343b", strokeWidth=2, strokeDash=[6, 3])
        .encode(x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=".2f", title="minimum confidence")])
    )
    label = (
        alt.Chart(pd.DataFrame({"threshold": [min_confidence], "text": [f"needed {min_confidence:.0%}"]}))
        .mark_text(color="#d2343b", align="left", dx=4, dy=-6, baseline="bottom")
        .encode(x="threshold:Q", y=alt.value(0), text="text:N")
    )
    return alt.LayerChart(layer=[bars, rule, label]).properties(height=chart_height(len(rows)))


def chart_height(n_rows: int) -> int:
    """Pixels for ``n_rows`` bars, each tall enough for its label."""
    return max(160, 26 * n_rows)
