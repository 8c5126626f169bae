"""Scenarios through the real cycle and the simulated venue: leverage
compounding, a runaway loop, an illiquid symbol, an adverse day on real data
and fake diversification over a real basket."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from risk_backtest import Scripted, bars, build, config, drive, held

from bastion.data.loaders import load_bars
from bastion.data.paths import shared_data_dir
from bastion.model import (
    BarSeries,
    OrderType,
    PlaceOrder,
    Side,
    TargetPosition,
)
from bastion.observe.journal import Journal, read_events
from bastion.risk import HaltState, RiskReason

SYN = "SYN/USDT"
D = Decimal


def _ohlcv(name: str) -> Path:
    base = shared_data_dir()
    path = base / "ohlcv" / name if base is not None else None
    if path is None or not path.exists():
        pytest.skip(f"shared market data not available: {name} (set BASTION_DATA_DIR)")
    return path


def _slice(series: BarSeries, start: datetime, end: datetime) -> BarSeries:
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    m = (series.ts >= lo) & (series.ts < hi)
    return BarSeries(
        symbol=series.symbol,
        interval_ms=series.interval_ms,
        ts=series.ts[m],
        open=series.open[m],
        high=series.high[m],
        low=series.low[m],
        close=series.close[m],
        volume=series.volume[m],
        source=series.source,
    )


def test_leverage_compounding_is_stopped_by_exposure_from_exchange_state() -> None:
    # The exchange already holds 250 SYN (25% of equity) that the strategy does not
    # know about; believing itself flat, it buys 250 more every cycle.
    series = bars([100.0] * 60)
    strat = Scripted(
        [SYN],
        lambda n, v, a: [PlaceOrder(symbol=SYN, side=Side.BUY, qty=D(250), type=OrderType.MARKET)],
    )
    run = build([series], [strat], config(max_order=1))
    run.venue.adjust_balance("USDT", D(-25_000))
    run.venue.adjust_balance("SYN", D(250))
    peak = [D(0)]

    drive(run, [series], after_bar=lambda k, now: peak.__setitem__(0, max(peak[0], held(run)[SYN])))

    assert peak[0] < 2 * 250
    assert held(run)[SYN] == 250  # not one unit was added
    assert {"POSITION_LIMIT"} <= run.reasons()
    assert all(d["verdict"] == "reject" for d in run.kinds("risk_decision"))


def test_runaway_loop_hits_the_rate_limit_then_halts() -> None:
    series = bars([100.0] * 120, interval_ms=1_000)  # a cycle every second
    strat = Scripted(
        [SYN],
        lambda n, v, a: [
            PlaceOrder(symbol=SYN, side=Side.BUY, qty=D("0.01"), type=OrderType.MARKET)
        ],
    )
    run = build([series], [strat], config())

    drive(run, [series])

    decisions = run.kinds("risk_decision")
    first_rate = next(i for i, d in enumerate(decisions) if d.get("reason") == "ORDER_RATE")
    assert first_rate == 10  # the per-symbol limit: 10 a minute
    assert run.bot.risk.latch.state is HaltState.HALTED
    assert run.bot.risk.latch.reason == RiskReason.RUNAWAY.value
    halting = [d for d in decisions if d.get("details", {}).get("runaway_halt")]
    assert len(halting) == 1 and halting[0]["details"]["breaches"] == 5
    assert decisions[-1].get("reason") == "HALTED"
    assert run.venue.orders_received == 10


def test_illiquid_symbol_fixed_unit_order_is_resized_to_the_volume_share() -> None:
    series = bars([100.0] * 40, volume=2.0)  # 2 units a bar; 10% = 0.2
    strat = Scripted(
        [SYN],
        lambda n, v, a: [TargetPosition(symbol=SYN, qty=D(5))] if n == 35 else [],
    )
    run = build([series], [strat], config())

    drive(run, [series])

    [decision] = run.kinds("risk_decision")
    assert (decision["verdict"], decision["reason"]) == ("resize", "RESIZED_VOLUME")
    assert D(decision["approved_qty"]) == D("0.2")
    assert held(run)[SYN] == D("0.2")


@pytest.mark.realdata
def test_adverse_day_trips_the_daily_loss_cap_ends_flat_and_halted(tmp_path: Path) -> None:
    path = _ohlcv("binance_BTC_USDT_1m_2024-07-26_2024-08-25.parquet")
    btc = _slice(
        load_bars(path),
        datetime(2024, 8, 4, 12, tzinfo=UTC),
        datetime(2024, 8, 5, 23, 59, tzinfo=UTC),  # the last decision at 23:59, still Aug 5
    )
    long_biased = Scripted(
        ["BTC/USDT"], lambda n, v, a: [TargetPosition(symbol="BTC/USDT", qty=D("1.0"))]
    )
    journal = Journal(tmp_path / "journal.sqlite", flush_every=1000)
    run = build([btc], [long_biased], config(max_position=0.7, max_order=0.7), journal=journal)

    drive(run, [btc])
    journal.close()

    latch = run.bot.risk.latch
    assert latch.state is HaltState.HALTED and latch.reason == "DAILY_LOSS"
    assert held(run).get("BTC/USDT", D(0)) == 0
    assert run.venue.fetch_open_orders() == []
    [flatten] = list(read_events(tmp_path, kinds=["flatten"]))
    assert flatten["reason"] == "DAILY_LOSS"
    assert flatten["details"]["observed"] > 0.05
    assert datetime.fromtimestamp(flatten["ts"] / 1000, tz=UTC).date().isoformat() == "2024-08-05"
    later = [e for e in read_events(tmp_path, kinds=["risk_decision"]) if e["ts"] > flatten["ts"]]
    assert later and all(e["reason"] == "HALTED" for e in later)


@pytest.mark.realdata
@pytest.mark.parametrize("correlation", [True, False])
def test_fake_diversification_five_correlated_coins_share_one_cluster_limit(
    correlation: bool,
) -> None:
    names = ["BTC", "ETH", "SOL", "XRP", "BNB"]
    day = (datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 3, 24, 12, tzinfo=UTC))
    basket = [
        _slice(load_bars(_ohlcv(f"binance_{n}_USDT_1m_2026-03-23_2026-04-22.parquet")), *day)
        for n in names
    ]
    symbols = [s.symbol for s in basket]

    def each_twenty_percent(n: int, view, account):  # type: ignore[no-untyped-def]
        if n < 300:  # five hours of correlation samples first
            return []
        return [
            TargetPosition(symbol=s, qty=D(str(round(20_000 / view[s].price, 3)))) for s in symbols
        ]

    cfg = config(correlation={"enabled": correlation, "max_cluster_exposure": 0.5})
    run = build(basket, [Scripted(symbols, each_twenty_percent)], cfg)

    drive(run, basket)

    cluster = frozenset(symbols)
    # After every review that let exposure into the cluster grow, the cluster is
    # within the limit (prices alone may move it above; then nothing is added).
    grown = [r for r in run.reviews if r.ctx.cluster_gross(cluster) > r.gross_before(cluster)]
    worst = max(r.ctx.cluster_gross(cluster) / r.ctx.equity for r in grown)
    if correlation:
        assert run.bot.risk.tape.clusters(threshold=0.7, min_samples=60, recompute_every=1) == {
            s: cluster for s in symbols
        }
        assert worst <= D("0.5")
        assert "CORRELATION_LIMIT" in run.reasons()
    else:  # the control: without the rule the same strategy holds ~100%
        assert worst > D("0.9")


def test_the_reference_backtest_is_not_blocked_by_the_default_limits() -> None:
    rng = np.random.default_rng(7)
    series = bars(100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, 3000))), volume=50.0)
    from bastion.strategy.examples.sma_cross import SmaCross, SmaCrossParams

    strat = SmaCross(SmaCrossParams(), [SYN])
    run = build([series], [strat], parse_default())

    drive(run, [series])

    decisions = run.kinds("risk_decision")
    assert decisions and all(d["verdict"] == "approve" for d in decisions)
    assert run.bot.risk.latch.state is HaltState.ACTIVE


def parse_default():  # type: ignore[no-untyped-def]
    from bastion.config import BotConfig

    return BotConfig()
