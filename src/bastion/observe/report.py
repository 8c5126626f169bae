"""A backtest report a person reads: one self-contained HTML file that opens
offline and stays small (under 1.5 MB for three months of 1m bars).

What is on it, in reading order: a banner when the run is synthetic or ended
halted; a summary panel with human labels (every figure taken from
summary.json, so page and file never disagree); equity against buy and hold
with halt and flatten markers; drawdown; price per symbol with the fills;
breakdowns per strategy and per symbol; monthly returns; risk verdicts by
reason; the trades table. Charts are drawn by uPlot (vendored, 51 kB; see
``vendor/uplot/VERSION``) from JSON embedded in the page; each line keeps at
most ``MAX_LINE_POINTS`` points (the minimum and maximum of each time bucket,
so a spike or a crash survives thinning) and whatever was thinned is said.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bastion.model.orders import Fill, Side
from bastion.observe.stats import FloatArray, IntArray, drawdown_series
from bastion.observe.trades import RoundTrip

MAX_LINE_POINTS = 6_000
MAX_FILL_MARKERS = 3_000
MAX_TRADE_ROWS = 5_000
SYNTHETIC_BANNER = "SYNTHETIC DATA — not a real market"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERCENT_KEYS = frozenset(
    {
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "win_rate",
        "exposure",
        "buy_and_hold_return",
    }
)


def minmax_indices(y: FloatArray, max_points: int = MAX_LINE_POINTS) -> IntArray:
    """Indices of at most ``max_points`` points of ``y``: each bucket's minimum
    and maximum, in order, plus the first and last point."""
    n = y.size
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)
    rows = -(-n // size)
    padded = np.pad(y, (0, rows * size - n), mode="edge").reshape(rows, size)
    offsets = np.arange(rows) * size
    idx = np.concatenate(
        (padded.argmin(axis=1) + offsets, padded.argmax(axis=1) + offsets, np.array([0, n - 1]))
    )
    return np.unique(np.minimum(idx, n - 1)).astype(np.int64)


def downsample_minmax(
    x: FloatArray, y: FloatArray, max_points: int = MAX_LINE_POINTS
) -> tuple[FloatArray, FloatArray]:
    """At most ``max_points`` of (x, y), keeping each bucket's min and max in order.

    A plain stride would step over a one-bar spike; keeping both extremes of
    every bucket draws the same envelope as the full series."""
    if y.size <= max_points:
        return x, y
    idx = minmax_indices(y, max_points)
    return x[idx], y[idx]


def _iso(ts_ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ts_ms)).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_value(key: str, value: object) -> str:
    """How one summary value reads on the page (and in the tests that check it):
    fractions as percentages with two decimals, money with two, ratios with
    two, counts with thousands separators, timestamps in UTC, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool | str):
        return str(value)
    if key.endswith("_ts") and isinstance(value, int):
        return _iso(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if key in _PERCENT_KEYS:
            return f"{value:.2%}"
        if key.endswith("_s"):
            return _duration(value)
        return f"{value:,.2f}"
    return str(value)


def _round(values: FloatArray, digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else round(v, digits) for v in values.tolist()]


def _sig(values: FloatArray) -> list[float]:
    return [float(f"{v:.8g}") for v in values.tolist()]


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One symbol's closes, for its price panel."""

    symbol: str
    ts: IntArray
    close: FloatArray


def _equity_chart(
    equity_ts: IntArray, equity: FloatArray, benchmark: FloatArray | None, initial: float
) -> tuple[dict[str, Any], str | None]:
    eq = np.asarray(equity, dtype=np.float64)
    idx = minmax_indices(eq)
    if benchmark is not None:
        idx = np.union1d(idx, minmax_indices(np.asarray(benchmark, dtype=np.float64)))
    dd = drawdown_series(eq, initial)
    idx = np.union1d(idx, minmax_indices(dd))
    x = (np.asarray(equity_ts, dtype=np.int64)[idx] // 1000).tolist()
    chart = {
        "x": x,
        "equity": _round(eq[idx], 2),
        "benchmark": None if benchmark is None else _round(np.asarray(benchmark)[idx], 2),
        "drawdown": _round(-100.0 * dd[idx], 3),
    }
    note = (
        f"Equity and drawdown drawn from {idx.size:,} of {eq.size:,} points "
        "(minimum and maximum of each time bucket)."
        if idx.size < eq.size
        else None
    )
    return chart, note


def _price_chart(
    line: PriceLine, fills: Sequence[Fill], max_points: int
) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    ts = np.asarray(line.ts, dtype=np.int64)
    close = np.asarray(line.close, dtype=np.float64)
    idx = minmax_indices(close, max_points)
    if idx.size < close.size:
        notes.append(f"{line.symbol}: price drawn from {idx.size:,} of {close.size:,} points.")
    mine = [f for f in fills if f.symbol == line.symbol]
    if len(mine) > MAX_FILL_MARKERS:
        keep = np.unique(np.linspace(0, len(mine) - 1, MAX_FILL_MARKERS).astype(np.int64))
        notes.append(
            f"{line.symbol}: chart marks {keep.size:,} of {len(mine):,} fills (evenly spaced); "
            "every fill is in trades.csv and the journal."
        )
        mine = [mine[i] for i in keep.tolist()]
    fill_ts = np.array([f.ts for f in mine], dtype=np.int64)
    x_ms = np.union1d(ts[idx], fill_ts) if ts.size else fill_ts
    at = np.clip(np.searchsorted(ts, x_ms, side="right") - 1, 0, max(ts.size - 1, 0))
    price = _sig(close[at]) if ts.size else []
    buys: list[float | None] = [None] * x_ms.size
    sells: list[float | None] = [None] * x_ms.size
    pos = np.searchsorted(x_ms, fill_ts)
    for f, p in zip(mine, pos.tolist(), strict=True):
        (buys if f.side is Side.BUY else sells)[p] = float(f.price)
    return {
        "symbol": line.symbol,
        "x": (x_ms // 1000).tolist(),
        "price": price,
        "buys": buys,
        "sells": sells,
    }, notes


def _trades(trips: Sequence[RoundTrip]) -> tuple[list[list[Any]], str | None]:
    rows = [
        [
            t.strategy_id,
            t.symbol,
            t.side,
            t.entry_ts // 1000,
            t.exit_ts // 1000,
            str(t.qty),
            f"{t.entry_price:.8g}",
            f"{t.exit_price:.8g}",
            round(float(t.net_pnl), 2),
            round(float(t.fees), 2),
        ]
        for t in trips[-MAX_TRADE_ROWS:]
    ]
    note = (
        f"Trades table lists the last {MAX_TRADE_ROWS:,} of {len(trips):,} round trips; "
        "trades.csv has every one."
        if len(trips) > MAX_TRADE_ROWS
        else None
    )
    return rows, note


def write_report(
    path: str | Path,
    *,
    title: str,
    prices: Sequence[PriceLine],
    equity_ts: IntArray,
    equity: FloatArray,
    trips: Sequence[RoundTrip],
    fills: Sequence[Fill],
    summary: Mapping[str, Any],
    benchmark: FloatArray | None = None,
    synthetic: bool = False,
    notes: Sequence[str] = (),
) -> Path:
    """Write the report to ``path`` (or ``path/report.html`` for a directory)
    and return the file written."""
    from bastion.observe.report_page import render_page

    out = Path(path)
    if out.is_dir():
        out = out / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    initial = summary.get("initial_equity")
    initial_equity = float(initial) if isinstance(initial, int | float) else float(equity[0])
    page_notes = list(notes)
    data: dict[str, Any] = {"equity": None, "prices": [], "trades": [], "halts": []}
    if len(equity):
        chart, note = _equity_chart(equity_ts, equity, benchmark, initial_equity)
        data["equity"] = chart
        if note:
            page_notes.append(note)
    for line in prices:
        if len(line.ts):
            chart, more = _price_chart(line, fills, max(1_500, MAX_LINE_POINTS // len(prices)))
            data["prices"].append(chart)
            page_notes.extend(more)
    data["trades"], note = _trades(trips)
    if note:
        page_notes.append(note)
    data["halts"] = [
        {**h, "ts": int(h["ts"]) // 1000, "when": _iso(int(h["ts"]))}
        for h in summary.get("halts", ())
    ]
    vendor = resources.files("bastion.observe") / "vendor" / "uplot"
    page = render_page(
        title=f"{SYNTHETIC_BANNER} — {title}" if synthetic else title,
        summary=summary,
        halts=data["halts"],
        data_json=json.dumps(data, separators=(",", ":"), allow_nan=False),
        notes=page_notes,
        synthetic=synthetic,
        uplot_js=(vendor / "uPlot.iife.min.js").read_text(encoding="utf-8"),
        uplot_css=(vendor / "uPlot.min.css").read_text(encoding="utf-8"),
        report_js=(resources.files("bastion.observe") / "report.js").read_text(encoding="utf-8"),
    )
    out.write_text(page, encoding="utf-8")
    return out
