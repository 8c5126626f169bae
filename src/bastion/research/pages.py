"""The research pages: a sweep's heatmaps and a walk-forward's report, each one
self-contained HTML file that opens offline.

No front-end library is needed: a heatmap is a table whose cells are coloured
here (red below zero, green above, by the size of the value against the
largest one on the map), the stitched equity an inline SVG line. Every figure
on a page is also in the JSON or Parquet file written beside it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.research.table import Heat

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .4rem 0 1rem; }
th, td { padding: 3px 9px; text-align: right; font-variant-numeric: tabular-nums;
         border: 1px solid #e4e4e4; }
th:first-child, td:first-child { text-align: left; }
td.fail { background: #555; color: #fff; } td.when { white-space: nowrap; }
.meta, .note { color: #555; font-size: .85rem; }
.warn { background: #fff3cd; border: 1px solid #e0c36a; padding: .5rem .8rem; margin: .4rem 0; }
.ok { background: #e8f5e9; border: 1px solid #9ccc9c; padding: .5rem .8rem; }
"""
_PERCENT = frozenset(
    {"total_return", "max_drawdown", "win_rate", "exposure", "cagr", "share", "return",
     "market_return"}
)  # fmt: skip


def _esc(text: object) -> str:
    return html.escape(str(text))


def fmt(key: str, value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    if key in _PERCENT:
        return f"{value:.2%}"
    if isinstance(value, int) or key in ("round_trips", "fills", "bars"):
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.2f}"


def day(ts_ms: object) -> str:
    """A UTC date, with the time only when it is not midnight."""
    if not isinstance(ts_ms, int):
        return "n/a"
    when = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return when.strftime("%Y-%m-%d" if ts_ms % 86_400_000 == 0 else "%Y-%m-%d %H:%M")


def _colour(value: float | None, scale: float) -> str:
    if value is None or scale <= 0:
        return ""
    k = min(1.0, abs(value) / scale)
    light = round(96 - 46 * k)
    hue = 120 if value > 0 else 0
    return f' style="background:hsl({hue},55%,{light}%)"'


def _heat_table(h: Heat, metric: str) -> str:
    finite = [abs(v) for row in h.values for v in row if v is not None]
    scale = max(finite, default=0.0)
    head = "".join(f"<th>{_esc(h.x)}={_esc(x)}</th>" for x in h.xs)
    body = []
    for yv, vrow, erow in zip(h.ys, h.values, h.errors, strict=True):
        cells = "".join(
            f'<td class="fail" title="{_esc(e)}">failed</td>'
            if e
            else f"<td{_colour(v, scale)}>{_esc(fmt(metric, v))}</td>"
            for v, e in zip(vrow, erow, strict=True)
        )
        name = f"{h.y}={yv}" if h.y is not None else metric
        body.append(f"<tr><th>{_esc(name)}</th>{cells}</tr>")
    fixed = " ".join(f"{k}={v}" for k, v in h.fixed.items())
    caption = f"<p class='meta'>{_esc(fixed)}</p>" if fixed else ""
    return (
        f'{caption}<table class="heatmap"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1>{body}</body></html>\n"
    )


def _point(point: Mapping[str, Any] | None) -> str:
    return "—" if not point else " ".join(f"{k}={v}" for k, v in point.items())


def sweep_page(
    *,
    title: str,
    metric: str,
    heats: Sequence[Heat],
    best: Sequence[Mapping[str, Any]],
    failed: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
) -> str:
    shown = ("final_equity", "total_return", "sharpe", "max_drawdown", "win_rate", "round_trips")
    rows = "".join(
        f"<tr><td>{_esc(_point(r['point']))}</td>"
        + "".join(f"<td>{_esc(fmt(k, r['summary'].get(k)))}</td>" for k in shown)
        + "</tr>"
        for r in best
    )
    fails = "".join(
        f"<tr><td>{_esc(_point(r['point']))}</td><td>{_esc(r.get('error'))}</td></tr>"
        for r in failed
    )
    body = (
        f"<p class='meta'>{_esc(meta.get('what', ''))} · "
        f"{_esc(meta.get('tasks', ''))} tasks on {_esc(meta.get('workers', '?'))} worker(s) · "
        f"{len(failed)} failed</p>"
        f"<h2>{_esc(metric)} by parameters</h2>"
        + "".join(_heat_table(h, metric) for h in heats)
        + f"<h2>Best by {_esc(metric)}</h2><table id='best'><thead><tr><th>parameters</th>"
        + "".join(f"<th>{_esc(k)}</th>" for k in shown)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
        + "<h2>Failed tasks</h2>"
        + (
            f"<table id='failed'><thead><tr><th>parameters</th><th>error</th></tr></thead>"
            f"<tbody>{fails}</tbody></table>"
            if failed
            else "<p id='failed'>None.</p>"
        )
    )
    return _page(title, body)


