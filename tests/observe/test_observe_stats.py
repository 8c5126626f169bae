"""Run statistics on hand-computed equity curves and against NumPy references."""

from __future__ import annotations

import itertools
import json
import math
import time
from decimal import Decimal

import numpy as np
import pytest

from bastion.observe.stats import (
    YEAR_MS,
    annualization_periods,
    bar_returns,
    drawdown_series,
    summarize,
)
from bastion.observe.trades import RoundTrip

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def trip(net: str) -> RoundTrip:
    pnl = Decimal(net)
    return RoundTrip(
        strategy_id="s1",
        symbol="BTC/USDT",
        side="long",
        entry_ts=0,
        exit_ts=1,
        qty=Decimal(1),
        entry_price=Decimal(100),
        exit_price=Decimal(100) + pnl,
        gross_pnl=pnl,
        fees=Decimal(0),
        net_pnl=pnl,
        fills=2,
    )


def run(
    equity: list[float] | np.ndarray,
    *,
    interval_ms: int = MINUTE,
    initial: float = 100.0,
    trips: list[RoundTrip] | None = None,
    exposure_bars: int = 0,
    bars: int | None = None,
    start_ts: int = 0,
) -> dict[str, float | int | str | None]:
    eq = np.asarray(equity, dtype=np.float64)
    ts = start_ts + np.arange(eq.size, dtype=np.int64) * interval_ms
    return summarize(
        equity_ts=ts,
        equity=eq,
        interval_ms=interval_ms,
        trips=trips or [],
        exposure_bars=exposure_bars,
        bars=eq.size if bars is None else bars,
        initial_equity=initial,
        fees=0.0,
    )


def test_max_drawdown_and_its_duration_by_hand() -> None:
    # One point a minute: peak 110 at 1 min, under water until 121 at 4 min
    # (3 minutes); then 121 → 90 is the deepest fall, unrecovered for 2 minutes.
    s = run([100, 110, 99, 105, 121, 90, 95])

    assert s["max_drawdown"] == pytest.approx(1 - 90 / 121)
    assert s["max_drawdown_duration_s"] == 180.0
    assert s["max_drawdown_peak_ts"] == 4 * MINUTE
    assert s["max_drawdown_trough_ts"] == 5 * MINUTE


def test_an_unrecovered_drawdown_runs_to_the_last_point() -> None:
    s = run([100, 110, 105, 121, 90, 95, 100, 101, 102])

    assert s["max_drawdown_duration_s"] == 300.0  # 121 at 3 min, still below at 8 min


def test_losing_from_the_first_bar_counts_from_the_initial_equity() -> None:
    # The run starts at 100 one interval before the first point.
    s = run([90, 95, 101], interval_ms=1_000, initial=100.0)

    assert s["max_drawdown"] == pytest.approx(0.1)
    assert s["max_drawdown_duration_s"] == 3.0
    assert s["max_drawdown_peak_ts"] == -1_000


def test_touching_the_old_peak_ends_the_drawdown() -> None:
    s = run([100, 90, 100, 95, 96], initial=100.0)

    assert s["max_drawdown_duration_s"] == 120.0  # 1→2 min back to the peak, then 2→4 min


def test_duration_uses_timestamps_not_bar_counts() -> None:
    ts = np.array([0, MINUTE, 10 * MINUTE, 11 * MINUTE], dtype=np.int64)  # a gap in the data
    s = summarize(
        equity_ts=ts,
        equity=np.array([100.0, 95.0, 97.0, 101.0]),
        interval_ms=MINUTE,
        trips=[],
        exposure_bars=0,
        bars=4,
        initial_equity=100.0,
        fees=0.0,
    )

    assert s["max_drawdown_duration_s"] == 11 * 60.0


