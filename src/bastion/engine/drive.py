"""The backtest loop: bars in time order, one cycle per timestamp, a chunk of
bars at a time.

Each symbol's bars come from a ``BarSource`` a chunk at a time (a view of a
``BarSeries`` in memory, or a batch of a Parquet file), turned into Python
floats a chunk at a time (list appends and list reads beat NumPy element
access in a Python loop). What the loop leaves behind goes out as it is made:
the equity curve and buy and hold to the run's ``CurveTape``, every new fill
to ``on_fills``. So nothing the loop holds grows with the length of history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from bastion.engine.cycle import Bot, run_cycle
from bastion.engine.tape import CurveTape
from bastion.model import BarSeries, BarSource
from bastion.venues.sim import SimVenue

Progress = Callable[[int, int], None]
CHUNK = 65_536  # bars converted to Python floats at a time (all symbols together)
_MIN_CHUNK = 1_024  # per symbol, however many symbols


@dataclass(slots=True)
class Driven:
    """What the loop counted: timestamps with a position held, the last close of
    each symbol (for the final equity) and the symbol-bars fed."""

    exposure_bars: int
    last_close: dict[str, float]
    bars: int


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


def drive(
    bot: Bot,
    venue: SimVenue,
    sources: Sequence[BarSource],
    quote: str,
    cash: float,
    curve: CurveTape,
    on_fills: Callable[[], None],
    progress: Progress | None,
) -> Driven:
    """Feed the bars; ``cash`` is the initial equity (buy and hold puts it into
    the symbols in equal parts at the first bar's open, as ``buy_and_hold``);
    ``on_fills`` is called whenever the venue's state changed, to take new fills."""
    marks = _Marks(venue, quote, [s.symbol for s in sources])
    total = sum(len(s) for s in sources)
    interval = min(s.interval_ms for s in sources)
    fed = 0

    def chunk_done(bars: int) -> None:  # progress in symbol-bars, once a chunk
        nonlocal fed
        fed += bars
        if progress is not None:
            progress(fed, total)

    if len(sources) == 1:
        driven = _drive_one(
            bot, venue, sources[0], curve, interval, marks, cash, on_fills, chunk_done
        )
    else:
        driven = _drive_many(
            bot, venue, sources, curve, interval, marks, cash, on_fills, chunk_done
        )
    on_fills()
    if progress is not None:
        progress(total, total)
    return driven


def _drive_one(
    bot: Bot,
    venue: SimVenue,
    source: BarSource,
    curve: CurveTape,
    interval: int,
    marks: _Marks,
    cash: float,
    on_fills: Callable[[], None],
    chunk_done: Callable[[int], None],
) -> Driven:
    sym = source.symbol
    on_bar, gate_on_bar, set_time = venue.on_bar, bot.gate.on_bar, venue.set_time
    exposure_bars = 0
    units: float | None = None
    close = 0.0
    equity: list[float] = []  # list appends beat per-element NumPy stores in a Python loop
    append = equity.append
    for chunk in source.chunks(CHUNK):
        if units is None:
            units = cash / float(chunk.open[0])  # as ``buy_and_hold``: all in at the first open
        ts, o, h, lo = (
            chunk.ts.tolist(),
            chunk.open.tolist(),
            chunk.high.tolist(),
            chunk.low.tolist(),
        )
        c, v = chunk.close.tolist(), chunk.volume.tolist()
        # One tuple a bar from zip beats six list reads by index (twice) and a range.
        for t, oj, hj, lj, close, vj in zip(ts, o, h, lo, c, v, strict=True):
            on_bar(sym, t, oj, hj, lj, close, vj)
            gate_on_bar(sym, t, oj, hj, lj, close, vj)
            now = t + interval
            set_time(now)
            run_cycle(bot, now)
            if venue.version != marks.version:
                marks.refresh()
                on_fills()
            held = marks.held[0]
            if held:
                exposure_bars += 1
                append(marks.cash + held * close)
            else:
                append(marks.cash)
        curve.append(chunk.ts, np.asarray(equity, dtype=np.float64), units * chunk.close)
        equity.clear()
        chunk_done(len(ts))
    return Driven(exposure_bars, {sym: close}, len(source))


class _Feed:
    """One symbol's bars as Python lists, a chunk at a time."""

    __slots__ = ("c", "chunks", "done", "h", "j", "lo", "o", "symbol", "ts", "v")

    def __init__(self, source: BarSource, rows: int) -> None:
        self.symbol = source.symbol
        self.chunks: Iterator[BarSeries] = source.chunks(rows)
        self.done = False
        self.ts: list[int] = []
        self.j = 0
        self.refill()

    def refill(self) -> BarSeries | None:
        """The next chunk once this one is used up (``None`` if none was read)."""
        if self.j < len(self.ts) or self.done:
            return None
        chunk = next(self.chunks, None)
        if chunk is None:
            self.done = True
            return None
        self.ts, self.o, self.h = chunk.ts.tolist(), chunk.open.tolist(), chunk.high.tolist()
        self.lo, self.c, self.v = chunk.low.tolist(), chunk.close.tolist(), chunk.volume.tolist()
        self.j = 0
        return chunk


def _drive_many(
    bot: Bot,
    venue: SimVenue,
    sources: Sequence[BarSource],
    curve: CurveTape,
    interval: int,
    marks: _Marks,
    cash: float,
    on_fills: Callable[[], None],
    chunk_done: Callable[[int], None],
) -> Driven:
    """Timestamps are taken in segments: every timestamp up to the earliest
    chunk end among the symbols with more chunks to come, so each symbol's
    next chunk is read only once its current one is used up."""
    rows = max(_MIN_CHUNK, CHUNK // len(sources))
    feeds = [_Feed(s, rows) for s in sources]
    share = cash / len(sources)
    units = [share / f.o[0] for f in feeds]  # as ``buy_and_hold``
    mark = [f.o[0] for f in feeds]  # before a symbol's first bar: its first open
    last_close = [0.0] * len(feeds)
    exposure_bars = 0
    while any(f.j < len(f.ts) for f in feeds):
        more = [f.ts[-1] for f in feeds if not f.done]
        horizon = min(more) if more else None
        before = [f.j for f in feeds]
        pending = [np.asarray(f.ts[f.j :], dtype=np.int64) for f in feeds]
        timeline = np.unique(np.concatenate(pending))
        if horizon is not None:
            timeline = timeline[timeline <= horizon]
        equity: list[float] = []
        market: list[float] = []
        for t in timeline.tolist():
            for k, f in enumerate(feeds):
                j = f.j
                if j < len(f.ts) and f.ts[j] == t:
                    venue.on_bar(f.symbol, t, f.o[j], f.h[j], f.lo[j], f.c[j], f.v[j])
                    bot.gate.on_bar(f.symbol, t, f.o[j], f.h[j], f.lo[j], f.c[j], f.v[j])
                    last_close[k] = mark[k] = f.c[j]
                    f.j = j + 1
            now = t + interval
            venue.set_time(now)
            run_cycle(bot, now)
            if venue.version != marks.version:
                marks.refresh()
                on_fills()
            value = marks.cash
            for k, held in enumerate(marks.held):
                if held:
                    value += held * last_close[k]
            if any(marks.held):
                exposure_bars += 1
            equity.append(value)
            bh = 0.0
            for k in range(len(feeds)):
                bh += units[k] * mark[k]
            market.append(bh)
        curve.append(timeline, np.asarray(equity), np.asarray(market))
        chunk_done(sum(f.j for f in feeds) - sum(before))
        for f in feeds:
            f.refill()
    closes = {f.symbol: last_close[k] for k, f in enumerate(feeds)}
    return Driven(exposure_bars, closes, sum(len(s) for s in sources))
