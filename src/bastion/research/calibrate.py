"""Slippage you can trust: fit the simulated venue's volume-participation model
(``volume:SHARE:IMPACT_BPS``, see ``bastion.venues.sim.slippage``) to what
market orders would have paid against a recorded tape.

Two measurements, for each sample time (every ``every_ms`` of the tape) and
each order size *Q*, on both sides, each as a cost ``(VWAP / mid - 1) *
10,000`` bps for a buy (``(1 - VWAP / mid) * 10,000`` for a sell):

- **book**: when the recording holds a depth snapshot and its diffs, the order
  walks the rebuilt book's levels from the touch (``bastion.data.book``), the
  mid being the book's. This is what a market order would have paid at that
  instant, and it is what the model is fitted to.
- **trades**: the order takes, in time order from the sample, the trades whose
  *buyer* was the taker (a sell: whose seller was) until *Q* is filled, the
  mid being the book ticker's at the sample (without one, the last trade).
  That is what the liquidity other takers found would have cost; on a short
  tape it carries the market's drift over the minutes the flow took (a
  falling tape makes buying look cheaper than free), so it is shown beside the
  book's figure, and used for the fit only when the tape has no book.

A sample whose order the book or the rest of the tape cannot fill is dropped.

The fit: the model's cost of a fill is ``IMPACT_BPS * min(x, 1)``, with *x*
the participation ``Q / (SHARE * V)`` and *V* a bar's volume. *V* here is the
tape's mean traded volume per ``interval_ms`` (the backtest's bar), so the fitted
model charges a backtest bar what the tape charged. ``IMPACT_BPS`` is the
least-squares slope through the origin over the samples with *x* ≤ 1 (beyond
it the model fills the rest on later bars instead of paying more).

Pure: arrays in, a ``Calibration`` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_SIZES = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class Tape:
    """Trades (``ts`` ms, ``price``, ``qty``, ``buyer_maker``: the seller took)
    and book tops (``top_ts``, ``bid``, ``ask``), each sorted by time."""

    ts: IntArray
    price: FloatArray
    qty: FloatArray
    buyer_maker: BoolArray
    top_ts: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    bid: FloatArray = field(default_factory=lambda: np.empty(0))
    ask: FloatArray = field(default_factory=lambda: np.empty(0))
    ladders: list[Ladder] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ladder:
    """The book's best levels at one time, best first on each side."""

    ts: int
    bid_px: FloatArray
    bid_qty: FloatArray
    ask_px: FloatArray
    ask_qty: FloatArray


@dataclass(frozen=True, slots=True)
class SizeRow:
    size: float
    participation: float
    samples: int
    mean_bps: float | None  # what the fit used: the book's, else the trades'
    p90_bps: float | None
    trades_mean_bps: float | None
    model_bps: float


@dataclass(frozen=True, slots=True)
class Calibration:
    share: float
    impact_bps: float
    interval_ms: int
    bar_volume: float
    half_spread_bps: float | None
    trades: int
    span_ms: int
    rows: list[SizeRow]
    basis: str  # "book" or "trades"

    @property
    def spec(self) -> str:
        """The ``[venue] slippage`` value of the fitted model."""
        return f"volume:{self.share:g}:{self.impact_bps:.4f}"


def _refs(tape: Tape, starts: IntArray) -> FloatArray:
    """Mid at each start (the last book top at or before it), else the last trade."""
    last_trade = np.clip(np.searchsorted(tape.ts, starts, side="right") - 1, 0, None)
    ref = tape.price[last_trade].astype(np.float64)
    if tape.top_ts.size:
        k = np.searchsorted(tape.top_ts, starts, side="right") - 1
        has = k >= 0
        mid = (tape.bid + tape.ask) / 2.0
        ref[has] = mid[k[has]]
    return ref


def _walk(
    ts: IntArray, price: FloatArray, qty: FloatArray, starts: IntArray, size: float
) -> FloatArray:
    """VWAP of taking ``size`` from the trades after each start; NaN if unfillable."""
    cum_q = np.concatenate(([0.0], np.cumsum(qty)))
    cum_pq = np.concatenate(([0.0], np.cumsum(price * qty)))
    first = np.searchsorted(ts, starts, side="left")
    target = cum_q[first] + size
    # Index of the trade that completes the order: the first whose cumulative qty reaches it.
    last = np.searchsorted(cum_q, target, side="left") - 1
    out = np.full(starts.size, np.nan)
    ok = last < qty.size
    if not ok.any():
        return out
    f, lt = first[ok], last[ok]
    taken_before = cum_q[lt] - cum_q[f]
    rest = size - taken_before
    paid = cum_pq[lt] - cum_pq[f] + rest * price[lt]
    out[ok] = paid / size
    return out


