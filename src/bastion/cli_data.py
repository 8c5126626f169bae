"""``bastion download`` and ``bastion data list|show``: the market-data store
from the shell.

``download`` fetches history through ccxt into the store (``--store``, default
``$BASTION_STORE`` or ``./market-data``) and prints what it added, the gaps
the exchange has in the span (reported, never filled), and its pace. Run it
again after an interruption: it resumes after the newest stored bar.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli_output import console
from bastion.clock import wall_ms
from bastion.data import catalog
from bastion.data.errors import DataError
from bastion.data.store import SeriesKey, default_root

data_app = typer.Typer(
    help="The local market-data store: list and show series.", no_args_is_help=True
)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store folder (default $BASTION_STORE or ./market-data)."),
]


def register(app: typer.Typer) -> None:
    app.command("download")(download_cmd)
    app.add_typer(data_app, name="data")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)  # literal: no markup in what the user gave
    return typer.Exit(code=2)


def parse_when(text: str, option: str) -> int:
    """A date or ISO-8601 time (naive means UTC) as epoch ms."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: expected a date like 2025-05-20 or 2025-05-20T12:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _key(spec: str) -> SeriesKey:
    try:
        return SeriesKey.parse(spec)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def download_cmd(
    series: Annotated[
        list[str], typer.Argument(help="EXCHANGE:BASE/QUOTE:TIMEFRAME, e.g. binance:BTC/USDT:1m")
    ],
    start: Annotated[str, typer.Option("--from", help="First bar (UTC date or time).")],
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive (default: now).")] = None,
    store: StoreOpt = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Point the exchange elsewhere (the emulator: http://127.0.0.1:8765)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Bars per request.", min=1, max=1000)] = 1000,
    flush_every: Annotated[
        int, typer.Option(help="Pages between writes to the store.", min=1)
    ] = 10,
) -> None:
    """Download bar history into the store (paginated, rate-limited, resumable)."""
    from bastion.data.download import download
    from bastion.venues.ccxt.client import make_exchange

    keys = [_key(s) for s in series]
    try:
        lo = parse_when(start, "--from")
        hi = parse_when(end, "--to") if end else wall_ms()
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if hi <= lo:
        raise _fail(f"--to {end!r} is not after --from {start!r}")
    root = store or default_root()

    async def run_all() -> None:
        for key in keys:
            try:
                ex = make_exchange(key.exchange, base_url=base_url, rate_limit=True)
            except ValueError as exc:
                raise _fail(str(exc)) from None
            try:
                rep = await download(
                    ex, root, key, lo, hi, now=wall_ms(), limit=limit, flush_every=flush_every
                )
            finally:
                await ex.close()
            resumed = f", resumed at {iso(rep.resumed_from)}" if rep.resumed_from else ""
            console.print(
                f"{key}: +{rep.added:,} bars ({rep.rows:,} stored){resumed}; {rep.pages} requests, "
                f"{rep.bars_per_s:,.0f} bars/s, {rep.limiter_share:.0%} of the time waiting on the "
                "rate limiter",
                highlight=False,
                soft_wrap=True,
            )
            for g in rep.gaps:
                console.print(
                    f"  gap: {g['missing_bars']:,} bars missing after {iso(g['after_ts'])} "
                    "(the exchange has none; not filled)",
                    highlight=False,
                    soft_wrap=True,
                )

    import ccxt

    try:
        asyncio.run(run_all())
    except (ccxt.BaseError, DataError, OSError) as exc:
        raise _fail(
            f"download stopped: {type(exc).__name__}: {str(exc)[:200]} (run it again to resume)"
        ) from None
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None


@data_app.command("list")
def list_cmd(store: StoreOpt = None) -> None:
    """Every stored series: span, rows, gaps."""
    root = store or default_root()
    try:
        entries = catalog.load(root)
    except DataError as exc:
        raise _fail(str(exc)) from None
    if not entries:
        console.print(f"no series stored under {root}", highlight=False, soft_wrap=True)
        return
    for e in entries.values():
        console.print(
            f"{e.key:<28} {iso(e.first_ts)} → {iso(e.last_ts)}  {e.rows:>9,} rows  "
            f"{len(e.gaps)} gaps ({e.missing_bars:,} bars missing)",
            highlight=False,
            soft_wrap=True,
        )


@data_app.command("show")
def show_cmd(
    series: Annotated[str, typer.Argument(help="EXCHANGE:BASE/QUOTE:TIMEFRAME")],
    store: StoreOpt = None,
) -> None:
    """One series: span, rows and every gap."""
    key = _key(series)
    root = store or default_root()
    try:
        entry = catalog.describe(root, key)
    except DataError as exc:
        raise _fail(str(exc)) from None
    if entry is None:
        raise _fail(
            f"no bars stored for {key} under {root} (run: bastion download {key} --from ...)"
        )
    console.print(
        f"{key}: {iso(entry.first_ts)} → {iso(entry.last_ts)}, {entry.rows:,} rows",
        highlight=False,
        soft_wrap=True,
    )
    if not entry.gaps:
        console.print("  no gaps", highlight=False, soft_wrap=True)
    for g in entry.gaps:
        console.print(
            f"  gap: {g['missing_bars']:,} bars missing after {iso(g['after_ts'])}, "
            f"next bar {iso(g['next_ts'])}",
            highlight=False,
            soft_wrap=True,
        )
