"""The report's HTML: tables rendered here (so they read without JavaScript
and a test can compare them with summary.json), charts and the trades table
drawn in the browser from the embedded JSON."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

# (summary key, label a person reads). Every one is shown through format_value.
PANEL: tuple[tuple[str, str], ...] = (
    ("final_equity", "Final equity"),
    ("total_return", "Total return"),
    ("buy_and_hold_return", "Buy and hold"),
    ("max_drawdown", "Max drawdown"),
    ("sharpe", "Sharpe (daily)"),
    ("sortino", "Sortino (daily)"),
    ("volatility", "Volatility (annual)"),
    ("cagr", "CAGR"),
    ("round_trips", "Round trips"),
    ("win_rate", "Win rate"),
    ("profit_factor", "Profit factor"),
    ("fees", "Fees paid"),
    ("exposure", "Time in market"),
    ("max_drawdown_duration_s", "Longest drawdown"),
    ("orders", "Orders"),
    ("fills", "Fills"),
    ("approved", "Approved by risk"),
    ("resized_total", "Resized by risk"),
    ("not_approved", "Not approved by risk"),
    ("halt_state", "Halt latch at the end"),
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem 0; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
.banner { color: #fff; font-weight: 700; font-size: 1.1rem; padding: .6rem 1rem;
          margin-bottom: 1rem; border-radius: 4px; }
.banner.synthetic { background: #b2182b; } .banner.halted { background: #7f3b08; }
.meta, .basis, ul.notes { color: #555; font-size: .85rem; }
.panel { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .5rem; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: .45rem .6rem; }
.card .label { font-size: .75rem; color: #666; } .card .value { font-size: 1.15rem;
  font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { padding: 2px 10px; text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
tr:nth-child(even) td { background: #f5f5f5; } thead th { border-bottom: 1px solid #999; }
td.neg { color: #b2182b; } td.pos { color: #1a7837; }
.chart { margin: .5rem 0 1rem; } .pager { margin: .4rem 0; font-size: .85rem; }
"""


def _fmt(key: str, value: object) -> str:
    from bastion.observe.report import format_value

    return format_value(key, value)


def _esc(text: object) -> str:
    return html.escape(str(text))


def _panel(summary: Mapping[str, Any]) -> str:
    cards = "".join(
        f'<div class="card" data-key="{key}"><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(_fmt(key, summary.get(key)))}</div></div>'
        for key, label in PANEL
        if key in summary
    )
    return f'<div class="panel" id="summary-panel">{cards}</div>'


def _signed(key: str, value: object) -> str:
    cls = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        cls = ' class="neg"' if value < 0 else ' class="pos"' if value > 0 else ""
    return f"<td{cls}>{_esc(_fmt(key, value))}</td>"


