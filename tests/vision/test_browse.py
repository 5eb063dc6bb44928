"""vision.lab.browse: every pair, filtered and sorted by the current rule's own numbers."""

from __future__ import annotations

import pytest

from vision.lab.browse import PairFilter, pair_rows
from vision.lab.scored import ScoredSet
from vision.profile import Profile


@pytest.fixture
def scored() -> ScoredSet:
    return ScoredSet.from_arrays(
        [1, 1, 0, 0, 1],
        [100, 16, 14, 0, 5],
        thresholds=Profile(rule="robust"),
        kinds=["viewpoint", "wide", "hard_negative", "easy", "wide"],
    )


def test_rows_carry_the_rule_s_verdict_score_and_margin(scored: ScoredSet) -> None:
    rows = pair_rows(scored)
    assert len(rows) == 5 and list(rows["margin"].abs()) == sorted(rows["margin"].abs())  # nearest the boundary first
    by_pos = rows.set_index("position")
    assert by_pos.loc[1, "verdict"] == "accepted" and by_pos.loc[1, "margin"] == pytest.approx(1 / 15, abs=1e-3)
    assert by_pos.loc[2, "verdict"] == "rejected" and by_pos.loc[2, "correct"]
    assert by_pos.loc[4, "reason"] == scored.reason(4) and not by_pos.loc[4, "correct"]


def test_filters_and_sorts(scored: ScoredSet) -> None:
    assert set(pair_rows(scored, PairFilter(kinds=("wide",)))["position"]) == {1, 4}
    assert set(pair_rows(scored, PairFilter(labels=(0,)))["position"]) == {2, 3}
    assert set(pair_rows(scored, PairFilter(verdicts=("accepted",)))["position"]) == {0, 1}
    assert set(pair_rows(scored, PairFilter(score_range=(10, 20)))["position"]) == {1, 2}
    assert list(pair_rows(scored, PairFilter(sort="score"))["position"])[:2] == [0, 1]
    wrong = pair_rows(scored, PairFilter(sort="wrong_first"))
    assert wrong.iloc[0]["position"] == 4 and not wrong.iloc[0]["correct"]
    with pytest.raises(ValueError, match="sort must be"):
        pair_rows(scored, PairFilter(sort="random"))
