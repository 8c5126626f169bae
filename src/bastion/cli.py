"""The ``bastion`` command: a thin shell over the engine.

Commands parse arguments, load files and print; the work happens in the
engine. Errors in what the user gave (a bad file, a bad parameter) and the
failures an operator meets (network, refused keys, a purity-guard refusal) end
with a one-line message naming the problem and exit code 2, never a traceback:
``bastion.cli_errors`` maps them in one place for every command, and
``bastion --debug`` shows the traceback as well.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from bastion.cli_errors import BastionGroup, one_line, set_debug
from bastion.cli_help import TidyGroup
from bastion.cli_output import console, print_live_summary, print_summary
from bastion.config import BotConfig, ConfigError, load_config
from bastion.engine.backtest import BacktestResult, run_backtest
from bastion.engine.outputs import write_outputs
from bastion.model import BarSeries

app = typer.Typer(
    name="bastion",
    help="Run an automated trading bot that survives live markets.",
    no_args_is_help=True,
    add_completion=False,
    cls=type("Group", (TidyGroup, BastionGroup), {}),  # tidy help, one-line errors
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"bastion {version('bastion')}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of any failure.")
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug | info | warning | error.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run an automated trading bot that survives live markets."""
    set_debug(debug)
    from bastion.cli_observe import set_log_level

    set_log_level(log_level)


