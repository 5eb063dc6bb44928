"""The steady countdown and the run-time extrapolation, on constructed progress."""

from __future__ import annotations

import pytest

from vision.lab.eta import SteadyEta, eta_text, extrapolate_s


def test_silent_until_enough_items() -> None:
    eta = SteadyEta()
    assert eta.update("features", 0, 100, 0.0) is None
    assert eta.update("features", 4, 100, 2.0) is None  # 5 % of 100 is 5
    assert eta.update("features", 5, 100, 2.5) == pytest.approx(47.5)


def test_counts_down_through_bursts_and_resets_when_clearly_off() -> None:
    eta = SteadyEta()
    assert eta.update("matches", 10, 100, 10.0) == pytest.approx(90.0)
    assert eta.update("matches", 12, 100, 12.0) == pytest.approx(88.0)  # raw 88: on the countdown
    assert eta.update("matches", 15, 100, 13.0) == pytest.approx(
        87.0
    )  # a burst: raw 73.7 is within 25 %, keep counting
    assert eta.update("matches", 40, 100, 14.0) == pytest.approx(21.0)  # raw 21: far off, follow it
    assert eta.update("matches", 41, 100, 15.0) == pytest.approx(20.0)


def test_new_stage_starts_afresh() -> None:
    eta = SteadyEta()
    eta.update("features", 50, 100, 50.0)
    assert eta.update("matches", 1, 300, 1.0) is None
    assert eta.update("matches", 30, 300, 3.0) == pytest.approx(27.0)


def test_eta_text_rounds() -> None:
    assert eta_text(None) == ""
    assert eta_text(2.0) == "about 5 s left"
    assert eta_text(43.0) == "about 45 s left"
    assert eta_text(230.0) == "about 4 min left"


def test_extrapolate() -> None:
    assert extrapolate_s(3.0, 2, 354, 2) == pytest.approx(265.5)
    with pytest.raises(ValueError, match="timed sample"):
        extrapolate_s(1.0, 0, 10, 2)
