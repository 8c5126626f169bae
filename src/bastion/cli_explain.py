"""``bastion explain DIR CLIENT_ID``: one order's whole decision and fate.

The story comes from ``bastion.observe.explain`` (the journal alone); this
module prints it: rich panels and tables for a person, ``--json`` for a
program.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from bastion.cli_errors import report
from bastion.observe.explain import Explanation, NoSuchOrder, explain

console = Console(highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_cmd)


def explain_cmd(
    path: Annotated[Path, typer.Argument(help="The bot's data folder (or a backtest's).")],
    client_id: Annotated[str, typer.Argument(help="The order's client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The explanation as JSON.")] = False,
) -> None:
    """Why an order exists and what became of it: the market view and account it
    was decided on, the strategy (id, version, parameters), the intent, the plan,
    each risk rule's verdict, every venue event and fill, the reconciliations."""
    try:
        ex = explain(path, client_id)
    except NoSuchOrder as exc:
        report(str(exc))
        raise typer.Exit(code=2) from None
    if as_json:
        sys.stdout.write(json.dumps(ex.as_dict(), indent=2, default=str) + "\n")
        return
    render(ex, console)


def _when(ts: int | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _kv(rows: dict[str, Any], title: str) -> Table:
    t = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in rows.items():
        t.add_row(escape(str(k)), escape(str(v)))
    return t


def _view_tables(view: dict[str, dict[str, Any]]) -> list[Table]:
    """Each symbol's view, every value exactly as the strategy read it."""
    out = []
    names = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}
    for sym, sv in view.items():
        rows: dict[str, Any] = {"bar open": _when(sv.get("ts"))}
        rows |= {names.get(k, k): v for k, v in sv.items() if k not in ("ts", "ind")}
        rows |= dict((sv.get("ind") or {}).items())
        out.append(_kv(rows, f"market view: {sym}"))
    return out


def _account_table(acct: dict[str, Any], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("what", "asset / symbol", "amount", "detail"):
        t.add_column(col)
    for asset, (free, locked) in acct.get("balances", {}).items():
        t.add_row("balance", escape(asset), free, f"locked {locked}")
    for sym, (qty, avg) in acct.get("positions", {}).items():
        t.add_row("position", escape(sym), qty, f"avg {avg}")
    for sym, q in (acct.get("floors") or {}).items():
        t.add_row("baseline", escape(sym), q, "not the bot's")
    for o in acct.get("open_orders", []):
        t.add_row(
            "open order",
            escape(o["symbol"]),
            o["qty"],
            escape(f"{o['client_id']} {o['side']} {o['type']} @ {o['price']}"),
        )
    return t


def _events_table(events: list[dict[str, Any]], title: str, fields: tuple[str, ...]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("seq", "time", "kind", *fields):
        t.add_column(col)
    for e in events:
        t.add_row(
            str(e["seq"]),
            _when(e["ts"]),
            escape(e["kind"]),
            *(escape(str(e.get(f, ""))) for f in fields),
        )
    return t


def render(ex: Explanation, out: Console) -> None:
    mode = " [bold yellow](SHADOW: never sent)[/]" if ex.mode == "shadow" else ""
    out.rule(f"order {escape(ex.client_id)}{mode}")
    parts: list[Any] = []
    if ex.run is not None:
        parts.append(
            _kv(
                {
                    "run": ex.run.get("run_id"),
                    "boot": ex.run.get("boot"),
                    "started": _when(ex.run["ts"]),
                },
                "run",
            )
        )
    if ex.strategy is not None:
        s = ex.strategy
        parts.append(
            _kv(
                {
                    "id": s["id"],
                    "version": s["version"],
                    "name": s["name"],
                    "mode": s.get("mode", "live"),
                    "symbols": ", ".join(s["symbols"]),
                    "params": s["params"],
                },
                "strategy",
            )
        )
    if parts:
        out.print(Panel(Group(*parts), title="who decided"))
    if ex.context is not None:
        ctx = ex.context
        head = {"cycle": ctx.get("cycle"), "decided at": _when(ctx["ts"])}
        head |= {k: ctx[k] for k in ("latch", "blocked", "size_scale") if k in ctx}
        body: list[Any] = [_kv(head, "decision"), *_view_tables(ctx.get("view", {}))]
        if ex.account is not None:
            body.append(_account_table(ex.account, "account (from the exchange)"))
        out.print(Panel(Group(*body), title="what it saw"))
    else:
        out.print("[yellow]no decision context in the journal for this order[/]")
    decided: list[Any] = []
    if ex.intent is not None:
        decided.append(_kv(ex.intent, "intent"))
    if ex.planned is not None:
        cid, side, qty, typ, price = ex.planned
        decided.append(
            _kv(
                {"client id": cid, "side": side, "qty": qty, "type": typ, "price": price},
                "planned order",
            )
        )
    if ex.protection is not None:
        p = ex.protection
        keys = ("reason", "qty", "stop", "limit", "take_profit", "legs")
        decided.append(
            _kv(
                {k: p[k] for k in keys if p.get(k) is not None},
                "protection (not risk-reviewed: it only sells the position)",
            )
        )
    if ex.decision is not None:
        d = ex.decision
        keys = ("verdict", "reason", "rule", "qty", "approved_qty", "details")
        decided.append(_kv({k: d[k] for k in keys if d.get(k) is not None}, "risk"))
    if ex.verdicts:
        t = Table(title="each rule's verdict (review order)", title_justify="left")
        t.add_column("rule")
        t.add_column("verdict")
        for rule, verdict in ex.verdicts:
            style = "red" if verdict.startswith("reject") else ""
            style = "dim" if verdict == "not asked" else style
            t.add_row(escape(rule), f"[{style}]{escape(verdict)}[/]" if style else escape(verdict))
        decided.append(t)
    if decided:
        out.print(Panel(Group(*decided), title="what it decided"))
    happened: list[Any] = [
        _events_table(ex.events, "venue events", ("status", "reason", "qty", "price", "error")),
        _events_table(ex.fills, "fills", ("trade_id", "side", "qty", "price", "fee")),
    ]
    if ex.reconciliations:
        happened.append(
            _events_table(
                ex.reconciliations,
                "reconciliations around it",
                ("asset", "delta", "venue", "expected"),
            )
        )
    else:
        happened.append("[dim]reconciliations around it: none (the account agreed)[/]")
    if ex.account_after is not None:
        happened.append(_account_table(ex.account_after, "account after (next reconciled read)"))
    out.print(Panel(Group(*happened), title="what happened"))
