"""Per-strategy statistics of a paper or live run, from its journal, computed
by the backtests' own code (``round_trips``, ``summarize``).

A live journal has no per-strategy equity curve, so one is rebuilt: at every
health sample (``cycle_stats``, which carries the marks) each strategy is
worth the account's starting equity plus its own cash flows and positions
marked there. Win rate, Sharpe, max drawdown and exposure then mean what they
mean in a backtest report; turnover is traded notional over starting equity.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from bastion.model.money import ZERO
from bastion.observe.book import fill_of, strategy_id
from bastion.observe.stats import Summary, summarize
from bastion.observe.trades import RoundTrip, TripBook

KEYS = (
    "round_trips",
    "win_rate",
    "sharpe",
    "max_drawdown",
    "exposure",
    "turnover",
    "net_pnl",
    "fees",
)


def strategy_stats(
    events: Iterable[dict[str, Any]],
    *,
    interval_ms: int,
    since_ts: int | None = None,
    initial_equity: Decimal | None = None,
) -> dict[str, Summary]:
    # The dashboard refreshes this from a journal months deep, in the bot's own
    # process: only the span's trips are kept, and the curves are packed arrays
    # (17 bytes a point, not a tuple of three objects).
    book = TripBook(keep_closed=False)
    trips: list[RoundTrip] = []
    traded: set[str] = set()  # strategies that closed a trip at any time (listed, as before)
    cash: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    notional: dict[str, Decimal] = {}
    pos: dict[tuple[str, str], Decimal] = {}
    marks: dict[str, Decimal] = {}
    curves: dict[str, Curve] = {}
    start_equity = initial_equity
    trips_from = since_ts or 0
    for e in events:
        ts, kind = int(e["ts"]), e["kind"]
        if kind == "fill":
            sid, f = strategy_id(e.get("strategy")), fill_of(e)
            trip = book.add(sid, f)
            if trip is not None:
                traded.add(sid)
                if trip.exit_ts >= trips_from:
                    trips.append(trip)
            marks[f.symbol] = f.price
            if ts < trips_from:
                continue
            cash[sid] = cash.get(sid, ZERO) - f.signed_qty * f.price - f.fee
            fees[sid] = fees.get(sid, ZERO) + f.fee
            notional[sid] = notional.get(sid, ZERO) + f.qty * f.price
            key = (sid, f.symbol)
            pos[key] = pos.get(key, ZERO) + f.signed_qty
            curves.setdefault(sid, Curve())
        elif kind in ("cycle_stats", "cycle") and ts >= trips_from:
            for sym, m in (e.get("marks") or {}).items():
                marks[sym] = Decimal(m)
            if start_equity is None and e.get("equity") is not None:
                start_equity = Decimal(e["equity"])
            if kind == "cycle_stats" or not e.get("marks"):
                for sid, curve in curves.items():
                    value = cash.get(sid, ZERO) + sum(
                        (q * marks.get(sym, ZERO) for (s, sym), q in pos.items() if s == sid),
                        ZERO,
                    )
                    held = any(q != 0 for (s, _), q in pos.items() if s == sid)
                    curve.append(ts, float(value), held)
    base = float(start_equity) if start_equity else 100_000.0
    out: dict[str, Summary] = {}
    for sid in sorted(set(curves) | traded):
        ts_, values, held_ = curves.get(sid, Curve()).points()
        own = [t for t in trips if t.strategy_id == sid]
        summary = summarize(
            equity_ts=ts_,
            equity=base + values,
            interval_ms=interval_ms,
            trips=own,
            exposure_bars=int(held_.sum()),
            bars=len(ts_),
            initial_equity=base,
            fees=float(fees.get(sid, ZERO)),
        )
        summary["turnover"] = float(notional.get(sid, ZERO)) / base
        summary["net_pnl"] = float(sum((t.net_pnl for t in own), ZERO))
        out[sid] = summary
    return out


class Curve:
    """One strategy's rebuilt equity points, packed as they come."""

    __slots__ = ("held", "ts", "values")

    def __init__(self) -> None:
        self.ts = array("q")
        self.values = array("d")
        self.held = array("b")

    def append(self, ts: int, value: float, held: bool) -> None:
        self.ts.append(ts)
        self.values.append(value)
        self.held.append(held)

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One point per timestamp (the last), in time order: summarize needs ts
        not to fall."""
        ts = np.frombuffer(self.ts, dtype=np.int64) if self.ts else np.zeros(0, np.int64)
        values = np.frombuffer(self.values, dtype=np.float64) if self.values else np.zeros(0)
        held = np.frombuffer(self.held, dtype=np.int8) if self.held else np.zeros(0, np.int8)
        order = np.argsort(ts, kind="stable")
        ts, values, held = ts[order], values[order], held[order]
        last = np.ones(len(ts), dtype=bool)
        last[:-1] = ts[1:] != ts[:-1]  # the last of each run of equal stamps
        return ts[last].copy(), values[last].copy(), held[last].astype(bool)


def render(stats: dict[str, Summary]) -> str:
    if not stats:
        return "no trades in the journal for that span"
    lines = [f"{'strategy':<16}" + "".join(f"{k:>14}" for k in KEYS)]
    for sid, s in stats.items():
        cells = []
        for k in KEYS:
            v = s.get(k)
            cells.append(f"{'-' if v is None else (f'{v:.4g}' if isinstance(v, float) else v):>14}")
        lines.append(f"{sid:<16}" + "".join(cells))
    return "\n".join(lines)
