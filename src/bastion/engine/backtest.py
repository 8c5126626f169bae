"""Backtests: the live cycle, driven synchronously by a simulated clock.

Nothing here is a backtest-only shortcut: the data gate, the reconciler, the
risk gate, the order manager and the journal are the ones live trading uses;
only the clock (advanced by the data) and the venue (the simulated one) are
swapped. Bars are fed in timestamp order across symbols; the decision for a
bar is taken at its close, so a market order fills at the next bar's open.

Memory does not grow with the length of history: the bars come a chunk at a
time (``BarSource``), the equity curve and the fills go to a tape on disk as
they are made (``bastion.engine.tape``), the order manager and the simulated
venue keep a recent window as a live bot's do (``HISTORY``), and the summary's
figures are computed from the tape a chunk at a time, the same floats as from
whole arrays.
"""

from __future__ import annotations

import hashlib
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.config import BotConfig
from bastion.engine.context import journal_strategies
from bastion.engine.cycle import Bot
from bastion.engine.drive import drive
from bastion.engine.parts import data_gate, protector, risk_gate, slots
from bastion.engine.tape import CurveTape, FillTape
from bastion.execution import OrderManager
from bastion.execution.retention import Retention
from bastion.model import BarSeries, BarSource, Fill, Instrument
from bastion.model.money import ZERO, to_decimal
from bastion.observe.journal import Journal
from bastion.state import Reconciler
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue
from bastion.venues.sim.slippage import parse_slippage

Progress = Callable[[int, int], None]
_BPS = Decimal(10_000)
# Orders and fills the order manager and the venue keep in memory during a run
# (the run's fills are on its tape): enough for any late event, bounded.
HISTORY = Retention(orders=1_024, fills=1_024, trades=16_384, foreign=1_024)


@dataclass(slots=True)
class BacktestResult:
    """A run's summary, its fills and curve (on tapes: read back when asked
    for), and the bot and venue as they ended."""

    summary: dict[str, Any]
    curve: CurveTape
    fills: FillTape  # every (strategy id, fill), in arrival order
    bot: Bot
    venue: SimVenue
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def equity_ts(self) -> npt.NDArray[np.int64]:
        return self.curve.column("ts")

    @property
    def equity(self) -> npt.NDArray[np.float64]:
        return self.curve.column("equity")

    @property
    def benchmark(self) -> npt.NDArray[np.float64]:
        """Buy and hold on the same timeline."""
        return self.curve.column("market")


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


def _run_id(strategies: Sequence[Strategy[Any, Any]], series: Sequence[BarSource]) -> str:
    h = hashlib.sha256()
    for s in strategies:
        h.update(str(s.ref).encode())
    for b in series:
        h.update(f"{b.symbol}:{len(b)}:{b.first_ts if len(b) else 0}".encode())
    return h.hexdigest()[:6]


def build_bot(
    series: Sequence[BarSource],
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    journal: Any,
    *,
    guard: bool = False,
    history: Retention | None = None,
) -> tuple[Bot, SimVenue]:
    """The bot and its simulated venue; ``history`` bounds what they remember
    (``None``: everything)."""
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
        history=history.fills if history is not None else None,
    )
    gate = data_gate({s.symbol: s.interval_ms for s in series}, strategies, config, journal)
    bot = Bot(
        run_id=_run_id(strategies, series),
        venue=venue,
        gate=gate,
        reconciler=Reconciler(venue, journal),
        risk=risk_gate(config),
        orders=OrderManager(venue, journal, retention=history),
        journal=journal,
        instruments=instruments,
        slots=slots(strategies),
        guard=guard,
        protection=protector(config, strategies),
    )
    return bot, venue


