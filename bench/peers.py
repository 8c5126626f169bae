"""Peer engines on the reference workload, for ``backtest_throughput.py``.

The workload (see ``docs/benchmarks.md``): SMA(fast)/SMA(slow) crossover on
bar closes, buy ``qty`` units when fast crosses above slow, sell the whole
position when it crosses below; market orders filled at the NEXT bar's open;
fee ``fee`` of notional on every fill; ``cash`` to start with. A position still
open at the end is not closed: it is marked at the last close, so every engine
reports "closed trades" and "final equity = cash + position x last close" the
same way bastion does.

Each ``run_*`` function takes the bars as a pandas DataFrame (``bars_frame``)
and returns a ``PeerResult``: engine-reported closed trades and final equity,
plus each closed trade's entry/exit bar index and prices, so a disagreement
with bastion can be pinned to the exact fills. Timing covers what the engine
does with the DataFrame (feed loading, indicators, the run, its statistics),
not building the DataFrame.

Peer-specific settings, and why:

- backtrader: ``bt.ind.CrossOver`` (last-non-zero-difference semantics, the
  same tie rule as bastion's ``sma_cross``); default market orders, which fill
  at the next bar's open; ``setcommission(commission=0.001)`` (``percabs`` is
  True in ``broker.setcommission``, so 0.001 means 0.1%; no margin -> stock-like
  percentage commission); ``set_checksubmit(False)`` so no order is refused by
  a cash/margin check; ``stdstats=False`` (no observers: flatters backtrader's
  speed, never its results). The open position at the end stays open
  (``broker.getvalue()`` marks it at the last close) and only trades for which
  ``notify_trade`` reports ``isclosed`` are counted.
- backtesting.py: ``FractionalBacktest(fractional_unit=qty)`` and
  ``buy(size=1)`` (one fractional unit = ``qty`` units: a size below 1 would
  mean a fraction of equity); ``trade_on_close=False`` (fills at the next
  open), ``spread=0``, ``margin=1`` (no leverage), ``hedging=False``,
  ``exclusive_orders=False``, ``finalize_trades=False`` (the open trade is not
  closed on the last bar and not counted in ``# Trades``; ``Equity Final``
  marks it at the last close). Commission is charged on entry and on exit, each
  ``fee x size x price``. SMAs via ``pandas.Series.rolling(n).mean()`` and
  ``backtesting.lib.crossover``.
- ``run_loop``: a bare hand-written Python loop (running sums), the floor for
  any per-bar Python engine; a reference, not a peer.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

# (entry bar index, exit bar index, entry price, exit price): the bars whose
# opens filled the entry and exit orders.
Trade = tuple[int, int, float, float]


@dataclass(slots=True)
class PeerResult:
    engine: str
    version: str
    bars: int
    closed_trades: int
    final_equity: float
    elapsed_s: float
    bars_per_s: float
    cpu_s: float  # process CPU time over the same span (less sensitive to a busy machine)
    open_qty: float  # position still open at the end (marked at the last close)
    trades: list[Trade] = field(default_factory=list)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def bars_frame(series: Any) -> pd.DataFrame:
    """OHLCV DataFrame (DatetimeIndex, UTC-naive) from a ``bastion.model.BarSeries``."""
    index = pd.DatetimeIndex(pd.to_datetime(np.asarray(series.ts), unit="ms"), name="Datetime")
    return pd.DataFrame(
        {
            "Open": np.asarray(series.open, dtype=np.float64),
            "High": np.asarray(series.high, dtype=np.float64),
            "Low": np.asarray(series.low, dtype=np.float64),
            "Close": np.asarray(series.close, dtype=np.float64),
            "Volume": np.asarray(series.volume, dtype=np.float64),
        },
        index=index,
    )


# --------------------------------------------------------------------- backtrader


def run_backtrader(
    df: pd.DataFrame,
    *,
    fast: int = 20,
    slow: int = 50,
    qty: float = 0.1,
    fee: float = 0.001,
    cash: float = 100_000.0,
    stdstats: bool = False,
) -> PeerResult:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", fast), ("slow", slow), ("qty", qty))

        def __init__(self) -> None:
            sma_fast = bt.ind.SMA(self.data.close, period=self.p.fast)
            sma_slow = bt.ind.SMA(self.data.close, period=self.p.slow)
            self.cross = bt.ind.CrossOver(sma_fast, sma_slow)
            self.closed = 0
            self.fills: list[tuple[int, int, float, float]] = []  # (bar, sign, qty, price)

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                # len(self) - 1 is the bar being processed: the one whose open filled it.
                sign = 1 if order.isbuy() else -1
                self.fills.append(
                    (len(self) - 1, sign, float(order.executed.size), order.executed.price)
                )
            elif order.status in (order.Canceled, order.Margin, order.Rejected):
                raise RuntimeError(f"backtrader refused an order: {order.getstatusname()}")

        def notify_trade(self, trade: Any) -> None:
            if trade.isclosed:
                self.closed += 1

        def next(self) -> None:
            c = self.cross[0]
            if c > 0:
                if not self.position:
                    self.buy(size=self.p.qty)
            elif c < 0 and self.position:
                self.close()

    started, cpu_started = time.perf_counter(), time.process_time()
    cerebro = bt.Cerebro(stdstats=stdstats)
    cerebro.adddata(bt.feeds.PandasData(dataname=df))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=fee)
    cerebro.broker.set_checksubmit(False)
    (strat,) = cerebro.run()
    final_equity = float(cerebro.broker.getvalue())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return PeerResult(
        engine="backtrader",
        version=_version("backtrader"),
        bars=len(df),
        closed_trades=strat.closed,
        final_equity=final_equity,
        elapsed_s=elapsed,
        bars_per_s=len(df) / elapsed,
        cpu_s=cpu,
        open_qty=float(strat.position.size),
        trades=_pair(strat.fills),
        notes=f"stdstats={stdstats}, runonce/preload defaults, checksubmit off",
    )


def _pair(fills: list[tuple[int, int, float, float]]) -> list[Trade]:
    """Closed long round trips from (bar, sign, qty, price) fills, flat -> long -> flat."""
    trades: list[Trade] = []
    position = 0.0
    entry: tuple[int, float] | None = None
    for bar, sign, size, price in fills:
        was_flat = position == 0
        position += sign * abs(size)
        if abs(position) < 1e-12:
            position = 0.0
        if was_flat and position:
            entry = (bar, price)
        elif not position and entry is not None:
            trades.append((entry[0], bar, entry[1], price))
            entry = None
    return trades


# ------------------------------------------------------------------ backtesting.py


def _sma(values: Any, n: int) -> Any:
    return pd.Series(values).rolling(n).mean().to_numpy()


def run_backtesting(
    df: pd.DataFrame,
    *,
    fast: int = 20,
    slow: int = 50,
    qty: float = 0.1,
    fee: float = 0.001,
    cash: float = 100_000.0,
) -> PeerResult:
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        n_fast = fast
        n_slow = slow

        def init(self) -> None:
            close = self.data.Close
            self.sma_fast = self.I(_sma, close, self.n_fast)
            self.sma_slow = self.I(_sma, close, self.n_slow)

        def next(self) -> None:
            if crossover(self.sma_fast, self.sma_slow):
                if not self.position:
                    self.buy(size=1)  # one fractional unit = qty units
            elif crossover(self.sma_slow, self.sma_fast) and self.position:
                self.position.close()

    started, cpu_started = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        # "Some trades remain open at the end of backtest": intended, see module doc.
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            df,
            SmaCross,
            cash=cash,
            commission=fee,
            spread=0.0,
            margin=1.0,
            trade_on_close=False,
            hedging=False,
            exclusive_orders=False,
            finalize_trades=False,
            fractional_unit=qty,
        )
        stats = bt.run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    tr = stats["_trades"]
    trades = [
        (int(e), int(x), float(ep), float(xp))
        for e, x, ep, xp in zip(
            tr["EntryBar"], tr["ExitBar"], tr["EntryPrice"], tr["ExitPrice"], strict=True
        )
    ]
    strategy = stats["_strategy"]
    return PeerResult(
        engine="backtesting.py",
        version=_version("backtesting"),
        bars=len(df),
        closed_trades=int(stats["# Trades"]),
        final_equity=float(stats["Equity Final [$]"]),
        elapsed_s=elapsed,
        bars_per_s=len(df) / elapsed,
        cpu_s=cpu,
        open_qty=float(strategy.position.size) * qty,
        trades=trades,
        notes=f"FractionalBacktest(fractional_unit={qty}), buy(size=1), finalize_trades=False",
    )


# ----------------------------------------------------------------- bare Python loop


def run_loop(
    df: pd.DataFrame,
    *,
    fast: int = 20,
    slow: int = 50,
    qty: float = 0.1,
    fee: float = 0.001,
    cash: float = 100_000.0,
) -> PeerResult:
    """The same rules in one plain loop over Python floats (no engine at all)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    opens = df["Open"].tolist()
    closes = df["Close"].tolist()
    n = len(closes)
    wf: deque[float] = deque()
    ws: deque[float] = deque()
    sf = ss = 0.0
    last_sign = 0
    pending = 0  # +1 buy / -1 sell at the next open
    position = 0.0
    money = cash
    trades: list[Trade] = []
    entry: tuple[int, float] = (0, 0.0)
    for i in range(n):
        if pending:
            price = opens[i]
            if pending > 0:
                position = qty
                money -= qty * price * (1.0 + fee)
                entry = (i, price)
            else:
                money += position * price * (1.0 - fee)
                position = 0.0
                trades.append((entry[0], i, entry[1], price))
            pending = 0
        c = closes[i]
        wf.append(c)
        ws.append(c)
        sf += c
        ss += c
        if len(wf) > fast:
            sf -= wf.popleft()
        if len(ws) > slow:
            ss -= ws.popleft()
        if len(ws) < slow:
            continue
        d = sf / fast - ss / slow
        if d == 0:
            continue
        sign = 1 if d > 0 else -1
        if sign == last_sign:
            continue
        before, last_sign = last_sign, sign
        if before == 0:
            continue
        if sign > 0 and not position:
            pending = 1
        elif sign < 0 and position:
            pending = -1
    final_equity = money + position * closes[-1]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return PeerResult(
        engine="python loop",
        version="-",
        bars=n,
        closed_trades=len(trades),
        final_equity=final_equity,
        elapsed_s=elapsed,
        bars_per_s=n / elapsed,
        cpu_s=cpu,
        open_qty=position,
        trades=trades,
        notes="hand-written reference loop, running-sum SMAs; not an engine",
    )


PEERS = {
    "backtrader": run_backtrader,
    "backtesting.py": run_backtesting,
    "python loop": run_loop,
}
