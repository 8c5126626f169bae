"""The dashboard's statistics, refreshed from a journal months deep in the
bot's own process, hold only their span: the trips that closed in it and a
packed equity curve (17 bytes a point).

Before, every trip the journal ever closed was kept and the curve was a list
of three-object tuples: at 7 days of one-second samples, about 70 MB per
strategy at every refresh. The figures must not change: they are checked
against the code as it was (``reference`` below, kept verbatim but for names)
on generated journals."""

from __future__ import annotations

import math
import tracemalloc
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.model.money import ZERO
from bastion.observe.book import fill_of, strategy_id
from bastion.observe.live_stats import strategy_stats
from bastion.observe.stats import summarize
from bastion.observe.trades import TripBook

T0 = 1_780_000_000_000


def reference(events, *, interval_ms, since_ts=None, initial_equity=None):
    """``strategy_stats`` before the change."""
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
    out = {}
    for sid in sorted(set(curves) | {t.strategy_id for t in book.closed}):
        by_ts: dict[int, tuple[int, float, bool]] = {}
        for p in curves.get(sid, []):
            by_ts[p[0]] = p
        points = [by_ts[t] for t in sorted(by_ts)]
        trips = [t for t in book.closed if t.strategy_id == sid and t.exit_ts >= trips_from]
        summary = summarize(
            equity_ts=np.array([p[0] for p in points], dtype=np.int64),
            equity=np.array([base + p[1] for p in points], dtype=np.float64),
            interval_ms=interval_ms, trips=trips, exposure_bars=sum(1 for p in points if p[2]),
            bars=len(points), initial_equity=base, fees=float(fees.get(sid, ZERO)),
        )  # fmt: skip
        summary["turnover"] = float(notional.get(sid, ZERO)) / base
        summary["net_pnl"] = float(sum((t.net_pnl for t in trips), ZERO))
        out[sid] = summary
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def fill(seq: int, ts: int, sid: str, sym: str, side: str, qty: int, price: int) -> dict:
    return {"seq": seq, "ts": ts, "kind": "fill", "trade_id": f"t{seq}", "client_id": f"c{seq}",
            "strategy": f"{sid}@1", "symbol": sym, "side": side, "qty": str(qty),
            "price": str(price), "fee": "0.1"}  # fmt: skip


def sample(seq: int, ts: int, marks: dict[str, int], kind: str = "cycle_stats") -> dict:
    return {"seq": seq, "ts": ts, "kind": kind, "equity": "10000",
            "marks": {s: str(m) for s, m in marks.items()}}  # fmt: skip


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("fill"),
            st.sampled_from(["a", "b"]),
            st.sampled_from(["X", "Y"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 3),
            st.integers(90, 110),
        ),
        st.tuples(st.just("cycle_stats"), st.integers(90, 110), st.integers(90, 110)),
        st.tuples(st.just("cycle"), st.integers(90, 110), st.booleans()),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(steps, st.lists(st.integers(0, 3), min_size=80, max_size=80), st.integers(0, 200))
def test_the_figures_are_the_ones_the_old_code_gave(rows, gaps, since) -> None:
    events, ts = [], T0
    for seq, (row, gap) in enumerate(zip(rows, gaps, strict=False), 1):
        ts += gap * 1_000  # equal stamps happen: the curve keeps the last
        if row[0] == "fill":
            events.append(fill(seq, ts, *row[1:]))
        elif row[0] == "cycle_stats":
            events.append(sample(seq, ts, {"X": row[1], "Y": row[2]}))
        else:
            events.append(sample(seq, ts, {"X": row[1]} if row[2] else {}, kind="cycle"))
    since_ts = T0 + since * 1_000
    for kw in ({}, {"since_ts": since_ts}, {"since_ts": since_ts, "initial_equity": Decimal(5)}):
        got = strategy_stats(iter(events), interval_ms=1_000, **kw)
        want = reference(iter(events), interval_ms=1_000, **kw)
        assert same(got, want), (kw, got, want)


def test_trips_before_the_span_are_not_kept() -> None:
    events, seq = [], 0
    for i in range(40_000):  # 20,000 round trips, all before the span
        seq += 1
        events.append(fill(seq, T0 + i * 1_000, "mm", "X", "buy" if i % 2 == 0 else "sell", 1, 100))
    since = T0 + 40_000 * 1_000
    for i in range(500):
        seq += 1
        events.append(sample(seq, since + i * 1_000, {"X": 100}))
    tracemalloc.start()
    got = strategy_stats(iter(events), interval_ms=1_000, since_ts=since)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert got["mm"]["round_trips"] == 0
    assert peak < 2 * 2**20, peak  # the old code kept all 20,000 trips: about 13 MB
