"""A backtest report: one self-contained HTML file that opens offline.

The page holds a summary table and one plotly figure with three stacked
panels sharing a UTC time axis: price with buy/sell markers, equity, and
drawdown with the maximum marked. plotly.js is embedded inline (about
4.5 MB), so the file needs no network; the data is kept small by drawing at
most ~20,000 points per line (min and max of each bucket, so a spike or a
crash survives downsampling) and at most ~5,000 fill markers. Whatever was
thinned is said on the page.

Timestamps go to plotly as epoch milliseconds on ``date`` axes, which
plotly.js renders in UTC and which serialise as compact binary arrays.
plotly is imported inside ``write_report`` so that importing
``bastion.observe`` stays cheap.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bastion.model.orders import Fill, Side
from bastion.observe.stats import FloatArray, IntArray, drawdown_series
from bastion.observe.trades import RoundTrip

MAX_LINE_POINTS = 20_000
MAX_FILL_MARKERS = 5_000
SYNTHETIC_BANNER = "SYNTHETIC DATA — not a real market"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERCENT_KEYS = frozenset(
    {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
)
_BUY_COLOR = "#1a9850"
_SELL_COLOR = "#d73027"


def downsample_minmax(
    x: FloatArray, y: FloatArray, max_points: int = MAX_LINE_POINTS
) -> tuple[FloatArray, FloatArray]:
    """At most ``max_points`` of (x, y), keeping each bucket's min and max in order.

    A plain stride would step over a one-bar spike; keeping both extremes of
    every bucket draws the same envelope as the full series. The first and
    last points are always kept.
    """
    n = y.size
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)
    rows = -(-n // size)
    padded = np.pad(y, (0, rows * size - n), mode="edge").reshape(rows, size)
    offsets = np.arange(rows) * size
    lo = padded.argmin(axis=1) + offsets
    hi = padded.argmax(axis=1) + offsets
    idx = np.concatenate((lo, hi, np.array([0, n - 1])))
    idx = np.unique(np.minimum(idx, n - 1))
    return x[idx], y[idx]


@dataclass(frozen=True, slots=True)
class _Markers:
    """Fill markers for one side: times, prices, quantities (as floats for plotting)."""

    ts: FloatArray
    price: FloatArray
    qty: FloatArray


def _fill_markers(fills: Sequence[Fill], symbol: str) -> tuple[dict[Side, _Markers], int, int]:
    """Markers per side (evenly sampled when too many), shown count and total count."""
    mine = [f for f in fills if f.symbol == symbol]
    total = len(mine)
    if total > MAX_FILL_MARKERS:
        keep = np.unique(np.linspace(0, total - 1, MAX_FILL_MARKERS).astype(np.int64))
        mine = [mine[i] for i in keep]
    out: dict[Side, _Markers] = {}
    for side in (Side.BUY, Side.SELL):
        chosen = [f for f in mine if f.side is side]
        out[side] = _Markers(
            ts=np.array([f.ts for f in chosen], dtype=np.float64),
            price=np.array([float(f.price) for f in chosen], dtype=np.float64),
            qty=np.array([float(f.qty) for f in chosen], dtype=np.float64),
        )
    return out, len(mine), total


def _trip_markers(trips: Sequence[RoundTrip], symbol: str) -> tuple[dict[Side, _Markers], int]:
    """Entry/exit markers from round trips, for when the fills are not at hand."""
    points: dict[Side, list[tuple[int, float, float]]] = {Side.BUY: [], Side.SELL: []}
    for t in trips:
        if t.symbol != symbol:
            continue
        entry_side, exit_side = (Side.BUY, Side.SELL) if t.side == "long" else (Side.SELL, Side.BUY)
        points[entry_side].append((t.entry_ts, float(t.entry_price), float(t.qty)))
        points[exit_side].append((t.exit_ts, float(t.exit_price), float(t.qty)))
    out: dict[Side, _Markers] = {}
    shown = 0
    for side, pts in points.items():
        kept = pts
        if len(pts) > MAX_FILL_MARKERS // 2:
            keep = np.unique(np.linspace(0, len(pts) - 1, MAX_FILL_MARKERS // 2).astype(np.int64))
            kept = [pts[i] for i in keep]
        arr = np.array(kept, dtype=np.float64).reshape(-1, 3)
        out[side] = _Markers(ts=arr[:, 0], price=arr[:, 1], qty=arr[:, 2])
        shown += len(kept)
    return out, shown


def _iso(ts_ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ts_ms)).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_value(key: str, value: object) -> str:
    """How one summary value reads in the table (fractions as percentages, ts as UTC)."""
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
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


def _summary_table(summary: Mapping[str, object]) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_value(str(k), v))}</td></tr>"
        for k, v in summary.items()
    )
    return f'<table class="summary">\n{rows}\n</table>'


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 0.5rem 0; }
.banner { background: #b2182b; color: #fff; font-weight: 700; font-size: 1.2rem;
          padding: 0.6rem 1rem; margin-bottom: 1rem; border-radius: 4px; letter-spacing: 0.03em; }
.meta { color: #555; margin-bottom: 1rem; }
.layout { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.figure { flex: 1 1 900px; min-width: 600px; }
table.summary { border-collapse: collapse; font-size: 0.85rem; }
table.summary th { text-align: left; font-weight: 600; padding: 2px 12px 2px 0; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; padding: 2px 0; }
table.summary tr:nth-child(even) { background: #f4f4f4; }
ul.notes { color: #555; font-size: 0.85rem; }
"""


