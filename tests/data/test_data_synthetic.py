"""Synthetic markets are deterministic for a seed, labelled synthetic, and plausible."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bastion.data import (
    SYNTHETIC_START_TS,
    Regime,
    RegimeSpan,
    find_gaps,
    random_walk_bars,
    regime_bars,
    regime_schedule,
    validate_bars,
)
from bastion.model.bars import BarSeries

COLUMNS = ("ts", "open", "high", "low", "close", "volume")


def same_bars(a: BarSeries, b: BarSeries) -> bool:
    return all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS)


def assert_plausible(series: BarSeries) -> None:
    validate_bars(series)  # positive prices, high/low bracket open/close, sorted, ...
    assert np.all(series.volume > 0)
    np.testing.assert_array_equal(series.open[1:], series.close[:-1])
    assert find_gaps(series) == []
    assert series.synthetic
    assert series.source.startswith("synthetic:")


@pytest.mark.parametrize("generator", [random_walk_bars, regime_bars])
def test_same_seed_same_bars_other_seed_other_bars(generator: Callable[..., BarSeries]) -> None:
    first = generator(5_000, seed=7)
    again = generator(5_000, seed=7)
    other = generator(5_000, seed=8)

    assert same_bars(first, again)
    assert first.source == again.source
    assert not np.array_equal(first.close, other.close)
    np.testing.assert_array_equal(first.ts, other.ts)  # time does not depend on the seed


def test_random_walk_defaults() -> None:
    series = random_walk_bars(1_000, seed=1)

    assert_plausible(series)
    assert (series.symbol, series.interval_ms) == ("SYN/USDT", 60_000)
    assert series.ts[0] == SYNTHETIC_START_TS == 1_704_067_200_000  # 2024-01-01T00:00Z
    assert series.open[0] == 100.0
    np.testing.assert_array_equal(np.diff(series.ts), 60_000)
    assert series.source == "synthetic:random_walk(seed=1,sigma=0.001,drift=0)"


def test_random_walk_volatility_matches_sigma() -> None:
    series = random_walk_bars(200_000, seed=2, sigma=0.002)

    log_returns = np.diff(np.log(series.close))

    assert np.std(log_returns) == pytest.approx(0.002, rel=0.02)
    assert abs(np.mean(log_returns)) < 1e-4


def test_random_walk_drift_moves_the_price() -> None:
    up = random_walk_bars(10_000, seed=3, drift=0.001)

    assert up.close[-1] > 100.0 * np.exp(5.0)


def test_random_walk_respects_arguments() -> None:
    series = random_walk_bars(
        10, seed=4, symbol="ABC/EUR", start_ts=0, interval_ms=14_400_000, start_price=2.5
    )

    assert series.symbol == "ABC/EUR"
    np.testing.assert_array_equal(series.ts, np.arange(10) * 14_400_000)
    assert series.open[0] == 2.5


def test_zero_bars() -> None:
    assert len(random_walk_bars(0, seed=1)) == 0
    assert len(regime_bars(0, seed=1)) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, "n must be >= 0"),
        ({"interval_ms": 0}, "interval_ms must be positive"),
        ({"start_price": 0.0}, "start_price must be > 0"),
        ({"sigma": 0.0}, "sigma is a per-bar log-return volatility"),
        ({"sigma": 0.7}, "sigma is a per-bar log-return volatility"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    arguments = {"n": 10, "seed": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        random_walk_bars(**arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        regime_bars(**arguments)  # type: ignore[arg-type]


def test_regime_schedule_cycles_and_cuts_the_last_segment() -> None:
    schedule = regime_schedule(10, regimes=("trend", Regime.CRASH), segment_bars=4)

    assert schedule == [
        RegimeSpan(regime=Regime.TREND, start=0, stop=4),
        RegimeSpan(regime=Regime.CRASH, start=4, stop=8),
        RegimeSpan(regime=Regime.TREND, start=8, stop=10),
    ]
    assert regime_schedule(0) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regimes": ()}, "expected a non-empty sequence"),
        ({"regimes": "trend"}, "expected a non-empty sequence"),
        ({"regimes": ("trend", "moon")}, "regime 'moon': expected one of trend, range"),
        ({"segment_bars": 1}, "segment_bars must be >= 2"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        regime_schedule(100, **kwargs)  # type: ignore[arg-type]


def test_regime_bars_are_plausible_and_labelled() -> None:
    series = regime_bars(20_000, seed=5)

    assert_plausible(series)
    assert series.source == (
        "synthetic:regimes(seed=5,sigma=0.001,segment_bars=1440,regimes=trend,range,high_vol,crash)"
    )


def test_each_crash_falls_15_to_30_percent_within_hours_then_partly_recovers() -> None:
    series = regime_bars(1_440 * 4 * 5, seed=6)

    crashes = [s for s in regime_schedule(len(series)) if s.regime is Regime.CRASH]

    assert len(crashes) == 5
    for span in crashes:
        before = series.open[span.start]
        closes = series.close[span.start : span.stop]
        trough = int(np.argmin(closes))
        assert 0.62 < closes[trough] / before < 0.88
        assert trough < 6 * 60  # the fall takes hours, not the whole day
        assert closes[-1] > closes[trough] * 1.05  # partial recovery...
        assert closes[-1] < before  # ...not a full one


def test_volatility_and_volume_are_highest_in_high_vol_segments() -> None:
    series = regime_bars(1_440 * 4 * 10, seed=9)
    returns = np.diff(np.log(series.close), prepend=np.log(100.0))

    stats: dict[Regime, tuple[list[float], list[float]]] = {r: ([], []) for r in Regime}
    for span in regime_schedule(len(series)):
        stats[span.regime][0].append(float(np.std(returns[span.start : span.stop])))
        stats[span.regime][1].append(float(np.mean(series.volume[span.start : span.stop])))

    vol = {r: np.mean(s[0]) for r, s in stats.items()}
    volume = {r: np.mean(s[1]) for r, s in stats.items()}
    assert vol[Regime.HIGH_VOL] > 3 * vol[Regime.RANGE]
    assert vol[Regime.HIGH_VOL] > 3 * vol[Regime.TREND]
    assert volume[Regime.HIGH_VOL] > 2 * volume[Regime.RANGE]


def test_range_segments_revert_to_their_level() -> None:
    series = regime_bars(1_440 * 4, seed=10, regimes=("range",) * 4)

    log_close = np.log(series.close)

    # An AR(1) with a 60-bar memory stays within a few percent of where it began.
    assert np.max(np.abs(log_close - np.log(100.0))) < 0.05


def test_trend_segments_move_five_to_twenty_percent() -> None:
    series = regime_bars(1_440 * 8, seed=12, regimes=("trend",))

    for span in regime_schedule(len(series), regimes=("trend",)):
        change = series.close[span.stop - 1] / series.open[span.start]
        assert 0.75 < change < 1.3
        assert abs(np.log(change)) > 0.02


def test_a_schedule_of_only_crashes_levels_off_above_zero() -> None:
    series = regime_bars(200_000, seed=14, regimes=("crash",), segment_bars=2, sigma=0.01)

    assert_plausible(series)
    assert series.close.min() > 100.0 * 1e-3


def test_regime_bars_at_four_hours_still_crash_over_hours() -> None:
    series = regime_bars(400, seed=13, interval_ms=14_400_000, segment_bars=30, sigma=0.01)

    assert_plausible(series)
    for span in regime_schedule(400, segment_bars=30):
        if span.regime is Regime.CRASH and span.stop - span.start == 30:
            closes = series.close[span.start : span.stop]
            assert 0.55 < closes.min() / series.open[span.start] < 0.9