def _breakdown(title: str, rows: Mapping[str, Mapping[str, Any]], table_id: str) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{_esc(name)}</td><td>{_esc(_fmt('round_trips', r['round_trips']))}</td>"
        f"<td>{_esc(_fmt('win_rate', r['win_rate']))}</td>{_signed('net_pnl', r['net_pnl'])}"
        f"<td>{_esc(_fmt('fees', r['fees']))}</td><td>{_esc(_fmt('fills', r['fills']))}</td></tr>"
        for name, r in rows.items()
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>{_esc(title)}</th><th>round trips</th>'
        "<th>win rate</th><th>net PnL (closed)</th><th>fees</th><th>fills</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _monthly(returns: Mapping[str, float]) -> str:
    if not returns:
        return '<p id="monthly-returns">No monthly returns.</p>'
    years = sorted({k[:4] for k in returns})
    head = "".join(f"<th>{m}</th>" for m in _MONTHS)
    rows = []
    for y in years:
        cells = "".join(
            _signed("total_return", returns[f"{y}-{m:02d}"])
            if f"{y}-{m:02d}" in returns
            else "<td></td>"
            for m in range(1, 13)
        )
        rows.append(f"<tr><td>{y}</td>{cells}</tr>")
    return (
        f'<table id="monthly-returns"><thead><tr><th>year</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _counts(table_id: str, title: str, counts: Mapping[str, int]) -> str:
    if not counts:
        return f'<p id="{table_id}">{_esc(title)}: none.</p>'
    body = "".join(f"<tr><td>{_esc(k)}</td><td>{v:,}</td></tr>" for k, v in counts.items())
    return (
        f'<table id="{table_id}"><thead><tr><th>{_esc(title)}</th><th>orders</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


_REGIME_COLUMNS = (
    ("bars", "bars"),
    ("share", "share of run"),
    ("return", "return"),
    ("market_return", "market"),
    ("sharpe", "Sharpe (daily)"),
    ("max_drawdown", "max drawdown"),
    ("round_trips", "trips entered"),
    ("win_rate", "win rate"),
    ("net_pnl", "net PnL (closed)"),
)
_REGIME_PERCENT = frozenset({"share", "return", "market_return", "max_drawdown", "win_rate"})


def _regime_cell(key: str, value: object) -> str:
    shown = "total_return" if key in _REGIME_PERCENT else key  # a fraction, as a percentage
    if key in ("return", "market_return", "net_pnl"):
        return _signed(shown, value)
    return f"<td>{_esc(_fmt(shown, value))}</td>"


def regime_tables(regimes: Mapping[str, Any] | None) -> str:
    """The run by market regime (rules in docs/research.md): one table per
    grouping, every figure from summary.json's ``regimes``."""
    if not regimes:
        return '<p id="regimes">No regime breakdown.</p>'
    head = "".join(f"<th>{_esc(label)}</th>" for _key, label in _REGIME_COLUMNS)
    tables = []
    for group, title in (
        ("by_trend", "trend"),
        ("by_volatility", "volatility"),
        ("by_regime", "trend/volatility"),
    ):
        rows = regimes.get(group) or {}
        body = "".join(
            f"<tr><td>{_esc(name)}</td>"
            + "".join(_regime_cell(key, r.get(key)) for key, _label in _REGIME_COLUMNS)
            + "</tr>"
            for name, r in rows.items()
        )
        tables.append(
            f'<table id="regimes-{group.removeprefix("by_")}" style="margin-bottom:.8rem">'
            f"<thead><tr><th>{_esc(title)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    rules = regimes.get("rules") or {}
    basis = (
        f"Trend: the market's return over {rules.get('trend_window_ms', 0) / 86_400_000:g} days "
        f"beyond ±{rules.get('trend_threshold', 0):.2%}; volatility: realised volatility over "
        f"{rules.get('vol_window_ms', 0) / 86_400_000:g} days above its "
        f"{rules.get('vol_quantile', 0):.0%} quantile "
        f"({_esc(_fmt('volatility', regimes.get('vol_threshold')))} annualised) is high."
    )
    return f'<div id="regimes">{"".join(tables)}<p class="basis">{basis}</p></div>'


def _halts(halts: Sequence[Mapping[str, Any]]) -> str:
    if not halts:
        return "<p>The halt latch never moved: no halt, no flatten.</p>"
    body = "".join(
        f"<tr><td>{_esc(h['when'])}</td><td>{_esc(h['from'])} → {_esc(h['state'])}</td>"
        f"<td>{_esc(h['reason'])}</td><td>{_esc(h['by'])}</td></tr>"
        for h in halts
    )
    return (
        '<table id="halts"><thead><tr><th>when</th><th>latch</th><th>reason</th><th>by</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def _banners(
    summary: Mapping[str, Any], halts: Sequence[Mapping[str, Any]], synthetic: bool
) -> str:
    from bastion.observe.report import SYNTHETIC_BANNER

    out = []
    if synthetic:
        out.append(f'<div class="banner synthetic">{_esc(SYNTHETIC_BANNER)}</div>')
    state = summary.get("halt_state")
    if state not in (None, "ACTIVE", "active"):
        why = summary.get("halt_reason") or (halts[-1]["reason"] if halts else "unknown")
        when = f" at {halts[-1]['when']}" if halts else ""
        out.append(
            f'<div class="banner halted" id="halted-banner">The run ended {_esc(state)}'
            f"{_esc(when)}: {_esc(why)}. New exposure stopped there; see the halts below.</div>"
        )
    return "".join(out)


def render_page(
    *,
    title: str,
    summary: Mapping[str, Any],
    halts: Sequence[Mapping[str, Any]],
    data_json: str,
    notes: Sequence[str],
    synthetic: bool,
    uplot_js: str,
    uplot_css: str,
    report_js: str,
) -> str:
    from bastion.observe.report import format_value

    start, end = summary.get("start_ts"), summary.get("end_ts")
    period = (
        f"{format_value('start_ts', start)} → {format_value('end_ts', end)}"
        if start is not None
        else "no data"
    )
    symbols = ", ".join(summary.get("symbols", ()))
    strategies = ", ".join(f"{k} {v}" for k, v in summary.get("strategies", {}).items())
    notes_html = "".join(f"<li>{_esc(n)}</li>" for n in notes)
    safe_json = data_json.replace("</", "<\\/")
    basis = summary.get("ratio_basis") or "n/a"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{uplot_css}</style>
<style>{_CSS}</style>
</head>
<body>
{_banners(summary, halts, synthetic)}
<h1>{_esc(title)}</h1>
<div class="meta">{_esc(strategies)} · {_esc(symbols)} · {_esc(period)}</div>
<h2>Summary</h2>
{_panel(summary)}
<p class="basis" id="ratio-basis">Sharpe, Sortino and volatility: {_esc(basis)}.
Buy and hold: the starting cash in equal parts in every symbol at the first open, no fees.
"Not approved" counts orders risk rejected; resized orders were sent smaller
and are counted apart.</p>
<h2>Equity against buy and hold</h2>
<div class="chart" id="chart-equity"></div>
<h2>Drawdown</h2>
<div class="chart" id="chart-drawdown"></div>
<h2>Halts and flattens</h2>
{_halts(halts)}
<h2>Price and fills</h2>
<div id="chart-prices"></div>
<h2>Per strategy</h2>
{_breakdown("strategy", summary.get("by_strategy") or {}, "by-strategy")}
<h2>Per symbol</h2>
{_breakdown("symbol", summary.get("by_symbol") or {}, "by-symbol")}
<h2>By market regime</h2>
{regime_tables(summary.get("regimes"))}
<h2>Monthly returns</h2>
{_monthly(summary.get("monthly_returns") or {})}
<h2>Risk verdicts</h2>
{_counts("risk-rejected", "rejected (not approved), by reason", summary.get("rejected") or {})}
{_counts("risk-resized", "resized, by reason", summary.get("resized") or {})}
<h2>Trades</h2>
<div class="pager" id="trades-pager"></div>
<table id="trades"><thead><tr><th>strategy</th><th>symbol</th><th>side</th><th>entry (UTC)</th>
<th>exit (UTC)</th><th>duration</th><th>quantity</th><th>entry price</th><th>exit price</th>
<th>net PnL</th><th>fees</th></tr></thead><tbody></tbody></table>
<ul class="notes">{notes_html}</ul>
<script type="application/json" id="report-data">{safe_json}</script>
<script>{uplot_js}</script>
<script>{report_js}</script>
</body>
</html>
"""
