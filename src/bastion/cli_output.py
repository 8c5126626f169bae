"""What the ``bastion`` command prints: backtest and live summaries as tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # keep ccxt and the engine out of every command's start-up
    from bastion.engine.backtest import BacktestResult
    from bastion.engine.live import LiveSummary

console = Console()


def print_summary(result: BacktestResult, title: str) -> None:
    s = result.summary
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    if s.get("synthetic"):
        table.add_row("data", "[yellow]SYNTHETIC — not a real market[/]")
    pct = ("total_return", "cagr", "max_drawdown", "win_rate", "exposure")
    for key in (
        "bars",
        "orders",
        "fills",
        "round_trips",
        "final_equity",
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "max_drawdown_duration_s",
        "win_rate",
        "profit_factor",
        "exposure",
        "fees",
        "halt_state",
        "elapsed_s",
        "bars_per_s",
    ):
        value = s.get(key)
        if value is None:
            text = "—"
        elif key in pct and isinstance(value, float):
            text = f"{value:.2%}"
        elif isinstance(value, float):
            text = f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        table.add_row(key, text)
    for label, key in (("risk: not approved", "rejected"), ("risk: resized", "resized")):
        counts = s.get(key) or {}
        if counts:
            table.add_row(label, ", ".join(f"{k}={v}" for k, v in counts.items()))
    if s.get("buy_and_hold_return") is not None:
        table.add_row("buy and hold", f"{s['buy_and_hold_return']:.2%}")
    for label, group in (("by trend", "by_trend"), ("by volatility", "by_volatility")):
        rows = (s.get("regimes") or {}).get(group) or {}
        if rows:  # the run's return over each regime's bars (docs/research.md)
            table.add_row(label, ", ".join(f"{k} {r['return']:.2%}" for k, r in rows.items()))
    console.print(table)
    if s.get("ratio_basis"):
        console.print(f"  sharpe/sortino: {s['ratio_basis']}", highlight=False)


def print_live_summary(summary: LiveSummary) -> None:
    table = Table(title=f"bastion {summary.mode}: summary", show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("cycles", f"{summary.cycles:,}")
    table.add_row("orders / fills", f"{summary.orders:,} / {summary.fills:,}")
    refused = ", ".join(f"{k}={v}" for k, v in summary.rejected.items()) or "none"
    table.add_row("refused by risk", refused)
    for sym, qty in summary.positions.items():
        table.add_row(f"position {sym}", qty)
    start, end = summary.equity_start, summary.equity_end
    table.add_row(
        "equity start → end",
        f"{'unknown' if start is None else f'{start:,.2f}'} → "
        f"{'unknown' if end is None else f'{end:,.2f}'}",
    )
    table.add_row("alerts", str(summary.alerts))
    table.add_row("halt latch", summary.halt_state)
    table.add_row("journal", f"{summary.data_dir}/journal.sqlite")
    console.print(table)
