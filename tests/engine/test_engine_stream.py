"""A backtest read a chunk at a time is the same backtest: the same trades,
equity, summary and journal whether the bars are whole in memory or streamed
from Parquet, whatever the chunk size, and its memory of orders and fills
stays bounded on a long run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import BotConfig
from bastion.data import load_bars, random_walk_bars
from bastion.data.stream import open_bars
from bastion.engine import backtest, drive
from bastion.engine.backtest import BacktestResult, run_backtest
from bastion.execution.retention import Retention
from bastion.model import BarSeries, BarSource
from bastion.observe.breakdown import buy_and_hold, monthly_returns
from bastion.observe.journal import read_events
from bastion.observe.stats import summarize
from bastion.observe.trades import round_trips
from bastion.strategy import build_strategy

TIMING = ("elapsed_s", "bars_per_s")
COLUMNS = ("ts", "open", "high", "low", "close", "volume")


def run(sources: list[BarSource], journal: Path, fast: int = 3, slow: int = 8) -> BacktestResult:
    strat = build_strategy(
        "sma_cross", [s.symbol for s in sources], {"fast": fast, "slow": slow, "qty": "0.1"}
    )
    return run_backtest(sources, [strat], BotConfig(), journal_path=journal)


def events(journal: Path) -> list[dict[str, Any]]:
    return list(read_events(journal))


def stable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in TIMING}


def to_parquet(series: BarSeries, path: Path, row_group: int) -> Path:
    pq.write_table(
        pa.table({c: getattr(series, c) for c in COLUMNS}), path, row_group_size=row_group
    )
    return path


def walks(n: int, seed: int, symbols: int) -> list[BarSeries]:
    out = []
    for k in range(symbols):
        s = random_walk_bars(n - 37 * k, seed=seed + k, symbol=f"S{k}/USDT")
        if k:  # later symbols start later and skip some minutes: the timelines differ
            keep = np.ones(len(s), dtype=bool)
            keep[50 + 13 * k : 70 + 13 * k] = False
            s = BarSeries(
                symbol=s.symbol,
                interval_ms=s.interval_ms,
                **{c: getattr(s, c)[keep] for c in COLUMNS},  # type: ignore[arg-type]
                source=s.source,
                synthetic=s.synthetic,
            )
            s = s.slice(5 * k, len(s))
        out.append(s)
    return out


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunk=st.sampled_from([1, 7, 64, 1_000, 65_536]),
    symbols=st.integers(1, 3),
    seed=st.integers(0, 1_000),
)
def test_chunked_runs_match_whole_runs_and_the_array_figures(
    tmp_path_factory: pytest.TempPathFactory, chunk: int, symbols: int, seed: int
) -> None:
    tmp = tmp_path_factory.mktemp("run")
    series = walks(1_500, seed, symbols)
    whole = run(list(series), tmp / "whole.sqlite")

    original = drive.CHUNK, drive._MIN_CHUNK
    drive.CHUNK, drive._MIN_CHUNK = chunk, 1
    try:
        chunked = run(list(series), tmp / "chunked.sqlite")
    finally:
        drive.CHUNK, drive._MIN_CHUNK = original

    assert stable(chunked.summary) == stable(whole.summary)
    assert chunked.fills == whole.fills
    assert events(tmp / "chunked.sqlite") == events(tmp / "whole.sqlite")
    assert np.array_equal(chunked.equity, whole.equity)
    assert np.array_equal(chunked.equity_ts, whole.equity_ts)

    # The figures computed a chunk at a time are the whole-array functions' own.
    s, cash = whole.summary, 100_000.0
    ts, eq = whole.equity_ts, whole.equity
    assert np.array_equal(whole.benchmark, buy_and_hold(series, ts, cash))
    assert s["monthly_returns"] == monthly_returns(ts, eq, cash, 60_000)
    trips = round_trips(whole.fills)
    figures = summarize(
        equity_ts=ts,
        equity=eq,
        interval_ms=60_000,
        trips=trips,
        exposure_bars=int(s["exposure"] * len(ts)),
        bars=len(ts),
        initial_equity=cash,
        fees=s["fees"],
    )
    for key in ("sharpe", "sortino", "volatility", "max_drawdown", "max_drawdown_peak_ts"):
        assert s[key] == figures[key], key
    for key in ("max_drawdown_trough_ts", "max_drawdown_duration_s", "cagr", "win_rate"):
        assert s[key] == figures[key], key
    assert s["round_trips"] == len(trips) and s["profit_factor"] == figures["profit_factor"]


def test_a_streamed_parquet_file_runs_as_the_same_file_loaded_whole(tmp_path: Path) -> None:
    path = to_parquet(random_walk_bars(3_000, seed=5), tmp_path / "x_BTC_USDT_1m.parquet", 700)

    loaded = run([load_bars(path)], tmp_path / "loaded.sqlite")
    original = drive.CHUNK
    drive.CHUNK = 500  # batches that straddle the file's row groups
    try:
        streamed = run([open_bars(path)], tmp_path / "streamed.sqlite")
    finally:
        drive.CHUNK = original

    assert stable(streamed.summary) == stable(loaded.summary)
    assert streamed.fills == loaded.fills
    assert events(tmp_path / "streamed.sqlite") == events(tmp_path / "loaded.sqlite")


def test_memory_of_orders_and_fills_stays_bounded_on_a_long_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = random_walk_bars(6_000, seed=9)
    monkeypatch.setattr(backtest, "HISTORY", None)  # remember everything
    unbounded = run([series], tmp_path / "all.sqlite", fast=2, slow=3)
    monkeypatch.setattr(backtest, "HISTORY", Retention(orders=16, fills=16, trades=32, foreign=4))

    bounded = run([series], tmp_path / "bounded.sqlite", fast=2, slow=3)

    fills = bounded.summary["fills"]
    assert fills > 500  # long enough that a bound of 16 must forget most of them
    om, venue = bounded.bot.orders, bounded.venue
    assert len(om.orders) <= 16 + len(om.working) + len(om.settling)
    assert len(om.fills) <= 2 * 16
    assert len(venue._fills) <= 2 * 16
    assert len(venue._by_client) <= 16 + len(venue.fetch_open_orders())
    assert len(bounded.fills) == fills  # the run's fills are all on its tape
    assert bounded.fills == unbounded.fills
    assert stable(bounded.summary) == stable(unbounded.summary)
    assert events(tmp_path / "bounded.sqlite") == events(tmp_path / "all.sqlite")
