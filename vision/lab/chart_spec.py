"""What every lab chart shares: colours, axis constants, :class:`ChartSpec` and the text style.

Kept apart from :mod:`vision.lab.charts` so that module holds the charts only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd

SAME, DIFFERENT, ORIGINAL, POINT, ROBUST = "#2e9d4f", "#d2453a", "#8a6bbf", "#1f1f1f", "#3b6fb6"
#: The robust rule's ROC curve and point, set apart from the parts' colours.
ROBUST_ROC = "#8c8c8c"
#: The inlier axis is linear up to this count, logarithmic above (most pairs sit near 0 or in the hundreds).
LINTHRESH = 10
#: Tick values of the inlier axis (Vega's own ticks on a symlog scale land on 800, 1600, ...).
INLIER_TICKS = (0, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: The false-accept axis is linear below this rate, logarithmic above: 0-5 % gets about 40 % of the width.
FAR_LINTHRESH = 0.01
FAR_TICKS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
PAIR_SELECTION = "pair"
LABEL_FONT, TITLE_FONT = 13, 14
LABEL_NAMES = ("different", "same")
DASHES = {"solid": [1, 0], "dashed": [6, 3], "dotted": [2, 2]}


@dataclass(frozen=True)
class ChartSpec:
    """A Vega-Lite spec whose layers read named datasets, and those datasets.

    ``spec`` is shared (cached): :meth:`to_dict` returns a fresh copy with the data in it.
    """

    spec: dict[str, Any]
    datasets: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The full spec for ``st.vega_lite_chart`` (a copy: Streamlit moves the datasets out of it)."""
        out = copy.deepcopy(self.spec)
        out["datasets"] = dict(self.datasets)
        return out


def style_chart(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart as a dict, with readable text at dashboard size (13-14 px, legend labels never cut)."""
    styled = (
        chart.configure_axis(labelFontSize=LABEL_FONT, titleFontSize=TITLE_FONT)
        .configure_legend(labelFontSize=LABEL_FONT, titleFontSize=TITLE_FONT, labelLimit=0)
        .configure_title(fontSize=15)
    )
    return styled.to_dict()


def named_data(name: str) -> alt.NamedData:
    return alt.NamedData(name=name)
