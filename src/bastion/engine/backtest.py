"""Backtests: the live cycle, driven synchronously by a simulated clock.

Nothing here is a backtest-only shortcut: the data gate, the reconciler, the
risk gate, the order manager and the journal are the ones live trading uses;
only the clock (advanced by the data) and the venue (the simulated one) are
swapped. Bars are fed in timestamp order across symbols; the decision for a
bar is taken at its close, so a market order fills at the next bar's open.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.config import BotConfig
from bastion.engine.context import journal_strategies
from bastion.engine.cycle import Bot, run_cycle
from bastion.engine.parts import data_gate, protector, risk_gate, slots
from bastion.execution import OrderManager
from bastion.model import BarSeries, Fill, Instrument
from bastion.model.money import ZERO, to_decimal
from bastion.observe.journal import Journal
from bastion.state import Reconciler
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue
from bastion.venues.sim.slippage import parse_slippage

Progress = Callable[[int, int], None]
_BPS = Decimal(10_000)


@dataclass(slots=True)
class BacktestResult:
    summary: dict[str, Any]
    equity_ts: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    fills: list[tuple[str, Fill]]
    bot: Bot
    venue: SimVenue
    benchmark: npt.NDArray[np.float64] | None = None  # buy and hold on the same timeline
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def make_instruments(symbols: Sequence[str], config: BotConfig) -> dict[str, Instrument]:
    v = config.venue
    taker = v.fee_bps / _BPS
    maker = (v.maker_fee_bps if v.maker_fee_bps is not None else v.fee_bps) / _BPS
    return {
        s: Instrument.spot(
            s,
            tick_size=v.tick_size,
            lot_size=v.lot_size,
            min_qty=v.min_qty,
            min_notional=v.min_notional,
            maker_fee=maker,
            taker_fee=taker,
        )
        for s in symbols
    }


def _run_id(strategies: Sequence[Strategy[Any, Any]], series: Sequence[BarSeries]) -> str:
    h = hashlib.sha256()
    for s in strategies:
        h.update(str(s.ref).encode())
    for b in series:
        h.update(f"{b.symbol}:{len(b)}:{b.ts[0] if len(b) else 0}".encode())
    return h.hexdigest()[:6]


def build_bot(
    series: Sequence[BarSeries],
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    journal: Any,
    *,
    guard: bool = False,
) -> tuple[Bot, SimVenue]:
    symbols = [s.symbol for s in series]
    quotes = {s.partition("/")[2] for s in symbols}
    if len(quotes) != 1:
        raise ValueError(f"one quote currency per backtest, got {sorted(quotes)}")
    for strat in strategies:
        missing = [s for s in strat.symbols if s not in symbols]
        if missing:
            raise ValueError(f"strategy {strat.ref.id} trades {missing}, which have no data")
    instruments = make_instruments(symbols, config)
    v = config.venue
    venue = SimVenue(
        instruments.values(),
        {quotes.pop(): config.backtest.cash},
        slippage=parse_slippage(v.slippage),
        latency_ms=v.latency_ms,
        margin=v.margin,
        limit_fill=v.limit_fill,
        seed=config.backtest.seed,
    )
    gate = data_gate({s.symbol: s.interval_ms for s in series}, strategies, config, journal)
    bot = Bot(
        run_id=_run_id(strategies, series),
        venue=venue,
        gate=gate,
        reconciler=Reconciler(venue, journal),
        risk=risk_gate(config),
        orders=OrderManager(venue, journal),
        journal=journal,
        instruments=instruments,
        slots=slots(strategies),
        guard=guard,
        protection=protector(config, strategies),
    )
    return bot, venue


def run_backtest(
    series: Sequence[BarSeries],
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    *,
    journal_path: Path | None = None,
    progress: Progress | None = None,
    guard: bool = False,
    warmup: Sequence[BarSeries] = (),
) -> BacktestResult:
    """Run ``strategies`` over ``series`` and return equity, fills and the summary.

    ``warmup``: bars before the first of ``series``, passed through the data
    gate before the first cycle (as a live bot's warm-up), so the indicators
    are full from the first bar; no decision is taken on them."""
    if not series or any(len(s) == 0 for s in series):
        raise ValueError("a backtest needs at least one non-empty bar series")
    started = time.perf_counter()  # wall time for the bars/s figure only; never seen by the cycle
    journal = Journal(journal_path if journal_path else ":memory:", flush_every=5000)
    bot, venue = build_bot(series, strategies, config, journal, guard=guard)
    if warmup:
        from bastion.engine.warmup import apply

        apply(bot, {s.symbol: [s.bar(i) for i in range(len(s))] for s in warmup})
    journal.set_meta("run_id", bot.run_id)
    journal.set_meta(
        "strategies",
        [{"id": s.ref.id, "version": s.ref.version, "params": repr(s.params)} for s in strategies],
    )
    journal.set_meta("config", config.model_dump(mode="json"))
    journal.set_meta(
        "data", [{"symbol": s.symbol, "source": s.source, "synthetic": s.synthetic} for s in series]
    )
    journal_strategies(bot, int(series[0].ts[0]), venue_mode="backtest")
    quote = next(iter(bot.instruments.values())).quote
    halts: list[dict[str, Any]] = []
    bot.risk.latch.subscribe(
        lambda latch, previous: halts.append(
            {
                "ts": latch.since_ts,
                "state": latch.state.value,
                "from": previous.value,
                "reason": latch.reason,
                "by": latch.by,
            }
        )
    )
    equity_ts, equity, exposure_bars = _drive(bot, venue, series, quote, progress)
    elapsed = time.perf_counter() - started

    account = venue.fetch_account()
    last_close = {s.symbol: to_decimal(float(s.close[-1])) for s in series}
    final_equity = account.cash() + sum(
        (p.qty * last_close[sym] for sym, p in account.positions.items()), ZERO
    )
    fees = sum((f.fee for _sid, f in bot.orders.fills), ZERO)
    journal.append(
        "run_end",
        int(equity_ts[-1]),
        {
            "cycles": bot.cycle,
            "orders": len(bot.orders.orders),
            "fills": len(bot.orders.fills),
            "final_equity": str(final_equity),
            "decisions": bot.decisions,
        },
    )
    journal.close()

    from bastion.observe.stats import summarize
    from bastion.observe.trades import round_trips

    trips = round_trips(bot.orders.fills)
    interval = min(s.interval_ms for s in series)
    stats = summarize(
        equity_ts=equity_ts,
        equity=equity,
        interval_ms=interval,
        trips=trips,
        exposure_bars=exposure_bars,
        bars=len(equity),
        initial_equity=float(config.backtest.cash),
        fees=float(fees),
    )
    from bastion.observe.breakdown import breakdowns, buy_and_hold, monthly_returns, verdicts

    cash = float(config.backtest.cash)
    benchmark = buy_and_hold(series, equity_ts, cash)
    bars = sum(len(s) for s in series)
    summary: dict[str, Any] = {
        "bars": bars,
        "orders": len(bot.orders.orders),
        "fills": len(bot.orders.fills),
        "round_trips": len(trips),
        "final_equity": float(final_equity.quantize(Decimal("0.01"))),
        "final_equity_exact": str(final_equity),
        "fees": float(fees),
        # The ledger's exact figures win over the float equity curve's.
        **{k: v for k, v in stats.items() if k not in ("round_trips", "fees", "final_equity")},
        "elapsed_s": round(elapsed, 4),
        "bars_per_s": round(bars / elapsed) if elapsed > 0 else None,
        "risk_decisions": dict(bot.decisions),
        "strategies": {s.ref.id: s.ref.version for s in strategies},
        "symbols": [s.symbol for s in series],
        "synthetic": any(s.synthetic for s in series),
        "sources": [s.source for s in series],
        "halt_state": bot.risk.latch.state.value,
        "halt_reason": bot.risk.latch.reason or None,
        "halts": halts,
        "buy_and_hold_final_equity": round(float(benchmark[-1]), 2),
        "buy_and_hold_return": float(benchmark[-1]) / cash - 1.0,
        "monthly_returns": monthly_returns(equity_ts, equity, cash, interval),
        **verdicts(bot.decisions, bot.resized),
        **breakdowns(trips, bot.orders.fills),
        "regimes": _regimes(equity_ts, equity, benchmark, cash, interval, config, trips),
    }
    return BacktestResult(
        summary=summary,
        equity_ts=equity_ts,
        equity=equity,
        fills=list(bot.orders.fills),
        bot=bot,
        venue=venue,
        benchmark=benchmark,
    )


def _regimes(
    equity_ts: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
    cash: float,
    interval: int,
    config: BotConfig,
    trips: Sequence[Any],
) -> dict[str, Any]:
    """The run broken down by market regime, the market being buy and hold."""
    from bastion.research.regimes import RegimeRules, label_regimes, regime_breakdown

    rules = RegimeRules.from_config(config.research.regimes)
    return regime_breakdown(
        equity_ts=equity_ts,
        equity=equity,
        initial_equity=cash,
        market=market,
        labels=label_regimes(equity_ts, market, interval, rules),
        interval_ms=interval,
        rules=rules,
        trips=[(t.entry_ts, float(t.net_pnl)) for t in trips],
    )


def _drive(
    bot: Bot,
    venue: SimVenue,
    series: Sequence[BarSeries],
    quote: str,
    progress: Progress | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
    """Feed bars in time order, one cycle per timestamp; returns the equity curve."""
    timeline = (
        series[0].ts if len(series) == 1 else np.unique(np.concatenate([s.ts for s in series]))
    )
    n = len(timeline)
    equity = np.empty(n, dtype=np.float64)
    interval = min(s.interval_ms for s in series)
    step = max(1, n // 200)
    state = _Marks(venue, quote, [s.symbol for s in series])
    if len(series) == 1:
        exposure_bars = _drive_one(bot, venue, series[0], equity, interval, state, progress, step)
        if progress is not None:
            progress(n, n)
        return np.asarray(timeline, dtype=np.int64), equity, exposure_bars
    cols = [
        (
            s.symbol,
            s.interval_ms,
            s.ts.tolist(),
            s.open.tolist(),
            s.high.tolist(),
            s.low.tolist(),
            s.close.tolist(),
            s.volume.tolist(),
        )
        for s in series
    ]
    exposure_bars = _drive_many(
        bot, venue, cols, timeline.tolist(), equity, interval, state, progress, step
    )
    if progress is not None:
        progress(n, n)
    return np.asarray(timeline, dtype=np.int64), equity, exposure_bars


class _Marks:
    """Float cash and holdings for the equity curve, refreshed only when the
    venue's state changed (its ``version``), so marking costs a multiply per bar."""

    __slots__ = ("cash", "held", "quote", "symbols", "venue", "version")

    def __init__(self, venue: SimVenue, quote: str, symbols: list[str]) -> None:
        self.venue, self.quote, self.symbols = venue, quote, symbols
        self.version = -1
        self.cash = 0.0
        self.held = [0.0] * len(symbols)

    def refresh(self) -> None:
        if self.venue.version != self.version:
            self.version = self.venue.version
            acct = self.venue.fetch_account()
            self.cash = float(acct.cash(self.quote))
            self.held = [float(acct.position(s)) for s in self.symbols]


CHUNK = 65_536  # bars converted to Python floats at a time: bounded memory, fast loops


def _drive_one(
    bot: Bot,
    venue: SimVenue,
    series: BarSeries,
    equity: npt.NDArray[np.float64],
    interval: int,
    marks: _Marks,
    progress: Progress | None,
    step: int,
) -> int:
    sym = series.symbol
    on_bar, gate_on_bar, set_time = venue.on_bar, bot.gate.on_bar, venue.set_time
    exposure_bars = 0
    n = len(series)
    curve: list[float] = []  # list appends beat per-element NumPy stores in a Python loop
    curve_append = curve.append
    for lo_i in range(0, n, CHUNK):
        hi_i = min(n, lo_i + CHUNK)
        ts = series.ts[lo_i:hi_i].tolist()
        o = series.open[lo_i:hi_i].tolist()
        h = series.high[lo_i:hi_i].tolist()
        lo = series.low[lo_i:hi_i].tolist()
        c = series.close[lo_i:hi_i].tolist()
        v = series.volume[lo_i:hi_i].tolist()
        for j in range(hi_i - lo_i):
            t = ts[j]
            close = c[j]
            on_bar(sym, t, o[j], h[j], lo[j], close, v[j])
            gate_on_bar(sym, t, o[j], h[j], lo[j], close, v[j])
            now = t + interval
            set_time(now)
            run_cycle(bot, now)
            if venue.version != marks.version:
                marks.refresh()
            held = marks.held[0]
            i = lo_i + j
            if held:
                exposure_bars += 1
                curve_append(marks.cash + held * close)
            else:
                curve_append(marks.cash)
            if progress is not None and i % step == 0:
                progress(i, n)
        equity[lo_i:hi_i] = curve
        curve.clear()
    return exposure_bars


def _drive_many(
    bot: Bot,
    venue: SimVenue,
    cols: list[tuple[Any, ...]],
    timeline: list[int],
    equity: npt.NDArray[np.float64],
    interval: int,
    marks: _Marks,
    progress: Progress | None,
    step: int,
) -> int:
    ptr = [0] * len(cols)
    last_close = [0.0] * len(cols)
    exposure_bars = 0
    for i, t in enumerate(timeline):
        for k, (sym, _iv, ts, o, h, lo, c, v) in enumerate(cols):
            j = ptr[k]
            if j < len(ts) and ts[j] == t:
                venue.on_bar(sym, t, o[j], h[j], lo[j], c[j], v[j])
                bot.gate.on_bar(sym, t, o[j], h[j], lo[j], c[j], v[j])
                last_close[k] = c[j]
                ptr[k] = j + 1
        now = t + interval
        venue.set_time(now)
        run_cycle(bot, now)
        marks.refresh()
        value = marks.cash
        for k, held in enumerate(marks.held):
            if held:
                value += held * last_close[k]
        if any(marks.held):
            exposure_bars += 1
        equity[i] = value
        if progress is not None and i % step == 0:
            progress(i, len(timeline))
    return exposure_bars