def _fail(message: str) -> typer.Exit:
    """One literal line (no rich markup: "[[strategies]]" is printed as written)."""
    err.print("error:", style="bold red", end=" ", highlight=False)
    err.print(one_line(message), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def status_line(text: str) -> None:
    """A status line from the engine, printed as written (it may quote the exchange)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _parse_params(raw: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--param {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _config_with(
    config: BotConfig, *, cash: str | None, fee_bps: str | None, slippage: str | None
) -> BotConfig:
    try:
        updates: dict[str, Any] = {}
        if cash is not None:
            updates["backtest"] = config.backtest.model_copy(update={"cash": Decimal(cash)})
        venue: dict[str, Any] = {}
        if fee_bps is not None:
            venue["fee_bps"] = Decimal(fee_bps)
        if slippage is not None:
            venue["slippage"] = slippage
        if venue:
            updates["venue"] = config.venue.model_copy(update=venue)
    except InvalidOperation:
        raise _fail(f"--cash {cash!r} / --fee-bps {fee_bps!r}: numbers expected") from None
    merged = config.model_copy(update=updates)
    # Re-validate so overrides obey the same rules as the file.
    from bastion.config import parse_config

    try:
        return parse_config(merged.model_dump(mode="json"), "command line")
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _load_series(
    data: Path | None,
    symbol: str | None,
    synthetic_bars: int,
    seed: int,
    start: int | None = None,
    end: int | None = None,
) -> BarSeries:
    """Bars from a file, from the store (``EXCHANGE:BASE/QUOTE:TF``, ``start <= ts < end``),
    or a synthetic market."""
    if data is None:
        from bastion.data.synthetic import regime_bars

        return regime_bars(synthetic_bars, seed=seed, symbol=symbol or "SYN/USDT")
    from bastion.data.errors import DataError
    from bastion.data.loaders import load_bars
    from bastion.data.store import SeriesKey, default_root, is_store_spec, read_series

    try:
        if is_store_spec(str(data)):
            return read_series(default_root(), SeriesKey.parse(str(data)), start, end)
        return load_bars(data, symbol=symbol)
    except (DataError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None


def _progress_runner(label: str) -> tuple[Progress, Any]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} bars"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(label, total=1)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, update


@app.command()
def backtest(
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Built-in (sma_cross, bollinger, quoter), path/to/file.py:Class or "
            "package.module:Class. \\[default: the config's \\[\\[strategies]], else sma_cross]",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="Bars: a file (Parquet, CSV, Binance kline CSV, freqtrade feather/JSON) "
            "or a folder of them; repeatable or comma-separated. Omit for a synthetic market.",
            show_default=False,
        ),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option(
            help="Symbol of a single --data file, e.g. BTC/USDT.",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First UTC date (YYYY-MM-DD) to trade.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last UTC date (YYYY-MM-DD), inclusive.",
            show_default=False,
        ),
    ] = None,
    timeframe: Annotated[
        str | None,
        typer.Option(
            help="Resample the bars to this interval, e.g. 15m, 1h.",
            show_default=False,
        ),
    ] = None,
    cash: Annotated[
        str | None,
        typer.Option(
            help="Starting cash in the quote currency \\[default: 100000]", show_default=False
        ),
    ] = None,
    fee_bps: Annotated[
        str | None,
        typer.Option(
            "--fee-bps",
            help="Taker (and maker) fee in basis points \\[default: 10]",
            show_default=False,
        ),
    ] = None,
    slippage: Annotated[
        str | None,
        typer.Option(
            help="none | fixed:BPS | volume:SHARE[:IMPACT_BPS] \\[default: none]",
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="Strategy parameter KEY=VALUE (repeatable).", show_default=False
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="bot.toml: strategies, risk, venue, data and backtest tables.", show_default=False
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/backtest"),
    synthetic_bars: Annotated[
        int, typer.Option(help="Bars of synthetic market per symbol when --data is omitted.")
    ] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 7,
    guard: Annotated[
        bool, typer.Option(help="Run the strategy under the purity guard (slow).")
    ] = False,
) -> None:
    """Backtest the bot: one strategy, or every \\[\\[strategies]] entry of --config,
    over one or several symbols.

    Writes summary.json, trades.csv, the journal and report.html to --out.
    """
    from bastion.cli_backtest import backtest_inputs

    try:
        cfg = load_config(config) if config is not None else BotConfig()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    cfg = _config_with(cfg, cash=cash, fee_bps=fee_bps, slippage=slippage)
    try:
        inputs = backtest_inputs(
            cfg,
            config_dir=config.parent if config is not None else None,
            data=data or [],
            symbol=symbol,
            strategy=strategy,
            params=_parse_params(param or []),
            start=start,
            end=end,
            timeframe=timeframe,
            synthetic_bars=synthetic_bars,
            seed=seed,
        )
    except ValueError as exc:  # DataError is one
        raise _fail(str(exc)) from None
    result = _run(inputs.series, inputs.strategies, cfg, out, guard=guard)
    names = ", ".join(str(s.ref) for s in inputs.strategies)
    where = ", ".join(f"{s.symbol} ({s.source})" if s.source else s.symbol for s in inputs.series)
    print_summary(result, f"{names} on {where}")
    for name, path in result.files.items():
        console.print(f"  {name}: {path}")


def _run(
    series: Sequence[BarSeries],
    strats: Sequence[Any],
    cfg: BotConfig,
    out: Path,
    *,
    guard: bool = False,
) -> BacktestResult:
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "journal.sqlite"
    for stale in (journal, out / "journal.sqlite-wal", out / "journal.sqlite-shm"):
        stale.unlink(missing_ok=True)  # a backtest's journal describes one run
    label = " ".join(s.ref.id for s in strats)
    progress, update = _progress_runner(f"{label} {', '.join(s.symbol for s in series)}")
    try:
        with progress:
            result = run_backtest(
                series, strats, cfg, journal_path=journal, progress=update, guard=guard
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    write_outputs(result, out, series)
    return result


@app.command()
def journal(
    path: Annotated[Path, typer.Argument(help="A run folder or a journal.sqlite file.")],
    kind: Annotated[
        list[str] | None, typer.Option(help="Only events of this kind (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many events.")] = None,
) -> None:
    """Print journal events: cycles with intents, risk decisions, order events, fills."""
    from bastion.observe.journal import kind_counts, read_events

    try:
        if kind:
            counts = kind_counts(path)
            unknown = [k for k in kind if k not in counts]
            if unknown:
                listed = ", ".join(f"{k} ({n:,})" for k, n in counts.items()) or "none"
                raise _fail(
                    f"--kind {unknown[0]!r}: no such events in this journal; kinds: {listed}"
                )
        events = read_events(path, kinds=kind, limit=limit)
        for ev in events:
            if as_json:
                sys.stdout.write(json.dumps(ev, separators=(",", ":")) + "\n")
            else:
                rest = {
                    k: v
                    for k, v in ev.items()
                    if k not in ("seq", "ts", "kind", "strategy", "symbol")
                }
                from datetime import UTC, datetime

                when = datetime.fromtimestamp(ev["ts"] / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
                who = " ".join(x for x in (ev.get("strategy"), ev.get("symbol")) if x)
                console.print(
                    f"{ev['seq']:>7} {when} [bold]{escape(ev['kind']):<18}[/] "
                    f"{escape(who)} {escape(str(rest))}",
                    highlight=False,
                    soft_wrap=True,
                )
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    except BrokenPipeError:
        pass


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo"),
    duration: Annotated[float, typer.Option(help="Seconds the live demo runs.")] = 120.0,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Instead: backtest every example strategy.")
    ] = False,
    bars: Annotated[int, typer.Option(help="Bars of synthetic market (--backtest).")] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 7,
    stall: Annotated[
        bool,
        typer.Option(
            help="Stall the primary feed once on purpose, to show a failover and fail-back "
            "(BASTION_DEMO_STALL_S=SECONDS moves it, 0 turns it off)."
        ),
    ] = True,
) -> None:
    """The live demo: an exchange emulator on loopback and the bot trading it through ccxt.

    The market is synthetic, or the recorded Binance stream when ../shared/data
    is present. Risk, execution and reconciliation are all on; warm-up, and a
    failover of BTC/USDT's feed to REST and back, show in the status lines.
    """
    if backtest:
        _demo_backtests(out, bars, seed)
        return
    from bastion.engine.demo import run_demo, stall_from_env

    try:
        chosen = stall_from_env() if stall else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        summary = run_demo(out / "live", duration_s=duration, status=console.print, stall=chosen)
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
    print_live_summary(summary)
    console.print(f"  inspect: bastion journal {out / 'live'} --kind fill")


def _demo_backtests(out: Path, bars: int, seed: int) -> None:
    from bastion.strategy import build_strategy

    cfg = BotConfig()
    series = _load_series(None, "SYN/USDT", bars, seed)
    console.print(
        f"[yellow]SYNTHETIC market[/] ({len(series):,} one-minute bars, seed {seed}): "
        "trend, range, high-volatility and crash regimes. Not a real market."
    )
    demos: list[tuple[str, dict[str, str]]] = [
        ("sma_cross", {"fast": "20", "slow": "50", "qty": "0.1"}),
        ("bollinger", {"period": "20", "k": "2", "qty": "0.1"}),
        ("quoter", {"spread_bps": "20", "qty": "0.05", "max_inventory": "0.2"}),
    ]
    for name, params in demos:
        strat = build_strategy(name, [series.symbol], params)
        result = _run([series], [strat], cfg, out / name)
        print_summary(result, f"{strat.ref} on {series.symbol}")
        console.print(f"  report: {result.files.get('report')}\n")


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="bot.toml: strategies, exchange, risk.")],
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="State and journal folder (default: data_dir in the config)."),
    ] = None,
    force_reason: Annotated[
        str | None,
        typer.Option(
            help="Trade a version the version gate refuses (too little shadow time); "
            "journaled and alerted with this reason."
        ),
    ] = None,
) -> None:
    """Run the bot, paper or live, with the same cycle as the backtest.

    SIGTERM or Ctrl-C stops it cleanly: the cycle under way finishes, working
    orders are handled as ``[service] on_exit`` says, the run is journaled as
    ended and the summary printed."""
    import asyncio

    from bastion.engine.errors import Interrupted
    from bastion.engine.live import run_bot
    from bastion.engine.memory import tune_allocator

    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise _fail(f"--duration {duration}: expected a positive number of seconds")
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    tune_allocator()  # this process runs for months (engine.memory); before its threads
    try:
        summary = asyncio.run(
            run_bot(
                cfg,
                duration_s=duration,
                status=status_line,
                data_dir=data_dir,
                force_reason=force_reason,
            )
        )
    except Interrupted as exc:
        err.print(one_line(str(exc)), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    print_live_summary(summary)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="REST and WebSocket port (0: any free one).")] = 8765,
    admin_port: Annotated[int, typer.Option(help="Admin port for faults and balances.")] = 8766,
    source: Annotated[
        str,
        typer.Option(help="synthetic | none | FILE[,FILE] (Parquet bars or recorded .jsonl.gz)."),
    ] = "synthetic",
    speed: Annotated[
        float, typer.Option(help="Replay speed for recorded data (0: flat out).")
    ] = 1.0,
    scenario: Annotated[Path | None, typer.Option(help="Fault scenario file (TOML/JSON).")] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    rate: Annotated[
        float, typer.Option(help="Synthetic market: price steps (trades) per second.")
    ] = 10.0,
    history: Annotated[
        str, typer.Option(help="FILE[,FILE] of bars served as past klines (at their own times).")
    ] = "",
    history_bars: Annotated[
        int, typer.Option(help="Synthetic market: minutes of past klines, for warm-up.")
    ] = 1440,
) -> None:
    """Serve a Binance-compatible exchange on loopback, backed by the simulated venue."""
    from bastion.emulator.faults import FaultError
    from bastion.emulator.run import run_emulator

    try:
        run_emulator(
            port=port, admin_port=admin_port, source=source, speed=speed, scenario=scenario,
            host=host, seed=seed, rate=rate, history=history, history_bars=history_bars,
        )  # fmt: skip
    except (ValueError, FaultError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _register_others() -> None:
    """Commands that live with their own layer: halt/resume/risk report, and the
    kill switch (sentinel, kill), which must not depend on this module."""
    from bastion.cli_account import register as register_account
    from bastion.cli_archive import register as register_archive
    from bastion.cli_data import register as register_data
    from bastion.cli_explain import register as register_explain
    from bastion.cli_observe import register as register_observe
    from bastion.cli_promote import register as register_promote
    from bastion.cli_replay import register as register_replay
    from bastion.cli_research import register as register_research
    from bastion.cli_risk import register as register_risk
    from bastion.cli_shadow import register as register_shadow
    from bastion.cli_strategy import register as register_strategy
    from bastion.killswitch.cli import register as register_killswitch

    register_risk(app)
    register_account(app)
    register_data(app)
    register_killswitch(app)
    register_observe(app)
    register_strategy(app)
    register_promote(app)
    register_archive(app)
    register_research(app)
    register_explain(app)
    register_shadow(app)
    register_replay(app)


_register_others()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