def equity_svg(
    ts: npt.NDArray[np.int64],
    eq: npt.NDArray[np.float64],
    width: int = 1100,
    starts: Sequence[tuple[int, int]] = (),
) -> str:
    """The stitched equity as an SVG polyline (at most ~2 points per pixel), a
    dashed line where each test window starts (``starts``: fold, ts)."""
    if eq.size < 2:
        return "<p>No out-of-sample equity.</p>"
    step = max(1, eq.size // (2 * width))
    x = ts[::step].astype(np.float64)
    y = eq[::step]
    height = 260
    lo, hi = float(y.min()), float(y.max())
    span_y = hi - lo or 1.0
    span_x = float(x[-1] - x[0]) or 1.0
    pts = " ".join(
        f"{(xi - x[0]) / span_x * width:.1f},{height - (yi - lo) / span_y * height:.1f}"
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True)
    )
    marks = "".join(
        f'<line x1="{(t - x[0]) / span_x * width:.1f}" x2="{(t - x[0]) / span_x * width:.1f}" '
        f'y1="0" y2="{height}" stroke="#bbb" stroke-dasharray="4 3"/>'
        f'<text x="{(t - x[0]) / span_x * width + 3:.1f}" y="{height + 8}" font-size="10" '
        f'fill="#777">fold {i}</text>'
        for i, t in starts
    )
    return (
        f'<svg id="oos-equity" width="{width}" height="{height + 20}" '
        f'viewBox="0 -10 {width} {height + 20}" role="img">{marks}'
        f'<polyline fill="none" stroke="#2166ac" stroke-width="1.5" points="{pts}"/>'
        f'<text x="4" y="4" font-size="11">{hi:,.2f}</text>'
        f'<text x="4" y="{height}" font-size="11">{lo:,.2f}</text></svg>'
    )


def regimes_table(regimes: Mapping[str, Any] | None, table_id: str) -> str:
    if not regimes:
        return ""
    cols = ("bars", "share", "return", "market_return", "sharpe", "max_drawdown", "win_rate")
    rows = []
    for group in ("by_trend", "by_volatility"):
        for name, r in (regimes.get(group) or {}).items():
            cells = "".join(f"<td>{_esc(fmt(k, r.get(k)))}</td>" for k in cols)
            rows.append(f"<tr><td>{_esc(name)}</td>{cells}</tr>")
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    return (
        f"<table id='{table_id}'><thead><tr><th>regime</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def walkforward_page(
    *,
    title: str,
    report: Mapping[str, Any],
    oos_ts: npt.NDArray[np.int64],
    oos_equity: npt.NDArray[np.float64],
) -> str:
    metric = report["metric"]
    warnings = report.get("warnings") or []
    warn_html = (
        "".join(f"<div class='warn' data-code='{_esc(w['code'])}'>{_esc(w['code'])}: "
                f"{_esc(w['text'])}</div>" for w in warnings)
        if warnings
        else "<div class='ok'>No warning: out of sample held up against in sample.</div>"
    )  # fmt: skip
    names = {"total_return": "return", "sharpe": "Sharpe", "max_drawdown": "max DD",
             "win_rate": "win rate", "round_trips": "trips"}  # fmt: skip
    shown = tuple(names)
    head = "".join(f"<th>IS {names[k]}</th><th>OOS {names[k]}</th>" for k in shown)
    rows = []
    for f in report["folds"]:
        ins, oos = f.get("in_sample") or {}, f.get("out_of_sample") or {}
        cells = "".join(
            f"<td>{_esc(fmt(k, ins.get(k)))}</td><td>{_esc(fmt(k, oos.get(k)))}</td>" for k in shown
        )
        rows.append(
            f"<tr><td>{f['index']}</td><td class='when'>{_esc(day(f['train'][0]))} → "
            f"{_esc(day(f['train'][1]))}</td><td class='when'>{_esc(day(f['test'][0]))} → "
            f"{_esc(day(f['test'][1]))}</td><td>{_esc(_point(f.get('chosen')))}</td>{cells}"
            f"<td>{_esc(fmt('ratio', f.get('ratio')))}</td></tr>"
        )
    stab = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_esc(', '.join(s['values']))}</td><td>{s['distinct']}</td>"
        f"<td>{_esc(s['most_common'])}</td><td>{s['changes']}</td></tr>"
        for k, s in (report.get("stability") or {}).items()
    )
    st = report.get("stitched") or {}
    summary = " · ".join(
        f"{k}: {fmt(k, st.get(k))}"
        for k in ("final_equity", "total_return", "sharpe", "max_drawdown", "win_rate")
    )
    starts = [(f["index"], f["test"][0]) for f in report["folds"] if f.get("out_of_sample")]
    fold_regimes = "".join(
        f"<h3>Fold {f['index']} (test {_esc(day(f['test'][0]))})</h3>"
        + regimes_table(f.get("regimes"), f"fold-{f['index']}-regimes")
        for f in report["folds"]
        if f.get("regimes")
    )
    body = (
        f"<p class='meta'>train {report['train_ms'] / 86_400_000:g} days, test "
        f"{report['test_ms'] / 86_400_000:g} days, "
        f"{'anchored' if report['anchored'] else 'rolling'}; parameters chosen by {metric}; "
        f"degradation ratio (mean OOS / mean IS {metric}): "
        f"{_esc(fmt('ratio', report.get('degradation_ratio')))}</p>"
        f"<h2>Warnings</h2>{warn_html}"
        f"<h2>In sample against out of sample, per fold</h2><table id='folds'><thead><tr>"
        f"<th>fold</th><th>train (UTC)</th><th>test (UTC)</th><th>chosen</th>{head}"
        f"<th>OOS/IS {_esc(metric)}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h2>Stitched out-of-sample equity</h2><p class='meta'>{_esc(summary)}</p>"
        f"{equity_svg(oos_ts, oos_equity, starts=starts)}"
        f"<h2>Parameter stability</h2><table id='stability'><thead><tr><th>parameter</th>"
        f"<th>chosen per fold</th><th>distinct</th><th>most common</th><th>changes</th></tr>"
        f"</thead><tbody>{stab}</tbody></table>"
        f"<h2>Out of sample by market regime</h2>"
        f"{regimes_table(st.get('regimes'), 'stitched-regimes')}{fold_regimes}"
        "<p class='note'>Regime rules: docs/research.md. Each test window starts flat with its "
        "indicators warmed from the bars before it.</p>"
    )
    return _page(title, body)
