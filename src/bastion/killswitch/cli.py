"""``bastion sentinel`` and ``bastion kill``.

``register(app)`` adds both to the ``bastion`` command; ``python -m
bastion.killswitch`` runs them without the rest of the CLI (and so without
importing the engine), which is how they are started when the bot's own
package is in doubt.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.config import BotConfig, ConfigError, load_config
from bastion.state.folder import NotABotFolder, is_bot_folder, require_bot_folder

ConfigOpt = Annotated[Path, typer.Option("--config", help="The bot's TOML config.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The bot's data folder (default: data_dir in the config)."),
]


def register(app: typer.Typer) -> None:
    """Add ``sentinel`` and ``kill`` to the ``bastion`` command."""
    app.command("sentinel")(sentinel_cmd)
    app.command("kill")(kill_cmd)


def _fail(message: str) -> typer.Exit:
    """One plain line: the kill switch cannot use the CLI's error table (it must
    not import the engine), so it says its own failures the same way."""
    typer.echo("error: " + " ".join(str(message).split()), err=True)
    return typer.Exit(code=2)


def _load(config: Path, data_dir: Path | None) -> tuple[BotConfig, Path]:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    return cfg, data_dir or Path(cfg.data_dir)


def _bot_folder(config: Path, data_dir: Path | None, folder: Path) -> None:
    """A kill writes its flag where the bot reads it, or refuses.

    A folder that does not exist yet is allowed (a bot that never started can
    still be flattened on the exchange, and will start halted); one that exists
    but is not a bot's is a wrong path, and a flag there would halt nothing."""
    if folder.exists() and not is_bot_folder(folder):
        # A flag or latch written where no bot reads it halts nothing.
        where = "--data-dir" if data_dir is not None else f"data_dir in {config}"
        try:
            require_bot_folder(folder, where)
        except NotABotFolder as exc:
            raise _fail(str(exc)) from None


def sentinel_cmd(config: ConfigOpt, data_dir: DataDirOpt = None) -> None:
    """Run the kill switch's sentinel: HTTP kill button, status, heartbeat watchdog."""
    from bastion.killswitch.sentinel import SentinelError, run_sentinel

    cfg, folder = _load(config, data_dir)
    try:
        run_sentinel(cfg, folder, status=typer.echo)
    except SentinelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        pass


def kill_cmd(
    config: ConfigOpt,
    data_dir: DataDirOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded with your user name.")] = (
        "operator kill from a shell"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Halt the bot, cancel every order, close every position, check flat.

    Exit code 0 when flat, 1 when something remains (the report says what)."""
    from bastion.killswitch.audit import AuditLog
    from bastion.killswitch.kill import KillSwitch
    from bastion.killswitch.sentinel import audit_path

    cfg, folder = _load(config, data_dir)
    _bot_folder(config, data_dir, folder)
    by = f"cli {_operator()}"
    audit = AuditLog(audit_path(cfg, folder))
    audit.append("kill_attempt", remote="cli", outcome="accepted", by=by, reason=reason)
    ks = KillSwitch(cfg, folder)
    try:
        report = ks.kill(reason=f"KILL: {reason}", by=by)
    finally:
        ks.close()
    audit.append("kill_done", remote="cli", ok=report["ok"], elapsed_s=report["elapsed_s"])
    if report.get("keys_refused") and not as_json:
        env = report["key_env"]
        raise _fail(
            f"the exchange refused the API key: check {env}_API_KEY and {env}_API_SECRET in "
            f"the environment. The bot is halted (kill flag set), but nothing was cancelled "
            f"or closed ({report['keys_refused']})"
        )
    if as_json:
        typer.echo(json.dumps(report, indent=1, default=str))
    else:
        typer.echo(_summary(report))
    raise typer.Exit(code=0 if report["ok"] else 1)


def _summary(report: dict[str, Any]) -> str:
    lines = [
        f"{'FLAT' if report['ok'] else 'NOT FLAT'} after {report['elapsed_s']} s "
        f"({report['rounds']} rounds, scope {report['scope']})",
        f"bot {report.get('bot')} on {report.get('exchange')} ({report.get('mode')}): "
        f"acted on {report.get('acts_on')}",
        f"halt: {report['halt']}",
        f"cancelled: {len(report['cancelled'])}  closing orders: {len(report['closes'])}",
    ]
    for key in ("dust", "refused", "remaining_positions", "remaining_orders", "unresolved"):
        if report.get(key):
            lines.append(f"{key.replace('_', ' ')}: {report[key]}")
    if report.get("errors"):
        lines.append(f"errors (last {len(report['errors'])}): {report['errors']}")
    return "\n".join(lines)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
