"""Regime labels follow the documented rules (docs/research.md), checked against
an independent computation (pandas' time-based rolling windows) on the nine
years of Coinbase 4h bars, whose bull, bear and crash periods are known; and
every backtest's summary and report break the run down by them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.research.support import real_file

from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.engine.backtest import run_backtest
from bastion.engine.outputs import write_outputs
from bastion.research.regimes import (
    RegimeRules,
    label_regimes,
    regime_breakdown,
)
from bastion.strategy import build_strategy

RULES = RegimeRules.from_config(BotConfig().research.regimes)
DAY = 86_400_000


def independent_labels(ts: np.ndarray, close: np.ndarray, rules: RegimeRules, interval: int):
    """The rules written again with pandas, for comparison."""
    when = pd.to_datetime(ts, unit="ms", utc=True)
    s = pd.Series(close, index=when)
    # Trend: the close of the last bar at or before ts - window.
    back = s.asof(when - pd.Timedelta(milliseconds=rules.trend_window_ms)).to_numpy()
    full_trend = (ts - rules.trend_window_ms) >= ts[0]
    r = close / back - 1.0
    trend = np.where(r > rules.trend_threshold, 1, np.where(r < -rules.trend_threshold, -1, 0))
    trend = np.where(full_trend, trend, -2)
    # Volatility: std of log returns in (ts - window, ts], annualised.
    logret = np.log(s).diff()
    sigma = logret.rolling(pd.Timedelta(milliseconds=rules.vol_window_ms), min_periods=2).std()
    sigma = sigma.to_numpy() * np.sqrt(365 * DAY / interval)
    full_vol = ((ts - rules.vol_window_ms) >= ts[0]) & ~np.isnan(sigma)
    threshold = np.quantile(sigma[full_vol], rules.vol_quantile)
    vol = np.where(full_vol, np.where(sigma > threshold, 1, 0), -2)
    return trend, vol, sigma, threshold


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "coinbase_BTC_USD_4h_2016-05-18_2025-10-28.parquet",
        "coinbase_ETH_USD_4h_2016-05-18_2025-10-28.parquet",
    ],
)
def test_labels_on_nine_years_match_an_independent_computation(name: str) -> None:
    bars = load_bars(real_file(name))
    labels = label_regimes(bars.ts, bars.close, bars.interval_ms, RULES)
    trend, vol, sigma, threshold = independent_labels(bars.ts, bars.close, RULES, bars.interval_ms)

    assert np.array_equal(labels.trend, trend)
    assert labels.vol_threshold == pytest.approx(threshold, rel=1e-9)
    # A value within float noise of the threshold may fall either side of it.
    near = np.abs(sigma - threshold) <= 1e-9 * threshold
    assert np.array_equal(labels.vol[~near], vol[~near])
    assert np.nanmax(np.abs(labels.realised_vol - sigma)) < 1e-9


@pytest.mark.realdata
def test_known_bull_bear_and_crash_periods_get_their_labels() -> None:
    bars = load_bars(real_file("coinbase_BTC_USD_4h_2016-05-18_2025-10-28.parquet"))
    labels = label_regimes(bars.ts, bars.close, bars.interval_ms, RULES)

    def share(code_array: np.ndarray, code: int, start: str, end: str) -> float:
        m = (bars.ts >= _ms(start)) & (bars.ts < _ms(end))
        return float((code_array[m] == code).mean())

    assert share(labels.trend, 1, "2017-10-01", "2017-12-15") > 0.6  # the 2017 bull run
    assert share(labels.trend, -1, "2018-01-15", "2018-12-31") > share(
        labels.trend, 1, "2018-01-15", "2018-12-31"
    )  # the 2018 bear market
    assert share(labels.trend, 1, "2020-10-15", "2021-01-10") > 0.6  # the 2020 rally
    assert share(labels.trend, -1, "2022-05-01", "2022-07-01") > 0.5  # 2022: Luna, 3AC
    covid = (bars.ts >= _ms("2020-03-12")) & (bars.ts < _ms("2020-03-20"))
    assert (labels.vol[covid] == 1).all()  # the March 2020 crash: high volatility
    assert (labels.trend[covid] == -1).mean() > 0.8


def test_a_hand_made_market_is_labelled_as_the_rules_say() -> None:
    rules = RegimeRules(trend_window_ms=2 * DAY, trend_threshold=0.05, vol_window_ms=2 * DAY,
                        vol_quantile=0.5)  # fmt: skip
    ts = np.arange(8, dtype=np.int64) * DAY
    close = np.array([100, 100, 100, 110, 121, 121, 100, 100], dtype=float)

    labels = label_regimes(ts, close, DAY, rules)

    # Day 2 looks back to day 0 (0%): range; day 4: 121/100; day 6: 100/121; day 7: 100/121.
    assert labels.trend.tolist() == [-2, -2, 0, 1, 1, 1, -1, -1]
    assert labels.vol.tolist()[:2] == [-2, -2]


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(-0.05, 0.05), min_size=30, max_size=200),
    seed=st.integers(0, 10_000),
)
def test_the_breakdown_adds_up_to_the_run(steps: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(steps)
    ts = np.arange(n, dtype=np.int64) * 3_600_000
    market = 100 * np.cumprod(1 + np.array(steps))
    equity = 1000 * np.cumprod(1 + rng.normal(0, 0.01, n))
    rules = RegimeRules(trend_window_ms=6 * 3_600_000, trend_threshold=0.02,
                        vol_window_ms=4 * 3_600_000, vol_quantile=0.6)  # fmt: skip
    labels = label_regimes(ts, market, 3_600_000, rules)
    trips = [(int(ts[i]), float(rng.normal())) for i in range(0, n, 7)]

    out = regime_breakdown(
        equity_ts=ts, equity=equity, initial_equity=1000.0, market=market, labels=labels,
        interval_ms=3_600_000, rules=rules, trips=trips,
    )  # fmt: skip

    for group in ("by_trend", "by_volatility"):
        rows = out[group].values()
        assert sum(r["bars"] for r in rows) == n
        assert sum(r["round_trips"] for r in rows) == len(trips)
        growth = np.prod([1 + r["return"] for r in rows])
        assert growth == pytest.approx(equity[-1] / 1000.0, rel=1e-9)
    labelled = (labels.trend != -2) & (labels.vol != -2)
    assert sum(r["bars"] for r in out["by_regime"].values()) == int(labelled.sum())


def test_every_backtest_summary_and_report_carry_the_regime_breakdown(tmp_path) -> None:
    from bastion.data.synthetic import regime_bars

    series = regime_bars(24 * 60, seed=3, interval_ms=3_600_000, segment_bars=120)
    strat = build_strategy("sma_cross", [series.symbol], {"fast": "5", "slow": "20"})

    result = run_backtest([series], [strat], BotConfig())
    files = write_outputs(result, tmp_path, series)

    regimes = result.summary["regimes"]
    assert sum(r["bars"] for r in regimes["by_trend"].values()) == len(series)
    assert (
        sum(r["round_trips"] for r in regimes["by_trend"].values()) == result.summary["round_trips"]
    )
    page = files["report"].read_text()
    table = re.search(r'<table id="regimes-trend"[^>]*>(.*?)</table>', page, re.S)
    assert table is not None
    for name, row in regimes["by_trend"].items():
        assert f"<td>{name}</td><td>{row['bars']:,}</td>" in table.group(1)


@given(
    n=st.integers(1, 300),
    window=st.integers(1, 50_000),
    drop=st.lists(st.integers(0, 299), max_size=20),
)
def test_the_window_start_by_arithmetic_equals_the_search(
    n: int, window: int, drop: list[int]
) -> None:
    from bastion.research.regimes import back_index

    ts = np.arange(n, dtype=np.int64) * 1_000
    gappy = np.delete(ts, [d for d in set(drop) if d < n - 1]) if drop else ts

    for t in (ts, gappy):
        expected = np.searchsorted(t, t - window, side="right") - 1
        assert back_index(t, window, 1_000).tolist() == expected.tolist()
