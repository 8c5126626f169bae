"""Reference agreement: the whole backtest against a plain loop written here.

A seeded geometric random walk of 20,000 one-minute bars; SMA cross 20/50,
long 0.1 or flat, 10 bps taker fee, 100,000 of cash (``BotConfig()``). The
loop below knows nothing of bastion: SMAs by ``math.fsum`` of each window, a
cross is a change of the sign of fast - slow (exact ties ignored), market
orders fill at the next bar's open, money in Decimal from ``Decimal(repr(x))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest

from bastion.config import BotConfig
from bastion.engine.backtest import BacktestResult, run_backtest
from bastion.model import BarSeries, Side
from bastion.strategy import build_strategy

D = Decimal
SYM = "BTC/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000
N = 20_000
FAST, SLOW, QTY = 20, 50, D("0.1")
FEE = D("0.001")
CASH = D(100_000)


@dataclass(frozen=True)
class Reference:
    fills: list[tuple[int, Side, Decimal]]  # (bar ts, side, price)
    round_trips: int
    final_equity: Decimal


def random_walk(n: int = N, seed: int = 20240101) -> BarSeries:
    """Prices in cents, each bar opening at the previous close; volume large
    enough that no volume-based risk limit ever bites 0.1."""
    rng = np.random.default_rng(seed)
    close = np.round(30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n))), 2)
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wicks = np.round(np.abs(rng.normal(0.0, 10.0, (2, n))), 2)
    return BarSeries(
        symbol=SYM,
        interval_ms=MINUTE,
        ts=T0 + np.arange(n, dtype=np.int64) * MINUTE,
        open=open_,
        high=np.maximum(open_, close) + wicks[0],
        low=np.minimum(open_, close) - wicks[1],
        close=close,
        volume=np.round(rng.uniform(50.0, 150.0, n), 3),
        source="test:reference-walk",
        synthetic=True,
    )


def reference(bars: BarSeries) -> Reference:
    closes = bars.close.tolist()
    opens = bars.open.tolist()
    ts = bars.ts.tolist()
    cash, pos = CASH, D(0)
    last_sign = 0
    pending: Side | None = None
    fills: list[tuple[int, Side, Decimal]] = []
    trips = 0
    for i in range(len(closes)):
        if pending is not None:  # decided at the previous close, filled at this open
            price = D(repr(opens[i]))
            notional = QTY * price
            fee = notional * FEE
            if pending is Side.BUY:
                cash -= notional + fee
                pos += QTY
            else:
                cash += notional - fee
                pos -= QTY
                trips += 1
            fills.append((ts[i], pending, price))
            pending = None
        if i < SLOW - 1:
            continue
        fast = math.fsum(closes[i - FAST + 1 : i + 1]) / FAST
        slow = math.fsum(closes[i - SLOW + 1 : i + 1]) / SLOW
        if fast == slow:
            continue
        sign = 1 if fast > slow else -1
        if sign != last_sign:
            if last_sign != 0:
                target = QTY if sign > 0 else D(0)
                if target != pos:
                    pending = Side.BUY if target > pos else Side.SELL
            last_sign = sign
    return Reference(fills=fills, round_trips=trips, final_equity=cash + pos * D(repr(closes[-1])))


@pytest.fixture(scope="module")
def bars() -> BarSeries:
    return random_walk()


@pytest.fixture(scope="module")
def expected(bars: BarSeries) -> Reference:
    return reference(bars)


@pytest.fixture(scope="module")
def result(bars: BarSeries) -> BacktestResult:
    strategy = build_strategy("sma_cross", [SYM], {"fast": FAST, "slow": SLOW, "qty": str(QTY)})
    return run_backtest([bars], [strategy], BotConfig())


def test_the_reference_walk_is_a_meaningful_workload(expected: Reference) -> None:
    assert expected.round_trips > 100  # many crosses, so agreement is not luck


def test_round_trips_agree_with_the_reference(result: BacktestResult, expected: Reference) -> None:
    assert result.summary["round_trips"] == expected.round_trips


def test_final_equity_agrees_with_the_reference_to_the_cent(
    result: BacktestResult, expected: Reference
) -> None:
    exact = D(result.summary["final_equity_exact"])

    assert exact.quantize(D("0.01")) == expected.final_equity.quantize(D("0.01"))
    assert exact == expected.final_equity  # in fact exactly: same Decimal arithmetic


def test_the_summary_final_equity_is_rounded_to_the_cent(
    result: BacktestResult, expected: Reference
) -> None:
    assert result.summary["final_equity"] == float(expected.final_equity.quantize(D("0.01")))


def test_every_order_filled_once_at_a_bar_open_as_the_reference_did(
    result: BacktestResult, expected: Reference, bars: BarSeries
) -> None:
    opens = {int(t): D(repr(o)) for t, o in zip(bars.ts.tolist(), bars.open.tolist(), strict=True)}
    fills = [f for _sid, f in result.fills]

    assert result.summary["orders"] == result.summary["fills"] == len(fills)
    assert all(f.price == opens[f.ts] for f in fills)
    assert [(f.ts, f.side, f.price) for f in fills] == expected.fills
    assert all(f.qty == QTY and f.fee == QTY * f.price * FEE for f in fills)
