"""``bastion slippage``: calibrate the volume-participation model from a
recorded tape, then show how the backtest's final equity and Sharpe move at
0, 5, 10 and 20 bps and at the calibrated model.

A strategy whose edge survives 20 bps is worth paper trading; one that needs
zero slippage is not. Writes slippage.json to --out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bastion.cli_output import console
from bastion.cli_research import (
    ConfigOpt,
    DataOpt,
    FromOpt,
    ParamOpt,
    StoreOpt,
    StrategyOpt,
    SymbolOpt,
    TimeframeOpt,
    ToOpt,
    WorkersOpt,
    _kv,
    absolute_strategy,
    fail,
    setup,
)

FIXED = ("none", "fixed:5", "fixed:10", "fixed:20")
SENSITIVITY_KEYS = ("final_equity", "total_return", "sharpe", "fills", "max_drawdown", "halt_state")


def slippage_cmd(
    tape: Annotated[
        list[Path], typer.Option(help="Recorded stream (.jsonl.gz; repeatable), e.g. ticks/…")
    ],
    data: DataOpt,
    config: ConfigOpt = None,
    share: Annotated[
        float | None,
        typer.Option(
            help="Share of a bar's volume an order may take \\[default: the config's "
            "volume:SHARE, else 0.1]"
        ),
    ] = None,
    tape_symbol: Annotated[
        str | None, typer.Option(help="Symbol in the tape, e.g. BTC/USDT (default: its first).")
    ] = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    symbol: SymbolOpt = None,
    timeframe: TimeframeOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    workers: WorkersOpt = 0,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/slippage"),
) -> None:
    """Calibrate slippage from a recorded tape and show the backtest's sensitivity.

    Final equity and Sharpe at 0, 5, 10 and 20 bps and at the calibrated
    volume-participation model. Writes slippage.json to --out."""
    from bastion.research.calibrate import calibrate
    from bastion.research.cluster import open_executor
    from bastion.research.runner import Task, load_data
    from bastion.research.tape import read_tape

    try:
        cfg, spec, base, start_ms, end_ms = setup(
            config, data, symbol=symbol, timeframe=timeframe, start=start, end=end, store=store
        )
        interval = min(s.interval_ms for s in load_data(spec).values())
        kind, _, rest = cfg.venue.slippage.partition(":")
        the_share = share or (float(rest.partition(":")[0] or 0.1) if kind == "volume" else 0.1)
        cal = calibrate(read_tape(tape, tape_symbol), share=the_share, interval_ms=interval)
        models = (*FIXED, cal.spec)
        tasks = [
            Task(
                index=i,
                point={},
                config=cfg.model_dump(mode="json"),
                data=spec,
                strategy=absolute_strategy(strategy),
                params=_kv(param),
                base_dir=base,
                start_ms=start_ms,
                end_ms=end_ms,
                slippage=m,
            )
            for i, m in enumerate(models)
        ]
        with open_executor(None, workers) as executor:
            rows = executor.run(tasks)
    except ValueError as exc:
        raise fail(str(exc)) from None
    _print(cal, models, rows)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "slippage.json"
    path.write_text(json.dumps(_report(cal, models, rows), indent=2) + "\n")
    console.print(f"  summary: {path}")


def _report(cal: Any, models: tuple[str, ...], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "calibration": {
            "spec": cal.spec,
            "share": cal.share,
            "impact_bps": cal.impact_bps,
            "bar_volume": cal.bar_volume,
            "interval_ms": cal.interval_ms,
            "half_spread_bps": cal.half_spread_bps,
            "trades": cal.trades,
            "span_ms": cal.span_ms,
            "sizes": [_row(r) for r in cal.rows],
        },
        "sensitivity": [
            {
                "slippage": m,
                "status": r["status"],
                "error": r.get("error"),
                **{k: (r.get("summary") or {}).get(k) for k in SENSITIVITY_KEYS},
            }
            for m, r in zip(models, rows, strict=True)
        ],
    }


def _row(r: Any) -> dict[str, Any]:
    return {k: getattr(r, k) for k in r.__slots__}


def _print(cal: Any, models: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    t = Table(
        title=f"tape: {cal.trades:,} trades over {cal.span_ms / 60_000:.1f} min; "
        f"mean volume {cal.bar_volume:,.3f} per bar",
        title_justify="left",
    )
    for col in ("order size", "participation", "samples", "tape mean bps", "tape p90 bps",
                "model bps"):  # fmt: skip
        t.add_column(col, justify="right")
    for r in cal.rows:
        t.add_row(
            f"{r.size:g}",
            f"{r.participation:.4f}",
            f"{r.samples:,}",
            "—" if r.mean_bps is None else f"{r.mean_bps:.3f}",
            "—" if r.p90_bps is None else f"{r.p90_bps:.3f}",
            f"{r.model_bps:.3f}",
        )
    console.print(t)
    spread = "n/a" if cal.half_spread_bps is None else f"{cal.half_spread_bps:.4f}"
    console.print(f"calibrated: {cal.spec} (half spread {spread} bps)", highlight=False)
    s = Table(title="sensitivity", title_justify="left")
    for col in ("slippage", "final equity", "total return", "sharpe", "fills", "halt latch"):
        s.add_column(col, justify="right")
    for m, r in zip(models, rows, strict=True):
        sm = r.get("summary") or {}
        if r["status"] != "ok":
            s.add_row(m, "failed", escape(str(r.get("error"))), "", "", "")
            continue
        sharpe = sm.get("sharpe")
        s.add_row(
            m,
            f"{sm['final_equity']:,.2f}",
            f"{sm['total_return']:.2%}",
            "—" if sharpe is None else f"{sharpe:.3f}",
            f"{sm['fills']:,}",
            str(sm.get("halt_state")),
        )
    console.print(s)
