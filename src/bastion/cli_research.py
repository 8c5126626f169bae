"""``bastion walkforward``, ``bastion sweep`` and ``bastion slippage``: research
from the shell. Parse, hand over to ``bastion.research``, print.

Bad input (a config, a data file, a grid, a duration, a scheduler address)
ends with one line naming it and exit code 2, as every command's does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bastion.cli_output import console
from bastion.config import BotConfig, load_config
from bastion.model.timeframe import parse_interval

ConfigOpt = Annotated[
    Path | None, typer.Option(help="bot.toml: strategies, risk, venue and \\[research].")
]
DataOpt = Annotated[
    list[str],
    typer.Option(
        help="Bars: a file, a folder of them, or a store series EXCHANGE:BASE/QUOTE:TF; "
        "repeatable. Workers read it by path."
    ),
]
GridOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="KEY=V1,V2,... or KEY=START:STOP:STEP (repeatable; ID.KEY with several "
        "strategies). Default: \\[research] grid of the config.",
        show_default=False,
    ),
]
StrategyOpt = Annotated[
    str | None,
    typer.Option(help="Instead of the config's \\[\\[strategies]]: a built-in or file.py:Class."),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", help="With --strategy: KEY=VALUE (repeatable).")
]
SymbolOpt = Annotated[str | None, typer.Option(help="Symbol of a single --data file.")]
TimeframeOpt = Annotated[str | None, typer.Option(help="Resample the bars, e.g. 15m, 1h.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First UTC date (YYYY-MM-DD).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last UTC date, inclusive.")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="A Dask scheduler tcp://HOST:PORT (default: local cores).")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(help="Local worker processes (default: one per core; 0: in this process).", min=0),
]
StoreOpt = Annotated[
    Path | None, typer.Option(help="Market-data store (default $BASTION_STORE or ./market-data).")
]


def register(app: typer.Typer) -> None:
    app.command("walkforward")(walkforward_cmd)
    app.command("sweep")(sweep_cmd)
    from bastion.cli_slippage import slippage_cmd

    app.command("slippage")(slippage_cmd)


def fail(message: str) -> typer.Exit:
    from bastion.cli_errors import report

    report(message)
    return typer.Exit(code=2)


def _kv(raw: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def setup(
    config: Path | None,
    data: list[str],
    *,
    symbol: str | None,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    store: Path | None,
) -> tuple[BotConfig, Any, str | None, int | None, int | None]:
    """The config, where the bars are (checked by loading them here once), the
    folder relative strategy files are found in, and the window in ms."""
    from bastion.data.store import default_root, is_store_spec
    from bastion.engine.inputs import expand_sources, parse_when
    from bastion.research.runner import DataSpec, load_data

    cfg = load_config(config) if config is not None else BotConfig()
    if not data:
        raise ValueError("--data is required: workers read the bars by path")
    sources = []
    for spec in expand_sources(data):
        if is_store_spec(spec):
            sources.append(spec)
        elif not Path(spec).expanduser().exists():
            raise ValueError(f"--data {spec}: no such file or folder")
        else:
            sources.append(str(Path(spec).expanduser().resolve()))
    root = (store or default_root()).expanduser().resolve()
    where = DataSpec(
        sources=tuple(sources), store_root=str(root), symbol=symbol, timeframe=timeframe
    )
    load_data(where)  # a bad file is named here, not by every worker
    start_ms = parse_when(start, end=False) if start else None
    end_ms = parse_when(end, end=True) if end else None
    base = str(config.parent.resolve()) if config is not None else str(Path.cwd())
    return cfg, where, base, start_ms, end_ms


def absolute_strategy(strategy: str | None) -> str | None:
    """``--strategy mine.py:Mine`` as an absolute path: a worker may run
    elsewhere, and reads the file by the path it is given."""
    if strategy is None or ":" not in strategy:
        return strategy
    target, _, cls = strategy.rpartition(":")
    if target.endswith(".py") and not Path(target).expanduser().is_absolute():
        return f"{Path(target).expanduser().resolve()}:{cls}"
    return strategy


def grid_of(cfg: BotConfig, raw: list[str] | None) -> dict[str, list[Any]]:
    from bastion.research.grid import parse_grid

    grid: dict[str, list[Any]] = (
        dict(parse_grid(raw)) if raw else {k: list(v) for k, v in cfg.research.grid.items()}
    )
    if not grid:
        raise ValueError("no grid: give --grid KEY=V1,V2 or a [research] grid in the config")
    return grid


def _duration(option: str, text: str) -> int:
    try:
        return parse_interval(text)
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None


def walkforward_cmd(
    data: DataOpt,
    config: ConfigOpt = None,
    train: Annotated[
        str | None, typer.Option(help="Training window, e.g. 60d \\[default: research.train]")
    ] = None,
    test: Annotated[
        str | None, typer.Option(help="Test window, e.g. 15d \\[default: research.test]")
    ] = None,
    anchored: Annotated[
        bool | None,
        typer.Option("--anchored/--rolling", help="Training from the first bar, or rolling."),
    ] = None,
    grid: GridOpt = None,
    metric: Annotated[
        str | None, typer.Option(help="What training maximises \\[default: research.metric]")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="grid (every point) or optuna (--trials sampled points per fold) "
            "\\[default: research.search]"
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="Optuna points per fold \\[default: research.trials]", min=1)
    ] = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    symbol: SymbolOpt = None,
    timeframe: TimeframeOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/walkforward"),
) -> None:
    """Walk-forward: choose parameters on each training window, test them on the next.

    In-sample against out-of-sample per fold, stitched out-of-sample equity,
    parameter stability, regimes and warnings. Writes walkforward.json,
    oos_equity.csv and walkforward.html to --out."""
    from bastion.research.cluster import open_executor
    from bastion.research.output import write_walkforward
    from bastion.research.walkforward import WalkSpec, run_walkforward

    try:
        cfg, spec, base, start_ms, end_ms = setup(
            config, data, symbol=symbol, timeframe=timeframe, start=start, end=end, store=store
        )
        r = cfg.research
        chosen_metric = metric or r.metric
        if chosen_metric not in {"sharpe", "total_return", "sortino", "cagr", "profit_factor",
                                 "win_rate"}:  # fmt: skip
            raise ValueError(
                f"--metric {chosen_metric!r}: expected sharpe, total_return, sortino, cagr, "
                "profit_factor or win_rate"
            )
        how = search or r.search
        if how not in ("grid", "optuna"):
            raise ValueError(f"--search {how!r}: expected grid or optuna")
        walk = WalkSpec(
            config=cfg,
            data=spec,
            grid=grid_of(cfg, grid),
            train_ms=_duration("--train", train or r.train),
            test_ms=_duration("--test", test or r.test),
            anchored=r.anchored if anchored is None else anchored,
            metric=chosen_metric,
            search=how,
            trials=trials or r.trials,
            seed=cfg.backtest.seed,
            strategy=absolute_strategy(strategy),
            params=_kv(param),
            base_dir=base,
            start_ms=start_ms,
            end_ms=end_ms,
        )
        with open_executor(scheduler, workers) as executor:
            result = run_walkforward(walk, executor, status=console.print)
    except ValueError as exc:
        raise fail(str(exc)) from None
    files = write_walkforward(result, out)
    _print_walkforward(result.report)
    for name, path in files.items():
        console.print(f"  {name}: {path}")


def sweep_cmd(
    data: DataOpt,
    config: ConfigOpt = None,
    grid: GridOpt = None,
    metric: Annotated[str, typer.Option(help="Figure the heatmap shows.")] = "sharpe",
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    symbol: SymbolOpt = None,
    timeframe: TimeframeOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/sweep"),
) -> None:
    """Backtest every point of a parameter grid in parallel, locally or on Dask.

    All local cores by default, a Dask cluster with --scheduler. A failed
    point is reported with its parameters; the others finish. Writes
    sweep.parquet (one row per point), sweep.html (heatmaps) and sweep.json
    to --out."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from bastion.research.cluster import open_executor
    from bastion.research.grid import expand
    from bastion.research.sweep import SweepSpec, best_rows, run_sweep, write_sweep
    from bastion.research.table import METRICS

    if metric not in METRICS:
        raise fail(f"--metric {metric!r}: expected one of {', '.join(METRICS)}")
    try:
        cfg, spec, base, start_ms, end_ms = setup(
            config, data, symbol=symbol, timeframe=timeframe, start=start, end=end, store=store
        )
        the_grid = grid_of(cfg, grid)
        sweep = SweepSpec(
            config=cfg,
            data=spec,
            grid=the_grid,
            strategy=absolute_strategy(strategy),
            params=_kv(param),
            base_dir=base,
            start_ms=start_ms,
            end_ms=end_ms,
        )

        progress = Progress(
            TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True,
        )  # fmt: skip
        bar = progress.add_task("sweep", total=len(expand(the_grid)))

        def done(row: dict[str, Any]) -> None:
            progress.advance(bar)
            if row["status"] != "ok":
                console.print(f"[red]failed[/] {escape(str(row['error']))}", highlight=False)

        with open_executor(scheduler, workers) as executor, progress:
            n_workers = executor.workers
            rows = run_sweep(sweep, executor, done)
    except ValueError as exc:
        raise fail(str(exc)) from None
    what = ", ".join(spec.sources)
    files = write_sweep(
        rows,
        the_grid,
        metric,
        out,
        title=f"Sweep: {what}",
        meta={"what": what, "tasks": len(rows), "workers": n_workers},
    )
    table = Table(title=f"best by {metric}", title_justify="left")
    for col in ("parameters", metric, "total_return", "max_drawdown", "round_trips"):
        table.add_column(col, justify="right")
    from bastion.research.pages import fmt

    for r in best_rows(rows, metric, 5):
        s = r["summary"]
        table.add_row(
            " ".join(f"{k}={v}" for k, v in r["point"].items()),
            *(fmt(k, s.get(k)) for k in (metric, "total_return", "max_drawdown", "round_trips")),
        )
    console.print(table)
    failed = sum(r["status"] != "ok" for r in rows)
    console.print(f"{len(rows)} tasks on {n_workers} worker(s), {failed} failed")
    for name, path in files.items():
        console.print(f"  {name}: {path}")


