"""Gaps are found and reported as missing data, never filled."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bastion.data import Gap, find_gaps, gap_summary, modal_step
from bastion.model.bars import BarSeries

T0 = 1_704_067_200_000
MINUTE = 60_000

MakeSeries = Callable[..., BarSeries]


def minutes(*offsets: int) -> list[tuple[int, float, float, float, float, float]]:
    return [(T0 + k * MINUTE, 10.0, 11.0, 9.0, 10.0, 1.0) for k in offsets]


def test_contiguous_bars_have_no_gaps(make_series: MakeSeries) -> None:
    series = make_series(minutes(0, 1, 2, 3))

    assert find_gaps(series) == []
    assert gap_summary(series) == {
        "bars": 4,
        "count": 0,
        "missing_bars": 0,
        "largest_missing_bars": 0,
        "largest_after_ts": None,
        "coverage": 1.0,
    }


def test_gaps_are_reported_and_not_filled(make_series: MakeSeries) -> None:
    series = make_series(minutes(0, 1, 5, 6, 8))

    gaps = find_gaps(series)

    assert gaps == [
        Gap(after_ts=T0 + 1 * MINUTE, next_ts=T0 + 5 * MINUTE, missing_bars=3),
        Gap(after_ts=T0 + 6 * MINUTE, next_ts=T0 + 8 * MINUTE, missing_bars=1),
    ]
    assert gaps[0].span_ms == 4 * MINUTE
    assert len(series) == 5  # nothing was inserted


def test_gap_summary_names_the_largest(make_series: MakeSeries) -> None:
    summary = gap_summary(make_series(minutes(0, 1, 5, 6, 8)))

    assert summary == {
        "bars": 5,
        "count": 2,
        "missing_bars": 4,
        "largest_missing_bars": 3,
        "largest_after_ts": T0 + MINUTE,
        "coverage": pytest.approx(5 / 9),
    }


def test_a_step_that_is_not_a_whole_number_of_bars_counts_what_is_uncovered(
    make_series: MakeSeries,
) -> None:
    rows = minutes(0)
    rows.append((T0 + 90_000, 10.0, 11.0, 9.0, 10.0, 1.0))  # 1.5 bars later

    assert find_gaps(make_series(rows)) == [Gap(after_ts=T0, next_ts=T0 + 90_000, missing_bars=1)]


def test_window_edges_count_as_gaps(make_series: MakeSeries) -> None:
    series = make_series(minutes(2, 3, 4))

    gaps = find_gaps(series, start_ts=T0, end_ts=T0 + 8 * MINUTE)

    assert gaps == [
        Gap(after_ts=T0 - MINUTE, next_ts=T0 + 2 * MINUTE, missing_bars=2),
        Gap(after_ts=T0 + 4 * MINUTE, next_ts=T0 + 8 * MINUTE, missing_bars=3),
    ]
    assert find_gaps(series, start_ts=T0 + 2 * MINUTE, end_ts=T0 + 5 * MINUTE) == []
    assert gap_summary(series, start_ts=T0, end_ts=T0 + 8 * MINUTE)["missing_bars"] == 5


def test_empty_series_in_a_window_is_one_gap(make_series: MakeSeries) -> None:
    empty = make_series([])

    assert find_gaps(empty) == []
    assert find_gaps(empty, start_ts=T0, end_ts=T0 + 3 * MINUTE) == [
        Gap(after_ts=T0 - MINUTE, next_ts=T0 + 3 * MINUTE, missing_bars=3)
    ]
    assert gap_summary(empty)["coverage"] == 1.0


def test_modal_step() -> None:
    assert modal_step(np.array([0, 60, 120, 300, 360], dtype=np.int64)) == 60
    assert modal_step(np.array([0, 60, 180], dtype=np.int64)) == 60  # tie: the smaller
    assert modal_step(np.array([5], dtype=np.int64)) is None