def _build_figure(
    *,
    title: str,
    symbol: str,
    price_ts: IntArray,
    price_close: FloatArray,
    equity_ts: IntArray,
    equity: FloatArray,
    markers: dict[Side, _Markers],
    initial_equity: float | None,
    notes: list[str],
) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        row_heights=[0.5, 0.28, 0.22],
        subplot_titles=(f"{symbol} price", "Equity", "Drawdown"),
    )

    px = np.asarray(price_ts, dtype=np.float64)
    py = np.asarray(price_close, dtype=np.float64)
    sx, sy = downsample_minmax(px, py)
    if sy.size < py.size:
        notes.append(
            f"Price line drawn from {sy.size:,} of {py.size:,} points "
            "(minimum and maximum of each time bucket)."
        )
    fig.add_trace(
        go.Scatter(x=sx, y=sy, name="price", mode="lines", line={"width": 1, "color": "#4d4d4d"}),
        row=1,
        col=1,
    )
    for side, symbol_shape, color in (
        (Side.BUY, "triangle-up", _BUY_COLOR),
        (Side.SELL, "triangle-down", _SELL_COLOR),
    ):
        m = markers[side]
        fig.add_trace(
            go.Scatter(
                x=m.ts,
                y=m.price,
                customdata=m.qty,
                name="buys" if side is Side.BUY else "sells",
                mode="markers",
                marker={"symbol": symbol_shape, "size": 9, "color": color},
                hovertemplate=f"{side.value} %{{customdata:.8g}} @ %{{y:.8g}}<br>%{{x}}"
                "<extra></extra>",
            ),
            row=1,
            col=1,
        )

    ex = np.asarray(equity_ts, dtype=np.float64)
    ey = np.asarray(equity, dtype=np.float64)
    qx, qy = downsample_minmax(ex, ey)
    if qy.size < ey.size:
        notes.append(f"Equity line drawn from {qy.size:,} of {ey.size:,} points (min/max).")
    fig.add_trace(
        go.Scatter(
            x=qx, y=qy, name="equity", mode="lines", line={"width": 1.5, "color": "#2166ac"}
        ),
        row=2,
        col=1,
    )
    if initial_equity is not None:
        fig.add_hline(
            y=initial_equity, row=2, col=1, line={"dash": "dot", "width": 1, "color": "#999"}
        )

    dd = drawdown_series(ey, initial_equity)
    dx, dy = downsample_minmax(ex, -100.0 * dd)
    fig.add_trace(
        go.Scatter(
            x=dx,
            y=dy,
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"width": 1, "color": _SELL_COLOR},
            fillcolor="rgba(215, 48, 39, 0.3)",
            hovertemplate="%{y:.2f}%<br>%{x}<extra></extra>",
        ),
        row=3,
        col=1,
    )
    if dd.size and float(dd.max()) > 0:
        trough = int(np.argmax(dd))
        fig.add_annotation(
            x=float(ex[trough]),
            y=-100.0 * float(dd[trough]),
            text=f"max drawdown {float(dd[trough]):.2%}",
            showarrow=True,
            arrowhead=2,
            ax=40,
            ay=20,
            row=3,
            col=1,
        )

    fig.update_xaxes(type="date", hoverformat="%Y-%m-%d %H:%M:%S")
    fig.update_xaxes(title_text="time (UTC)", row=3, col=1)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="equity", row=2, col=1)
    fig.update_yaxes(title_text="drawdown %", ticksuffix="%", row=3, col=1)
    fig.update_layout(
        title={"text": html.escape(title)},
        template="plotly_white",
        height=950,
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.03, "xanchor": "right", "x": 1},
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
    )
    return fig


