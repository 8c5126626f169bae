"""``bastion replay --config bot.toml --day YYYY-MM-DD``: re-run a recorded day.

Exit 0 when every decision of the day is identical to the journal's; 1 when
the replay (another version, another parameter) decided differently, with
each difference printed; 2 when the folder cannot be replayed.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli_errors import report
from bastion.config import BotConfig, load_config, parse_config
from bastion.engine.replay import ReplayError, ReplayResult, replay_day

console = Console(highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_cmd)


def with_params(config: BotConfig, params: list[str]) -> BotConfig:
    """``ID.KEY=VALUE`` overrides of the strategies' parameters (ID: the entry's
    id, else its strategy name)."""
    data = config.model_dump(mode="json")
    for item in params:
        target, sep, value = item.partition("=")
        sid, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise typer.BadParameter(f"{item!r}: expected ID.KEY=VALUE", param_hint="--param")
        entries = [e for e in data["strategies"] if (e.get("id") or e["name"]) == sid]
        if not entries:
            raise typer.BadParameter(
                f"{item!r}: no [[strategies]] entry {sid!r}", param_hint="--param"
            )
        for e in entries:
            e["params"][key] = value
    return parse_config(data, "--param")


def replay_cmd(
    config: Annotated[
        Path, typer.Option(help="The bot's config (its strategies, risk, data_dir).")
    ],
    day: Annotated[str, typer.Option(help="The UTC day to replay, YYYY-MM-DD.")],
    data_dir: Annotated[
        Path | None, typer.Option(help="The bot's folder (default: data_dir in the config).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Replay with a parameter changed: ID.KEY=VALUE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The result as JSON.")] = False,
) -> None:
    """Re-run the cycle over a day's recorded market data and journaled accounts,
    and prove every decision (intents, risk verdicts, client ids) identical, or
    show what another version or parameter would have decided differently."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"{day!r}: expected YYYY-MM-DD", param_hint="--day") from None
    cfg = with_params(load_config(config), param or [])
    folder = data_dir or Path(cfg.data_dir)
    try:
        result = replay_day(cfg, folder, when)
    except ReplayError as exc:
        report(str(exc))
        raise typer.Exit(code=2) from None
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, default=str) + "\n")
    else:
        render(result)
    if not result.identical:
        raise typer.Exit(code=1)


def _short(value: Any) -> str:
    return escape(json.dumps(value, default=str))


def render(r: ReplayResult) -> None:
    for sid, (was, now) in r.versions.items():
        same = "same version" if was == now else "ANOTHER VERSION"
        console.print(f"{escape(sid)}: journaled {was}, replayed {now} ({same})")
    console.print(
        f"{r.day}: {r.sessions} session(s), {r.cycles} cycles, {r.intents} intents, "
        f"{r.decisions} risk decisions compared"
    )
    if r.identical:
        console.print("[bold green]identical[/]: every intent, verdict and client id matches")
        return
    t = Table(title=f"{len(r.differences)} difference(s)", title_justify="left")
    for col in ("session", "cycle", "strategy", "what", "journal", "replay"):
        t.add_column(col)
    for d in r.differences:
        t.add_row(str(d.session), str(d.cycle), escape(d.strategy), d.what, _short(d.journal),
                  _short(d.replay))  # fmt: skip
    console.print(t)