def test_sharpe_and_sortino_come_from_daily_returns() -> None:
    rng = np.random.default_rng(42)
    equity = 1_000.0 * np.cumprod(1 + rng.normal(0.0002, 0.01, 5_000))

    s = run(equity, interval_ms=HOUR, initial=1_000.0)

    # run() starts at 0; the bar i ends at (i + 1) h. Plain loop: the
    # last mark of every UTC day, returns day over day, the first from 1,000.
    closes: dict[int, float] = {}
    for i, e in enumerate(equity.tolist()):
        end = i * HOUR + HOUR
        closes[(end - 1) // 86_400_000] = e
    days = [1_000.0, *closes.values()]
    r = np.array([b / a - 1 for a, b in itertools.pairwise(days)])
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(365)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    sortino = r.mean() / downside * math.sqrt(365)
    assert len(r) == len(closes) > 200
    assert s["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert s["sortino"] == pytest.approx(sortino, rel=1e-9)
    assert s["volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(365), rel=1e-9)
    assert f"daily returns ({len(r)} UTC days" in str(s["ratio_basis"])


def test_intraday_paths_do_not_move_the_ratios() -> None:
    """Two minute curves with the same close every UTC day and very different
    paths inside the day have the same Sharpe and Sortino: the ratios are
    daily (per-bar 1m ratios annualised by sqrt(525,600) read -36 on a run
    that lost a little)."""
    rng = np.random.default_rng(7)
    per_day = 1_440
    closes = 100_000.0 * np.cumprod(1 + rng.normal(-0.0003, 0.002, 20))
    calm = np.repeat(closes, per_day)
    wild = calm * (1 + rng.normal(0, 0.01, calm.size))
    wild[per_day - 1 :: per_day] = closes  # same last mark of every day

    a = run(calm, interval_ms=MINUTE, initial=100_000.0)
    b = run(wild, interval_ms=MINUTE, initial=100_000.0)

    assert a["sharpe"] == pytest.approx(b["sharpe"], rel=1e-12)
    assert a["sortino"] == pytest.approx(b["sortino"], rel=1e-12)


def test_total_return_and_cagr_over_exactly_one_year() -> None:
    equity = np.linspace(100.0, 110.0, 365)  # daily points covering 365 days

    s = run(equity, interval_ms=DAY, initial=100.0)

    assert s["total_return"] == pytest.approx(0.10)
    assert s["cagr"] == pytest.approx(0.10)
    assert s["annualization_periods"] == 365


def test_cagr_of_a_wiped_out_account_is_minus_one() -> None:
    s = run([50.0, 0.0], interval_ms=DAY, initial=100.0)

    assert s["total_return"] == -1.0
    assert s["cagr"] == -1.0
    assert s["max_drawdown"] == 1.0


def test_flat_equity() -> None:
    s = run([100.0] * 50, interval_ms=DAY)

    assert s["total_return"] == 0.0
    assert s["sharpe"] is None and s["sortino"] is None
    assert s["volatility"] == 0.0
    assert s["max_drawdown"] == 0.0
    assert s["max_drawdown_duration_s"] == 0.0
    assert s["max_drawdown_peak_ts"] is None


def test_zero_variance_growth_has_no_sharpe() -> None:
    s = run(100.0 * 1.01 ** np.arange(1, 101))

    assert s["sharpe"] is None
    assert s["sortino"] is None
    assert s["total_return"] == pytest.approx(1.01**100 - 1)


def test_one_bar() -> None:
    s = run([105.0])

    assert s["total_return"] == pytest.approx(0.05)
    assert s["sharpe"] is None and s["volatility"] is None
    assert s["max_drawdown"] == 0.0


def test_no_equity_points() -> None:
    s = run([], bars=0)

    assert s["total_return"] is None and s["final_equity"] is None
    assert s["max_drawdown"] is None and s["exposure"] is None


def test_no_trades() -> None:
    s = run([100.0, 101.0, 100.5])

    assert s["round_trips"] == 0
    assert s["win_rate"] is None and s["profit_factor"] is None
    assert s["avg_trip_pnl"] is None and s["best_trip"] is None and s["worst_trip"] is None


def test_trip_statistics() -> None:
    s = run([100.0, 112.0], trips=[trip("10"), trip("-3"), trip("5")])

    assert s["round_trips"] == 3
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["profit_factor"] == pytest.approx(5.0)
    assert s["avg_trip_pnl"] == pytest.approx(4.0)
    assert (s["best_trip"], s["worst_trip"]) == (10.0, -3.0)


def test_all_wins_have_no_profit_factor_but_a_full_win_rate() -> None:
    s = run([100.0, 103.0], trips=[trip("1"), trip("2")])

    assert s["win_rate"] == 1.0
    assert s["profit_factor"] is None


def test_a_scratch_trip_is_not_a_win() -> None:
    s = run([100.0, 100.0], trips=[trip("0"), trip("2")])

    assert s["win_rate"] == 0.5


def test_exposure_and_passthroughs() -> None:
    s = run([100.0] * 100, exposure_bars=25, start_ts=1_700_000_000_000)

    assert s["exposure"] == 0.25
    assert s["bars"] == 100
    assert s["start_ts"] == 1_700_000_000_000
    assert s["end_ts"] == 1_700_000_000_000 + 99 * MINUTE


def test_summary_is_strict_json() -> None:
    s = run([100.0, 100.0, 100.0], trips=[trip("1")])

    json.dumps(s, allow_nan=False)
    assert all(v is None or isinstance(v, int | float | str) for v in s.values())
    assert not any(isinstance(v, np.generic) for v in s.values())


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="equal in length"):
        summarize(
            equity_ts=np.arange(3, dtype=np.int64),
            equity=np.ones(2),
            interval_ms=MINUTE,
            trips=[],
            exposure_bars=0,
            bars=2,
            initial_equity=1.0,
            fees=0.0,
        )
    with pytest.raises(ValueError, match="NaN"):
        run([100.0, float("nan")])
    with pytest.raises(ValueError, match="must not decrease"):
        summarize(
            equity_ts=np.array([0, 2, 1], dtype=np.int64),
            equity=np.ones(3),
            interval_ms=1,
            trips=[],
            exposure_bars=0,
            bars=3,
            initial_equity=1.0,
            fees=0.0,
        )
    with pytest.raises(ValueError, match="interval_ms"):
        annualization_periods(0)


def test_drawdown_series() -> None:
    dd = drawdown_series(np.array([100.0, 120.0, 90.0, 130.0]))

    np.testing.assert_allclose(dd, [0.0, 0.0, 0.25, 0.0])
    np.testing.assert_allclose(drawdown_series(np.array([90.0]), 100.0), [0.1])
    assert drawdown_series(np.array([])).size == 0


def test_bar_returns_skip_bars_that_start_bust() -> None:
    r = bar_returns(np.array([50.0, 0.0, 10.0]), 100.0)

    np.testing.assert_allclose(r, [-0.5, -1.0])


def test_annualization_periods() -> None:
    assert annualization_periods(DAY) == 365
    assert annualization_periods(MINUTE) == 365 * 1440
    assert annualization_periods(YEAR_MS) == 1


def test_a_million_points_are_summarised_vectorised() -> None:
    """A guard against a Python loop over the points (seconds for a million),
    not a benchmark: about 45 ms on this 2-core machine, 113 ms once during a
    full test run, so the bound is loose enough for a shared CI machine."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    equity = 10_000.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    ts = np.arange(n, dtype=np.int64) * MINUTE
    trips = [trip("1"), trip("-1")] * 500

    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        summarize(
            equity_ts=ts,
            equity=equity,
            interval_ms=MINUTE,
            trips=trips,
            exposure_bars=n // 2,
            bars=n,
            initial_equity=10_000.0,
            fees=0.0,
        )
        best = min(best, time.perf_counter() - start)

    assert best < 0.5