def write_report(
    path: str | Path,
    *,
    title: str,
    symbol: str,
    price_ts: IntArray,
    price_close: FloatArray,
    equity_ts: IntArray,
    equity: FloatArray,
    trips: Sequence[RoundTrip],
    fills: Sequence[Fill] | None,
    summary: Mapping[str, object],
    synthetic: bool,
    notes: Sequence[str] = (),
) -> Path:
    """Write the report to ``path`` (or ``path/report.html`` for a directory).

    Markers come from ``fills`` for ``symbol``; without fills they come from
    the round trips' entries and exits. The drawdown panel starts its peak at
    ``summary["initial_equity"]`` when present, matching ``summarize``.
    Returns the file written.
    """
    import plotly.io as pio

    out = Path(path)
    if out.is_dir():
        out = out / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)

    page_notes: list[str] = []
    if fills is not None:
        markers, shown, total = _fill_markers(fills, symbol)
        if shown < total:
            page_notes.append(
                f"Price chart marks {shown:,} of {total:,} fills (evenly spaced sample); "
                "every fill is in the journal."
            )
    else:
        markers, shown = _trip_markers(trips, symbol)
        page_notes.append("Markers show round-trip entries and exits (fills not supplied).")

    initial = summary.get("initial_equity")
    initial_equity = float(initial) if isinstance(initial, int | float) else None
    full_title = f"{SYNTHETIC_BANNER} — {title}" if synthetic else title
    fig = _build_figure(
        title=full_title,
        symbol=symbol,
        price_ts=price_ts,
        price_close=price_close,
        equity_ts=equity_ts,
        equity=equity,
        markers=markers,
        initial_equity=initial_equity,
        notes=page_notes,
    )
    figure_html = pio.to_html(
        fig,
        include_plotlyjs=True,
        full_html=False,
        div_id="bastion-report-figure",
        config={"displaylogo": False, "responsive": True},
    )

    ts = np.asarray(price_ts)
    period = f"{_iso(int(ts[0]))} → {_iso(int(ts[-1]))}" if ts.size else "no price data"
    banner = f'<div class="banner">{html.escape(SYNTHETIC_BANNER)}</div>' if synthetic else ""
    all_notes = [*notes, *page_notes]
    notes_html = (
        '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in all_notes) + "</ul>"
        if all_notes
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(full_title)}</title>
<style>{_CSS}</style>
</head>
<body>
{banner}
<h1>{html.escape(full_title)}</h1>
<div class="meta">{html.escape(symbol)} · {html.escape(period)} · {len(trips):,} round trips</div>
<div class="layout">
<div class="figure">{figure_html}</div>
<div>{_summary_table(summary)}{notes_html}</div>
</div>
</body>
</html>
"""
    out.write_text(page, encoding="utf-8")
    return out