def run_backtest(
    series: Sequence[BarSource],
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    *,
    journal_path: Path | None = None,
    progress: Progress | None = None,
    guard: bool = False,
    warmup: Sequence[BarSeries] = (),
) -> BacktestResult:
    """Run ``strategies`` over ``series`` and return equity, fills and the summary.

    ``series``: one ``BarSource`` per symbol, a ``BarSeries`` in memory or a
    file streamed a chunk at a time (``bastion.data.stream.open_bars``); the
    run, its journal and its summary are the same either way.
    ``warmup``: bars before the first of ``series``, passed through the data
    gate before the first cycle (as a live bot's warm-up), so the indicators
    are full from the first bar; no decision is taken on them."""
    if not series or any(len(s) == 0 for s in series):
        raise ValueError("a backtest needs at least one non-empty bar series")
    started = time.perf_counter()  # wall time for the bars/s figure only; never seen by the cycle
    journal = Journal(journal_path if journal_path else ":memory:", flush_every=5000)
    bot, venue = build_bot(series, strategies, config, journal, guard=guard, history=HISTORY)
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
    journal_strategies(bot, int(series[0].first_ts), venue_mode="backtest")
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
    cash = float(config.backtest.cash)
    curve = CurveTape()
    tally = _Tally(bot.orders)
    driven = drive(bot, venue, series, quote, cash, curve, tally.take, progress)
    elapsed = time.perf_counter() - started

    account = venue.fetch_account()
    last_close = {sym: to_decimal(c) for sym, c in driven.last_close.items()}
    final_equity = account.cash() + sum(
        (p.qty * last_close[sym] for sym, p in account.positions.items()), ZERO
    )
    end_ts, _, market_end = curve.last()
    orders, fills = bot.orders.registered, bot.orders.fills_applied
    journal.append(
        "run_end",
        end_ts,
        {
            "cycles": bot.cycle,
            "orders": orders,
            "fills": fills,
            "final_equity": str(final_equity),
            "decisions": bot.decisions,
        },
    )
    journal.close()

    from bastion.observe.breakdown import verdicts
    from bastion.observe.curve_stats import CurveStats

    interval = min(s.interval_ms for s in series)
    figures = CurveStats(cash, interval)
    for ts, eq, _mk in curve.chunks():
        figures.add(ts, eq)
    stats = figures.summary(
        trip_pnl=tally.trip_pnl(),
        exposure_bars=driven.exposure_bars,
        bars=len(curve),
        fees=float(tally.fees),
    )
    bars = driven.bars
    summary: dict[str, Any] = {
        "bars": bars,
        "orders": orders,
        "fills": fills,
        "round_trips": tally.trips,
        "final_equity": float(final_equity.quantize(Decimal("0.01"))),
        "final_equity_exact": str(final_equity),
        "fees": float(tally.fees),
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
        "buy_and_hold_final_equity": round(market_end, 2),
        "buy_and_hold_return": market_end / cash - 1.0,
        "monthly_returns": figures.monthly(),
        **verdicts(bot.decisions, bot.resized),
        **tally.breakdown.result(),
        "regimes": _regimes(curve, cash, interval, config, tally),
    }
    return BacktestResult(summary=summary, curve=curve, fills=tally.tape, bot=bot, venue=venue)


class _Tally:
    """The run's fills taken from the order manager as they arrive: onto the
    tape, into the round trips (of which only the figures are kept), the fees
    and the per-strategy and per-symbol breakdown."""

    def __init__(self, orders: OrderManager) -> None:
        from bastion.observe.breakdown import Breakdown
        from bastion.observe.trades import TripBook

        self._orders = orders
        self._seen = 0
        self.tape = FillTape()
        self.book = TripBook()
        self.breakdown = Breakdown()
        self.fees = ZERO
        self.trips = 0
        # Per closed trip, its net PnL and entry time: packed (16 B a trip, not
        # about 70 B as two lists of Python numbers), the only figures a run
        # keeps per trip.
        self._pnl = array("d")
        self._entries = array("q")

    def take(self) -> None:
        new = self._orders.fills_applied - self._seen
        if not new:
            return
        self._seen = self._orders.fills_applied
        for sid, fill in self._orders.fills[-new:]:
            self._add(sid, fill)

    def _add(self, sid: str, fill: Fill) -> None:
        self.tape.append(sid, fill)
        self.fees += fill.fee
        self.breakdown.add_fill(sid, fill)
        trip = self.book.add(sid, fill)
        if trip is not None:
            self.book.forget_closed_before(trip.exit_ts + 1)  # its figures are kept below
            self.trips += 1
            self._pnl.append(float(trip.net_pnl))
            self._entries.append(trip.entry_ts)
            self.breakdown.add_trip(trip)

    def trip_pnl(self) -> npt.NDArray[np.float64]:
        return np.frombuffer(self._pnl, dtype=np.float64).copy()

    def trip_entries(self) -> npt.NDArray[np.int64]:
        return np.frombuffer(self._entries, dtype=np.int64).copy()


def _regimes(
    curve: CurveTape, cash: float, interval: int, config: BotConfig, tally: _Tally
) -> dict[str, Any]:
    """The run broken down by market regime, the market being buy and hold:
    ``regime_breakdown`` of ``label_regimes``, from the tape a chunk at a time."""
    from bastion.research.regime_stream import streamed_breakdown
    from bastion.research.regimes import RegimeRules

    return streamed_breakdown(
        curve.chunks,
        rows=len(curve),
        initial_equity=cash,
        interval_ms=interval,
        rules=RegimeRules.from_config(config.research.regimes),
        trips=(tally.trip_entries(), tally.trip_pnl()),
    )
