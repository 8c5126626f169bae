"""``bastion shadow report DIR``: each shadow version beside the version that traded.

The comparison comes from ``bastion.observe.shadow`` (the journal alone); this
prints it as tables, or ``--json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.observe.shadow import Comparison, evidence, report

shadow_app = typer.Typer(help="Shadow mode: how new versions compare.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(shadow_app, name="shadow")


@shadow_app.command("report")
def report_cmd(
    path: Annotated[Path, typer.Argument(help="The bot's data folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="The comparison as JSON.")] = False,
    orders: Annotated[int, typer.Option(help="Orders it would have placed: show this many.")] = 10,
) -> None:
    """Shadow against live: intents per hour, divergence, simulated PnL, rejections
    by reason and the orders the shadow would have placed."""
    found = report(path)
    if as_json:
        out = []
        for c in found:
            sid, _, version = c.shadow.partition("@")
            ev = evidence(path, sid, version)
            out.append(c.as_dict() | {"evidence_hours": ev.hours})
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return
    if not found:
        console.print("no shadow version has run in this folder")
        return
    for c in found:
        render(c, path, orders)


def render(c: Comparison, path: Path, orders: int) -> None:
    sid, _, version = c.shadow.partition("@")
    ev = evidence(path, sid, version)
    console.rule(f"shadow {escape(c.shadow)} against {escape(c.live or 'no trading version')}")
    t = Table(show_header=True)
    for col in ("", "shadow", "live"):
        t.add_column(col)
    t.add_row("hours observed", f"{c.hours:.2f}", "")
    t.add_row("hours since the last halt / critical alert", f"{ev.hours:.2f}", "")
    t.add_row("intents", str(c.intents), str(c.live_intents))
    t.add_row("intents per hour", f"{c.intents_per_hour:.1f}", f"{c.live_intents_per_hour:.1f}")
    t.add_row("cycles compared / divergent", f"{c.cycles_compared} / {c.divergent_cycles}", "")
    t.add_row("PnL (simulated book / account)", str(c.pnl), str(c.live_pnl))
    t.add_row("orders it would have placed / fills", f"{len(c.would_place)} / {c.fills}", "")
    rej = ", ".join(f"{k} {n}" for k, n in sorted(c.rejections.items())) or "none"
    live_rej = ", ".join(f"{k} {n}" for k, n in sorted(c.live_rejections.items())) or "none"
    t.add_row("rejections by reason", escape(rej), escape(live_rej))
    console.print(t)
    if c.divergences:
        d = Table(title="where they differ (first cycles)", title_justify="left")
        for col in ("session", "cycle", "shadow intents", "live intents"):
            d.add_column(col)
        for x in c.divergences:
            d.add_row(str(x["session"]), str(x["cycle"]), escape(str(x["shadow"])),
                      escape(str(x["live"])))  # fmt: skip
        console.print(d)
    if c.would_place:
        o = Table(title="orders it would have placed", title_justify="left")
        for col in ("client id", "symbol", "side", "qty", "type", "price"):
            o.add_column(col)
        for p in c.would_place[:orders]:
            o.add_row(*(escape(str(p.get(k))) for k in ("client_id", "symbol", "side", "qty",
                                                         "type", "price")))  # fmt: skip
        console.print(o)
