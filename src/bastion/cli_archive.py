"""``bastion archive``, ``bastion archive verify``, ``bastion prune`` and
``bastion fills export``: the seven-year records of a bot's data folder.

The shell only: the work is in ``bastion.retention``. ``archive DIR --out
OUT`` writes a dated archive (Parquet tables with zstd, recorded data,
configs, strategy sources, a manifest with every file's sha256); ``verify``
names every missing or changed file and exits 1 when there is one; ``prune``
deletes recorded market data only where retention allows, all or nothing.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bastion.clock import wall_ms
from bastion.config import BotConfig, load_config
from bastion.retention.archive import StrategySource, write_archive
from bastion.retention.fills import fill_rows, write_fills_csv, zone
from bastion.retention.prune import apply_prune, plan_prune
from bastion.retention.verify import verify_archive
from bastion.state.folder import NotABotFolder

EXIT_FAILED = 1


class _CreateByDefault(TyperGroup):
    """``bastion archive DIR ...`` is ``bastion archive create DIR ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


archive_app = typer.Typer(
    cls=_CreateByDefault,
    help="Archive a bot's data folder (DIR --out OUT), or verify an archive (verify PATH).",
    no_args_is_help=True,
)
fills_app = typer.Typer(help="The bot's fills, for tax records.", no_args_is_help=True)

ConfigsOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", help="The bot's TOML config (repeatable): archived, with the "
                 "sources of its strategies."),
]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(archive_app, name="archive")
    app.command("prune")(prune_cmd)
    app.add_typer(fills_app, name="fills")


def _records_folder(folder: Path) -> Path:
    if not (folder / "journal.sqlite").is_file() and not (folder / "state.sqlite").is_file():
        raise NotABotFolder(
            f"{folder}: not a bot's data folder (no journal.sqlite, no state.sqlite)"
        )
    return folder


@archive_app.command("create")
def archive_cmd(
    folder: Annotated[Path, typer.Argument(help="The bot's data folder.")],
    out: Annotated[Path, typer.Option("--out", help="Where the dated archive folder goes.")],
    config: ConfigsOpt = None,
) -> None:
    """Archive the journal, state, configs, strategy sources and recorded data."""
    _records_folder(folder)
    configs = list(config or [])
    loaded = [load_config(c) for c in configs]
    name = loaded[0].name if loaded else folder.resolve().name
    sources = [s for cfg in loaded for s in _strategy_sources(cfg)]
    path = write_archive(
        folder, out, now_ms=wall_ms(), bot=name, configs=configs, strategies=sources
    )
    checked = verify_archive(path)
    typer.echo(f"archived {folder} -> {path} ({checked.files} files)")
    if not checked.ok:  # written a moment ago: a problem here is the disk's
        for problem in checked.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(code=EXIT_FAILED)


def _strategy_sources(cfg: BotConfig) -> list[StrategySource]:
    from bastion.strategy import build_strategy

    out: list[StrategySource] = []
    for entry in cfg.strategies:
        strat = build_strategy(entry.name, entry.symbols, entry.params, entry.id)
        module = sys.modules.get(type(strat).__module__)
        file = getattr(module, "__file__", None)
        if file:
            out.append(
                StrategySource(
                    id=strat.ref.id,
                    version=strat.ref.version,
                    params=repr(strat.params),
                    path=Path(file),
                )
            )
    return out


@archive_app.command("verify")
def verify_cmd(path: Annotated[Path, typer.Argument(help="An archive folder.")]) -> None:
    """Check every file of an archive against its manifest; name what is wrong."""
    checked = verify_archive(path)
    if checked.ok:
        typer.echo(f"ok: {path}: {checked.files} files match the manifest")
        return
    typer.echo(f"FAILED: {path}: {len(checked.problems)} problem(s)")
    for problem in checked.problems:
        typer.echo(f"  - {problem}")
    raise typer.Exit(code=EXIT_FAILED)


def prune_cmd(
    folder: Annotated[Path, typer.Argument(help="The bot's data folder.")],
    before: Annotated[
        str, typer.Option("--before", help="Delete recorded data of UTC days before YYYY-MM-DD.")
    ],
    archive: Annotated[
        list[Path] | None,
        typer.Option("--archive", help="An archive holding the data (repeatable; verified)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="The bot's TOML config: \\[retention] years.")
    ] = None,
    years: Annotated[
        int | None, typer.Option("--years", help="Retention in years \\[default: 7].")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, delete nothing.")] = False,
) -> None:
    """Delete recorded market data older than retention, or held by a verified archive.

    Refuses (and deletes nothing) when any file asked for is younger than the
    retention period and in no verified archive. The journal and state stores
    are never pruned."""
    _records_folder(folder)
    try:
        cut = date.fromisoformat(before)
    except ValueError:
        raise typer.BadParameter(
            f"{before!r}: expected YYYY-MM-DD", param_hint="--before"
        ) from None
    keep = years
    if keep is None:
        keep = (load_config(config) if config else BotConfig()).retention.years
    if keep < 1:
        raise typer.BadParameter(f"{keep}: at least 1 year", param_hint="--years")
    plan = plan_prune(folder, cut, now_ms=wall_ms(), years=keep, archives=archive or [])
    for problem in plan.archive_problems:
        typer.echo(f"warning: {problem}", err=True)
    if not plan.ok:
        typer.echo(f"prune refused: nothing deleted; {len(plan.refused)} file(s) must be kept:")
        for line in plan.refused:
            typer.echo(f"  - {line}")
        raise typer.Exit(code=EXIT_FAILED)
    verb = "would delete" if dry_run else "delete"
    for path in plan.delete:
        typer.echo(f"{verb} {path} ({plan.why[path]})")
    done = len(plan.delete) if dry_run else apply_prune(plan)
    typer.echo(f"{'would delete' if dry_run else 'deleted'} {done} file(s)")


@fills_app.command("export")
def fills_export_cmd(
    folder: Annotated[Path, typer.Argument(help="The bot's data folder.")],
    out: Annotated[Path, typer.Option("--out", help="The CSV file ('-': standard output).")],
    tz: Annotated[str, typer.Option("--tz", help="IANA zone of the local time column.")] = "UTC",
    start: Annotated[
        str | None, typer.Option("--from", help="First UTC day (YYYY-MM-DD).", show_default=False)
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last UTC day, inclusive.", show_default=False)
    ] = None,
) -> None:
    """Write the bot's fills as CSV: UTC and local time, symbol, side, quantity,
    price, fee and fee asset, quote value, order id, client id, strategy."""
    local = zone(tz)
    rows = fill_rows(folder, local, since_ms=_day_ms(start, "--from"),
                     until_ms=_day_ms(end, "--to", next_day=True))  # fmt: skip
    if str(out) == "-":
        with contextlib.suppress(BrokenPipeError):  # `| head` has read enough
            write_fills_csv(rows, sys.stdout)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        n = write_fills_csv(rows, fh)
    tmp.replace(out)
    typer.echo(f"{n} fill(s) -> {out} (local time: {tz})")


def _day_ms(text: str | None, option: str, *, next_day: bool = False) -> int | None:
    if text is None:
        return None
    try:
        day = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected YYYY-MM-DD", param_hint=option) from None
    return int(day.timestamp() * 1000) + (86_400_000 if next_day else 0)
