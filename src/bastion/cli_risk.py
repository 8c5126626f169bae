"""Operator commands for the risk layer: ``bastion halt``, ``bastion resume`` and
``bastion risk report``, plus the wiring that makes the halt latch persistent.

``--config bot.toml`` names the bot (its ``data_dir``); ``--state DIR`` names its
data folder directly. Either way the folder must be a bot's (a session has run
there): a latch written anywhere else halts nothing, and saying "HALTED" then
would be a lie while the bot keeps trading.
A halt or resume is written to the state store (the running bot picks it up,
a restarted bot starts from it) and journaled with who (the OS user) and why.
This is the shell: it reads the wall clock and the OS user; the cores do not.

``register(app)`` adds them to the ``bastion`` command::

    app.command("halt")(halt_cmd)
    app.command("resume")(resume_cmd)
    app.add_typer(risk_app, name="risk")
"""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.clock import wall_ms
from bastion.engine.latch import change_latch
from bastion.model.timeframe import parse_interval
from bastion.observe.journal import find_journal, read_events
from bastion.risk.latch import HaltState
from bastion.risk.report import KINDS, render, summarize
from bastion.state.folder import require_bot_folder
from bastion.state.killflag import clear_flag

JOURNAL_FILE = "journal.sqlite"
Sink = Callable[[str, int, dict[str, Any]], None]

risk_app = typer.Typer(help="Risk layer: rejection reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``halt``, ``resume`` and ``risk report`` to the ``bastion`` command."""
    app.command("halt")(halt_cmd)
    app.command("resume")(resume_cmd)
    app.add_typer(risk_app, name="risk")


# ------------------------------------------------------------------ wiring
def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ---------------------------------------------------------------- commands
StateOpt = Annotated[
    Path | None,
    typer.Option("--state", help="The bot's data folder (latch.sqlite, journal.sqlite)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="The bot's TOML config: its data_dir is the folder."),
]


def bot_folder(config: Path | None, state: Path | None) -> Path:
    """The data folder of the bot named by ``--config`` or ``--state``, checked."""
    if state is not None:
        return require_bot_folder(state, "--state")
    if config is None:
        raise typer.BadParameter(
            "name the bot: --config bot.toml (or --state DATA_DIR)", param_hint="--config"
        )
    from bastion.config import load_config

    return require_bot_folder(Path(load_config(config).data_dir), f"data_dir in {config}")


ReasonOpt = Annotated[str, typer.Option("--reason", help="Why: recorded with your user name.")]


def halt_cmd(
    reason: ReasonOpt,
    config: ConfigOpt = None,
    state: StateOpt = None,
    reducing: Annotated[
        bool, typer.Option("--reducing", help="Only allow exposure-cutting orders.")
    ] = False,
) -> None:
    """Halt the bot: only cancels and closing orders pass (REDUCING with --reducing)."""
    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    folder = bot_folder(config, state)
    target = HaltState.REDUCING if reducing else HaltState.HALTED
    who = _operator()
    previous = change_latch(folder, target, reason, who, wall_ms())
    typer.echo(f"{previous} -> {target.value} by {who}: {reason}")


def resume_cmd(reason: ReasonOpt, config: ConfigOpt = None, state: StateOpt = None) -> None:
    """Resume the bot (ACTIVE): new exposure is allowed again."""
    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    folder = bot_folder(config, state)
    who = _operator()
    previous = change_latch(folder, HaltState.ACTIVE, reason, who, wall_ms())
    if clear_flag(folder):
        typer.echo("kill flag removed")
    typer.echo(f"{previous} -> ACTIVE by {who}: {reason}")


def parse_since(text: str) -> int | None:
    """``7d`` → ms; ``all`` → None."""
    if text.strip().lower() == "all":
        return None
    try:
        return parse_interval(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected a span like 30m, 12h, 7d, 2w, or 'all'"
        ) from None


def _newest_ts(journal: Path) -> int | None:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT MAX(ts) FROM events").fetchone()
    finally:
        db.close()
    return int(row[0]) if row and row[0] is not None else None


@risk_app.command("report")
def report(
    folder: Annotated[Path, typer.Argument(help="A run or data folder, or its journal file.")],
    since: Annotated[
        str,
        typer.Option(help="Span before the newest journal event (30m, 12h, 7d, 'all')."),
    ] = "7d",
    examples: Annotated[int, typer.Option(help="Examples shown per reason.")] = 3,
) -> None:
    """Rejections and resizes by reason, strategy and symbol, with examples."""
    try:
        journal = find_journal(folder)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="FOLDER") from None
    span = parse_since(since)
    newest = _newest_ts(journal)
    since_ts = newest - span if span is not None and newest is not None else None
    events = read_events(journal, kinds=KINDS, since_ts=since_ts)
    typer.echo(render(summarize(events, examples=examples)))
