"""Resampling aggregates onto an epoch-aligned grid and never invents bars."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bastion.data import find_gaps, random_walk_bars, resample, validate_bars
from bastion.model.bars import BarSeries

T0 = 1_704_067_200_000  # 2024-01-01T00:00Z, a Monday
MINUTE = 60_000
DAY = 86_400_000

MakeSeries = Callable[..., BarSeries]


def bar(k: int, o: float, h: float, low: float, c: float, v: float) -> tuple[int, ...]:
    return (T0 + k * MINUTE, o, h, low, c, v)  # type: ignore[return-value]


def test_one_minute_to_five_minutes(make_series: MakeSeries) -> None:
    series = make_series(
        [
            bar(0, 10, 12, 9, 11, 1),
            bar(1, 11, 13, 10, 12, 2),
            bar(2, 12, 12.5, 8, 9, 3),
            bar(3, 9, 10, 8.5, 9.5, 4),
            bar(4, 9.5, 11, 9, 10.5, 5),
            bar(5, 10.5, 11, 10, 10.8, 6),
            bar(6, 10.8, 14, 10.5, 13, 7),
        ]
    )

    out = resample(series, 5 * MINUTE)

    np.testing.assert_array_equal(out.ts, [T0, T0 + 5 * MINUTE])
    np.testing.assert_array_equal(out.open, [10, 10.5])
    np.testing.assert_array_equal(out.high, [13, 14])
    np.testing.assert_array_equal(out.low, [8, 10])
    np.testing.assert_array_equal(out.close, [10.5, 13])
    np.testing.assert_array_equal(out.volume, [15, 13])
    assert (out.symbol, out.interval_ms, out.synthetic) == ("BTC/USDT", 5 * MINUTE, False)
    assert out.source.endswith("+resample:5m")
    validate_bars(out)


def test_buckets_align_to_epoch_multiples_not_to_the_first_bar(make_series: MakeSeries) -> None:
    series = make_series([bar(k, 10, 11, 9, 10, 1) for k in range(3, 9)])  # 00:03 .. 00:08

    out = resample(series, 5 * MINUTE)

    np.testing.assert_array_equal(out.ts, [T0, T0 + 5 * MINUTE])
    np.testing.assert_array_equal(out.volume, [2, 4])


def test_an_empty_bucket_stays_a_gap(make_series: MakeSeries) -> None:
    series = make_series([bar(k, 10, 11, 9, 10, 1) for k in (0, 1, 12, 13)])

    out = resample(series, 5 * MINUTE)

    np.testing.assert_array_equal(out.ts, [T0, T0 + 10 * MINUTE])
    assert [g.missing_bars for g in find_gaps(out)] == [1]


def test_drop_partial_keeps_only_complete_buckets(make_series: MakeSeries) -> None:
    series = make_series([bar(k, 10, 11, 9, 10, 1) for k in (*range(3, 10), *range(11, 15))])

    out = resample(series, 5 * MINUTE, drop_partial=True)

    np.testing.assert_array_equal(out.ts, [T0 + 5 * MINUTE])
    np.testing.assert_array_equal(out.volume, [5])


def test_weekly_bars_can_start_on_monday() -> None:
    daily = random_walk_bars(21, seed=3, start_ts=T0, interval_ms=DAY)

    thursday = resample(daily, 7 * DAY)
    monday = resample(daily, 7 * DAY, origin_ms=4 * DAY)

    assert thursday.ts[0] == T0 - 4 * DAY  # the epoch grid's week began Thursday 2023-12-28
    np.testing.assert_array_equal(monday.ts, [T0, T0 + 7 * DAY, T0 + 14 * DAY])
    assert monday.synthetic
    assert monday.volume.sum() == pytest.approx(daily.volume.sum())


@pytest.mark.parametrize("target", [90_000, 0, -MINUTE, 30_000])
def test_target_must_be_a_multiple_of_the_source(make_series: MakeSeries, target: int) -> None:
    series = make_series([bar(0, 10, 11, 9, 10, 1)])

    with pytest.raises(ValueError, match=f"interval_ms={target}: expected a positive multiple"):
        resample(series, target)


def test_same_interval_is_the_same_series(make_series: MakeSeries) -> None:
    series = make_series([bar(0, 10, 11, 9, 10, 1)])

    assert resample(series, MINUTE) is series


def test_empty_series_resamples_to_empty(make_series: MakeSeries) -> None:
    out = resample(make_series([]), 5 * MINUTE)

    assert len(out) == 0
    assert out.interval_ms == 5 * MINUTE


def test_hourly_bars_agree_with_a_reshape_reference() -> None:
    series = random_walk_bars(60 * 500, seed=11)  # starts on the hour, no gaps

    hourly = resample(series, 60 * MINUTE)

    def grid(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1, 60)

    np.testing.assert_array_equal(hourly.ts, grid(series.ts)[:, 0])
    np.testing.assert_array_equal(hourly.open, grid(series.open)[:, 0])
    np.testing.assert_array_equal(hourly.high, grid(series.high).max(axis=1))
    np.testing.assert_array_equal(hourly.low, grid(series.low).min(axis=1))
    np.testing.assert_array_equal(hourly.close, grid(series.close)[:, -1])
    np.testing.assert_allclose(hourly.volume, grid(series.volume).sum(axis=1), rtol=1e-12)
    validate_bars(hourly)


def test_resampled_arrays_are_read_only(make_series: MakeSeries) -> None:
    out = resample(make_series([bar(k, 10, 11, 9, 10, 1) for k in range(10)]), 5 * MINUTE)

    for name in ("ts", "open", "high", "low", "close", "volume"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(out, name)[0] = 1
