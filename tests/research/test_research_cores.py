"""The research cores alone: grids, folds, stitching, the choice and the verdict."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.research.folds import make_folds, stitch
from bastion.research.grid import expand, parse_grid
from bastion.research.select import choose, judge, stability

DAY = 86_400_000


def test_a_grid_is_lists_or_ranges_and_expands_first_key_slowest() -> None:
    grid = parse_grid(["fast=10,20", "slow=50:150:50"])

    assert grid == {"fast": ["10", "20"], "slow": ["50", "100", "150"]}
    assert expand(grid)[:4] == [
        {"fast": "10", "slow": "50"},
        {"fast": "10", "slow": "100"},
        {"fast": "10", "slow": "150"},
        {"fast": "20", "slow": "50"},
    ]
    assert parse_grid(["fast=1,2 slow=3"]) == {"fast": ["1", "2"], "slow": ["3"]}


@pytest.mark.parametrize(
    ("items", "says"),
    [
        (["fast"], "expected KEY=V1,V2"),
        (["fast=1", "fast=2"], "given twice"),
        (["fast=1,1"], "listed twice"),
        (["fast=5:1:1"], "STOP >= START"),
        (["fast=a:b:c"], "START:STOP:STEP with numbers"),
    ],
)
def test_a_bad_grid_is_refused_by_name(items: list[str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_grid(items)


@given(
    days=st.integers(10, 400),
    train=st.integers(1, 120),
    test=st.integers(1, 60),
    anchored=st.booleans(),
)
def test_folds_never_let_a_test_bar_into_its_training_window(
    days: int, train: int, test: int, anchored: bool
) -> None:
    first, end = 1_700_000_000_000, 1_700_000_000_000 + days * DAY
    try:
        folds = make_folds(first, end, train_ms=train * DAY, test_ms=test * DAY, anchored=anchored)
    except ValueError:
        assert train + test > days
        return
    for f in folds:
        assert f.train_end == f.test_start  # half-open: [train) then [test)
        assert f.train_start >= first and f.test_end <= end
        assert f.test_end - f.test_start == test * DAY
        assert f.train_start == (first if anchored else f.test_start - train * DAY)
    for a, b in itertools.pairwise(folds):
        assert b.test_start == a.test_end  # back to back, no overlap
    assert end - folds[-1].test_end < test * DAY  # only a short tail is left out


def test_too_little_data_for_one_fold_says_how_much_is_needed() -> None:
    with pytest.raises(ValueError, match=r"spans 10\.0 days; --train plus --test need 75 days"):
        make_folds(0, 10 * DAY, train_ms=60 * DAY, test_ms=15 * DAY)


def test_stitching_compounds_each_window_from_where_the_last_ended() -> None:
    a = (np.array([1, 2]), np.array([110.0, 120.0]), 100.0)  # +20%
    b = (np.array([3, 4]), np.array([90.0, 50.0]), 100.0)  # -50%

    ts, eq = stitch([a, b], 1000.0)

    assert ts.tolist() == [1, 2, 3, 4]
    assert eq.tolist() == pytest.approx([1100.0, 1200.0, 1080.0, 600.0])


def test_the_best_value_wins_ties_go_to_the_first_and_undefined_ranks_last() -> None:
    assert choose([1.0, 3.0, 3.0, None]) == 1
    assert choose([None, float("nan"), -5.0]) == 2
    assert choose([None, None]) is None


def test_stability_counts_changes_between_consecutive_folds() -> None:
    s = stability([{"fast": "10"}, {"fast": "20"}, {"fast": "20"}, {"fast": "10"}])

    assert s["fast"]["values"] == ["10", "20", "20", "10"]
    assert s["fast"]["changes"] == 2
    assert s["fast"]["most_common_share"] == 0.5


def test_the_verdict_warns_as_documented() -> None:
    p = {"fast": "10"}
    degraded = judge("sharpe", [2.0, 2.0], [0.5, 0.9], [p, p])
    assert degraded.degradation_ratio == pytest.approx(0.35)
    assert [w["code"] for w in degraded.warnings] == ["DEGRADED"]

    held = judge("sharpe", [2.0, 2.0], [1.5, 1.9], [p, p])
    assert held.warnings == []

    flipped = judge("sharpe", [1.0, 1.0, 1.0], [-1.0, -1.0, 2.0], [p, p, p])
    assert {w["code"] for w in flipped.warnings} == {"DEGRADED", "SIGN_FLIP"}

    no_edge = judge("sharpe", [-1.0], [-2.0], [p])
    assert [w["code"] for w in no_edge.warnings] == ["NO_EDGE_IN_SAMPLE"]
    assert no_edge.degradation_ratio is None  # -2 over -1 would read as "twice as good"

    moving = [{"fast": v} for v in ("1", "2", "3", "4")]
    skipped = judge("sharpe", [1.0, 1.0, 1.0, 1.0, None], [1.0] * 4 + [None], [*moving, None])
    assert {w["code"] for w in skipped.warnings} == {"UNSTABLE", "SKIPPED"}


def test_a_grid_point_lands_in_the_strategy_its_key_names() -> None:
    from bastion.config import parse_config
    from bastion.research.runner import apply_point

    two = parse_config(
        {
            "strategies": [
                {"name": "sma_cross", "id": "fastma", "symbols": ["BTC/USDT"]},
                {"name": "bollinger", "symbols": ["ETH/USDT"], "params": {"k": "2"}},
            ]
        }
    )

    out = apply_point(two, {"fastma.fast": "7", "bollinger.period": "30"}, from_cli=False)

    assert out.strategies[0].params == {"fast": "7"}
    assert out.strategies[1].params == {"k": "2", "period": "30"}
    assert two.strategies[0].params == {}  # the config itself is left alone
    with pytest.raises(ValueError, match="runs 2 strategies"):
        apply_point(two, {"fast": "7"}, from_cli=False)