def _ladder_vwap(px: FloatArray, qty: FloatArray, size: float) -> float:
    cum = np.cumsum(qty)
    k = int(np.searchsorted(cum, size, side="left"))
    if k >= px.size:
        return math.nan
    before = float(cum[k - 1]) if k else 0.0
    paid = float(np.dot(px[:k], qty[:k])) + (size - before) * float(px[k])
    return paid / size


def measure_book(ladders: Sequence[Ladder], sizes: Sequence[float]) -> dict[float, FloatArray]:
    """Cost in bps of walking each ladder (both sides together), per size."""
    out: dict[float, FloatArray] = {}
    for size in sizes:
        costs = []
        for lad in ladders:
            if not (lad.bid_px.size and lad.ask_px.size):
                continue
            mid = (float(lad.bid_px[0]) + float(lad.ask_px[0])) / 2.0
            costs.append((_ladder_vwap(lad.ask_px, lad.ask_qty, size) / mid - 1.0) * 1e4)
            costs.append((1.0 - _ladder_vwap(lad.bid_px, lad.bid_qty, size) / mid) * 1e4)
        arr = np.array(costs, dtype=np.float64)
        out[size] = arr[np.isfinite(arr)]
    return out


def measure(tape: Tape, sizes: Sequence[float], every_ms: int) -> dict[float, FloatArray]:
    """Cost in bps of every trades sample (both sides together), per size."""
    if tape.ts.size == 0:
        raise ValueError("the tape holds no trades")
    starts = np.arange(int(tape.ts[0]), int(tape.ts[-1]), every_ms, dtype=np.int64)
    ref = _refs(tape, starts)
    buys = ~tape.buyer_maker  # the buyer took liquidity: an aggressive buy
    out: dict[float, FloatArray] = {}
    for size in sizes:
        vb = _walk(tape.ts[buys], tape.price[buys], tape.qty[buys], starts, size)
        vs = _walk(tape.ts[~buys], tape.price[~buys], tape.qty[~buys], starts, size)
        cost = np.concatenate(((vb / ref - 1.0) * 1e4, (1.0 - vs / ref) * 1e4))
        out[size] = cost[np.isfinite(cost)]
    return out


def calibrate(
    tape: Tape,
    *,
    share: float,
    interval_ms: int,
    sizes: Sequence[float] = DEFAULT_SIZES,
    every_ms: int = 5_000,
) -> Calibration:
    """Fit ``IMPACT_BPS`` of ``volume:SHARE:IMPACT_BPS`` to the tape (see the module)."""
    if share <= 0 or interval_ms <= 0:
        raise ValueError("share and interval must be positive")
    span = int(tape.ts[-1] - tape.ts[0]) if tape.ts.size else 0
    if span <= 0:
        raise ValueError("the tape spans no time: at least two trades at different times")
    bar_volume = float(tape.qty.sum()) * interval_ms / span
    by_trades = measure(tape, sizes, every_ms)
    basis = "book" if tape.ladders else "trades"
    costs = measure_book(tape.ladders, sizes) if tape.ladders else by_trades
    xs, ys = [], []
    for size, c in costs.items():
        x = size / (share * bar_volume)
        if x <= 1.0 and c.size:
            xs.append(np.full(c.size, x))
            ys.append(c)
    x_all = np.concatenate(xs) if xs else np.empty(0)
    y_all = np.concatenate(ys) if ys else np.empty(0)
    denom = float(np.dot(x_all, x_all))
    impact = max(0.0, float(np.dot(x_all, y_all)) / denom) if denom > 0 else 0.0
    rows = []
    for size, c in costs.items():
        x = size / (share * bar_volume)
        rows.append(
            SizeRow(
                size=size,
                participation=x,
                samples=int(c.size),
                mean_bps=float(c.mean()) if c.size else None,
                p90_bps=float(np.quantile(c, 0.9)) if c.size else None,
                trades_mean_bps=float(by_trades[size].mean()) if by_trades[size].size else None,
                model_bps=impact * min(x, 1.0),
            )
        )
    spread = None
    if tape.top_ts.size:
        mid = (tape.bid + tape.ask) / 2.0
        spread = float(np.mean((tape.ask - tape.bid) / mid) * 1e4 / 2.0)
    return Calibration(
        share=share,
        impact_bps=impact,
        interval_ms=interval_ms,
        bar_volume=bar_volume,
        half_spread_bps=spread,
        trades=int(tape.ts.size),
        span_ms=span,
        rows=rows,
        basis=basis,
    )