def _print_walkforward(report: dict[str, Any]) -> None:
    from bastion.research.pages import day, fmt

    metric = report["metric"]
    table = Table(title="walk-forward: in sample against out of sample", title_justify="left")
    for col in ("fold", "test (UTC)", "chosen", f"IS {metric}", f"OOS {metric}",
                "OOS return", "OOS/IS"):  # fmt: skip
        table.add_column(col, justify="right")
    for f in report["folds"]:
        ins, oos = f.get("in_sample") or {}, f.get("out_of_sample") or {}
        table.add_row(
            str(f["index"]),
            f"{day(f['test'][0])} → {day(f['test'][1])}",
            " ".join(f"{k}={v}" for k, v in (f.get("chosen") or {}).items()) or "—",
            fmt(metric, ins.get(metric)),
            fmt(metric, oos.get(metric)),
            fmt("total_return", oos.get("total_return")),
            fmt("ratio", f.get("ratio")),
        )
    console.print(table)
    st = report.get("stitched") or {}
    console.print(
        "stitched out of sample: "
        + ", ".join(
            f"{k} {fmt(k, st.get(k))}"
            for k in ("final_equity", "total_return", "sharpe", "max_drawdown")
        )
        + f"; degradation ratio {fmt('ratio', report.get('degradation_ratio'))}",
        highlight=False,
    )
    for label, group in (("by trend", "by_trend"), ("by volatility", "by_volatility")):
        rows = (st.get("regimes") or {}).get(group) or {}
        if rows:  # the stitched out-of-sample return over each regime's bars
            text = ", ".join(f"{k} {fmt('total_return', r['return'])}" for k, r in rows.items())
            console.print(f"  out of sample {label}: {text}", highlight=False)
    for w in report.get("warnings") or []:
        console.print(f"[yellow]warning[/] {w['code']}: {escape(w['text'])}", highlight=False)
