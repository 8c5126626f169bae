"""The figures a person asks of a run after "did it make money": compared with
what (buy and hold), made where (per strategy, per symbol), when (monthly
returns) and stopped by what (halts, risk verdicts).

Floats for analytics, as in ``stats``; every figure lands in summary.json so
that the report shows nothing the summary does not also say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from bastion.model import BarSeries, Fill
from bastion.observe.stats import FloatArray, IntArray
from bastion.observe.trades import RoundTrip


def buy_and_hold(
    series: Sequence[BarSeries], timeline: IntArray, initial_equity: float
) -> FloatArray:
    """Equity of putting ``initial_equity`` into the symbols in equal parts at
    the first bar's open and holding (no fees), marked at each bar's close on
    ``timeline`` (a symbol with no bar at a point keeps its last close)."""
    t = np.asarray(timeline, dtype=np.int64)
    total = np.zeros(t.size, dtype=np.float64)
    share = initial_equity / len(series)
    for s in series:
        if len(s) == 0:
            total += share
            continue
        units = share / float(s.open[0])
        idx = np.searchsorted(s.ts, t, side="right") - 1
        before = idx < 0
        marks = s.close[np.maximum(idx, 0)].astype(np.float64)
        marks[before] = float(s.open[0])
        total += units * marks
    return total


def monthly_returns(
    equity_ts: IntArray, equity: FloatArray, initial_equity: float, interval_ms: int
) -> dict[str, float]:
    """``{"2025-06": 0.0123, ...}``: each UTC calendar month's return from the
    last equity mark of the month before (the first from ``initial_equity``).

    A mark belongs to the month its bar closes in. The months are found with
    NumPy (a million bars would cost seconds of ``strftime``); the returns are
    then the same Python float divisions, one per month."""
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.size == 0:
        return {}
    months = (ts + (interval_ms - 1)).astype("datetime64[ms]").astype("datetime64[M]")
    ends = [*np.flatnonzero(months[1:] != months[:-1]).tolist(), ts.size - 1]
    names = np.datetime_as_string(months[ends], unit="M").tolist()
    out: dict[str, float] = {}
    prev = initial_equity
    for name, last in zip(names, eq[ends].tolist(), strict=True):
        out[name] = last / prev - 1.0 if prev > 0 else 0.0
        prev = last
    return out


class Breakdown:
    """Per strategy and per symbol: closed trips, win rate, net PnL of the
    closed trips, fees of every fill (open positions' fees included) and fills,
    fed trip by trip and fill by fill as a run makes them."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict[str, Any]]] = {"strategy": {}, "symbol": {}}

    def _row(self, by: str, key: str) -> dict[str, Any]:
        return self._rows[by].setdefault(
            key,
            {"round_trips": 0, "wins": 0, "net_pnl": Decimal(0), "fees": Decimal(0), "fills": 0},
        )

    def add_trip(self, t: RoundTrip) -> None:
        for by, key in (("strategy", t.strategy_id), ("symbol", t.symbol)):
            r = self._row(by, key)
            r["round_trips"] += 1
            r["wins"] += t.net_pnl > 0
            r["net_pnl"] += t.net_pnl

    def add_fill(self, sid: str, f: Fill) -> None:
        for by, key in (("strategy", sid), ("symbol", f.symbol)):
            r = self._row(by, key)
            r["fills"] += 1
            r["fees"] += f.fee

    def result(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {f"by_{by}": _table(rows) for by, rows in self._rows.items()}


def _table(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        key: {
            "round_trips": r["round_trips"],
            "win_rate": r["wins"] / r["round_trips"] if r["round_trips"] else None,
            "net_pnl": float(r["net_pnl"]),
            "fees": float(r["fees"]),
            "fills": r["fills"],
        }
        for key, r in sorted(rows.items())
    }


def breakdowns(
    trips: Iterable[RoundTrip], fills: Iterable[tuple[str, Fill]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per strategy and per symbol: closed trips, win rate, net PnL of the
    closed trips, fees of every fill (open positions' fees included) and fills."""
    b = Breakdown()
    for t in trips:
        b.add_trip(t)
    for sid, f in fills:
        b.add_fill(sid, f)
    return b.result()


def verdicts(decisions: Mapping[str, int], resized: Mapping[str, int]) -> dict[str, Any]:
    """Risk verdicts from the cycle's counts: ``decisions`` counts every
    decision by reason code (APPROVED for a clean approval), ``resized`` the
    resizes among them. "Not approved" is the rejections only: a resized order
    was sent, smaller."""
    rejected = {
        k: n - resized.get(k, 0)
        for k, n in sorted(decisions.items())
        if k != "APPROVED" and n - resized.get(k, 0) > 0
    }
    return {
        "approved": decisions.get("APPROVED", 0),
        "resized": dict(sorted(resized.items())),
        "rejected": rejected,
        "not_approved": sum(rejected.values()),
        "resized_total": sum(resized.values()),
    }
