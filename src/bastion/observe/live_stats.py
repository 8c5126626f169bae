"""Per-strategy statistics of a paper or live run, from its journal, computed
by the backtests' own code (``round_trips``, ``summarize``).

A live journal has no per-strategy equity curve, so one is rebuilt: at every
health sample (``cycle_stats``, which carries the marks) each strategy is
worth the account's starting equity plus its own cash flows and positions
marked there. Win rate, Sharpe, max drawdown and exposure then mean what they
mean in a backtest report; turnover is traded notional over starting equity.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from bastion.model.money import ZERO
from bastion.observe.book import fill_of, strategy_id
from bastion.observe.stats import Summary, summarize
from bastion.observe.trades import TripBook

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
    book = TripBook()
    cash: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    notional: dict[str, Decimal] = {}
    pos: dict[tuple[str, str], Decimal] = {}
    marks: dict[str, Decimal] = {}
    curves: dict[str, list[tuple[int, float, bool]]] = {}
    start_equity = initial_equity
    trips_from = since_ts or 0
    for e in events:
        ts, kind = int(e["ts"]), e["kind"]
        if kind == "fill":
            sid, f = strategy_id(e.get("strategy")), fill_of(e)
            book.add(sid, f)
            marks[f.symbol] = f.price
            if ts < trips_from:
                continue
            cash[sid] = cash.get(sid, ZERO) - f.signed_qty * f.price - f.fee
            fees[sid] = fees.get(sid, ZERO) + f.fee
            notional[sid] = notional.get(sid, ZERO) + f.qty * f.price
            key = (sid, f.symbol)
            pos[key] = pos.get(key, ZERO) + f.signed_qty
            curves.setdefault(sid, [])
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
                    curve.append((ts, float(value), held))
    base = float(start_equity) if start_equity else 100_000.0
    out: dict[str, Summary] = {}
    for sid in sorted(set(curves) | {t.strategy_id for t in book.closed}):
        points = _dedupe(curves.get(sid, []))
        trips = [t for t in book.closed if t.strategy_id == sid and t.exit_ts >= trips_from]
        summary = summarize(
            equity_ts=np.array([p[0] for p in points], dtype=np.int64),
            equity=np.array([base + p[1] for p in points], dtype=np.float64),
            interval_ms=interval_ms,
            trips=trips,
            exposure_bars=sum(1 for p in points if p[2]),
            bars=len(points),
            initial_equity=base,
            fees=float(fees.get(sid, ZERO)),
        )
        summary["turnover"] = float(notional.get(sid, ZERO)) / base
        summary["net_pnl"] = float(sum((t.net_pnl for t in trips), ZERO))
        out[sid] = summary
    return out


def _dedupe(points: list[tuple[int, float, bool]]) -> list[tuple[int, float, bool]]:
    """One point per timestamp (the last), in time order: summarize needs ts not to fall."""
    by_ts: dict[int, tuple[int, float, bool]] = {}
    for p in points:
        by_ts[p[0]] = p
    return [by_ts[t] for t in sorted(by_ts)]


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
