"""One research task: one whole-bot backtest (``bastion.engine.backtest``, the
same cycle as ``bastion backtest``) of the config with one grid point applied,
over one window of the data, run wherever the task lands.

A task names its data by path (a file, or a series of the market-data store
with the store's folder), never carries the bars: a worker reads them itself
and keeps them for the tasks after (``_load`` is cached per process, keyed by
the file's size and modification time, so a rewritten file is read again).
A task never raises: what went wrong comes back as ``status = "failed"`` with
the message, so one bad point cannot sink a sweep.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bastion.config import BotConfig, parse_config
from bastion.data.loaders import load_bars
from bastion.data.store import SeriesKey, is_store_spec, read_series
from bastion.engine.backtest import run_backtest
from bastion.engine.inputs import choose, to_timeframe, window
from bastion.engine.warmup import needed
from bastion.model import BarSeries
from bastion.research.grid import Point, label

TIMING_KEYS = ("elapsed_s", "bars_per_s")  # differ run to run; everything else must not


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSpec:
    """Where the bars are: absolute file paths or ``EXCHANGE:BASE/QUOTE:TF``
    store series (read under ``store_root``), resampled to ``timeframe``."""

    sources: tuple[str, ...]
    store_root: str | None = None
    symbol: str | None = None
    timeframe: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    index: int
    point: Point
    config: dict[str, Any]  # BotConfig as JSON: small, and it pickles anywhere
    data: DataSpec
    strategy: str | None = None  # --strategy; else the config's [[strategies]]
    params: dict[str, str] = field(default_factory=dict)  # --param, with --strategy
    base_dir: str | None = None  # where relative strategy files are found
    start_ms: int | None = None
    end_ms: int | None = None
    warmup: bool = True  # fill the indicators from the bars before start_ms
    keep_equity: bool = False
    slippage: str | None = None  # overrides [venue] slippage


def _stamp(spec: str) -> tuple[int, int]:
    try:
        st = Path(spec).stat()
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _load(
    spec: str, store_root: str | None, symbol: str | None, timeframe: str | None, stamp: Any
) -> BarSeries:
    if is_store_spec(spec):
        if store_root is None:
            raise ValueError(f"--data {spec}: a store series needs the store's folder")
        series = read_series(Path(store_root), SeriesKey.parse(spec))
    else:
        series = load_bars(spec, symbol=symbol)
    return to_timeframe(series, timeframe)


def load_data(data: DataSpec) -> dict[str, BarSeries]:
    """Every source's bars by symbol (cached in this process)."""
    out: dict[str, BarSeries] = {}
    for spec in data.sources:
        series = _load(spec, data.store_root, data.symbol, data.timeframe, _stamp(spec))
        if series.symbol in out:
            raise ValueError(f"--data: two sources for {series.symbol}")
        out[series.symbol] = series
    return out


def apply_point(config: BotConfig, point: Mapping[str, Any], *, from_cli: bool) -> BotConfig:
    """The config with the grid point's values in its strategies' params.

    With ``--strategy`` (``from_cli``) the point is the command line's params
    and the config is returned as it is."""
    if from_cli or not point:
        return config
    raw = config.model_dump(mode="json")
    entries = raw["strategies"]
    ids = [e.get("id") or e["name"] for e in entries]
    for key, value in point.items():
        sid, dot, param = key.rpartition(".")
        if dot and sid in ids:
            target = ids.index(sid)
        elif len(entries) == 1:
            target, param = 0, key
        else:
            raise ValueError(
                f"grid key {key!r}: the bot runs {len(entries)} strategies "
                f"({', '.join(ids)}); write ID.PARAM"
            )
        entries[target].setdefault("params", {})[param] = value
    return parse_config(raw, "grid point")


def _before(series: BarSeries, start_ms: int, n: int) -> BarSeries | None:
    hi = int(np.searchsorted(series.ts, start_ms, "left"))
    return series.slice(max(0, hi - n), hi) if n > 0 and hi > 0 else None


def _backtest(task: Task) -> dict[str, Any]:
    config = parse_config(task.config, "task")
    if task.slippage is not None:
        config = config.model_copy(
            update={"venue": config.venue.model_copy(update={"slippage": task.slippage})}
        )
    cli = task.strategy is not None or not config.strategies
    config = apply_point(config, task.point, from_cli=cli)
    full = load_data(task.data)
    windowed = {s: window(b, task.start_ms, task.end_ms) for s, b in full.items()}
    params = {**task.params, **{k: str(v) for k, v in task.point.items()}} if cli else {}
    base = Path(task.base_dir) if task.base_dir else None
    inputs = choose(config, windowed, strategy=task.strategy, params=params, base_dir=base)
    warm: list[BarSeries] = []
    if task.warmup and task.start_ms is not None:
        wants = needed(inputs.strategies, [s.symbol for s in inputs.series])
        for s in inputs.series:
            prior = _before(full[s.symbol], task.start_ms, wants.get(s.symbol, 0))
            if prior is not None:
                warm.append(prior)
    result = run_backtest(inputs.series, inputs.strategies, config, warmup=warm)
    seen = [b.ts for b in (*inputs.series, *warm)]
    out: dict[str, Any] = {
        "summary": {k: v for k, v in result.summary.items() if k not in TIMING_KEYS},
        "timing": {k: result.summary.get(k) for k in TIMING_KEYS},
        "seen_start_ts": int(min(int(t[0]) for t in seen)),
        "seen_end_ts": int(max(int(t[-1]) for t in seen)),
        "warmup_bars": sum(len(b) for b in warm),
    }
    if task.keep_equity:
        from bastion.observe.trades import round_trips

        out["equity_ts"] = result.equity_ts
        out["equity"] = result.equity
        out["trips"] = [(t.entry_ts, float(t.net_pnl)) for t in round_trips(result.fills)]
    return out


def run_task(task: Task) -> dict[str, Any]:
    """The task's row: ``index``, ``point``, ``status`` (``ok``/``failed``),
    ``error``, the summary (timings apart), what data was seen, and the wall
    time of the whole task (load, build, run)."""
    started = time.perf_counter()
    row: dict[str, Any] = {"index": task.index, "point": dict(task.point), "status": "ok"}
    try:
        row.update(_backtest(task))
        row["error"] = None
    except Exception as exc:  # a user's strategy may raise anything; the sweep goes on
        text = " ".join(str(exc).split())
        row.update(status="failed", error=f"{label(task.point)}: {type(exc).__name__}: {text}")
    row["task_s"] = time.perf_counter() - started
    return row


def run_batch(tasks: list[Task]) -> list[dict[str, Any]]:
    """Several tasks in one go (one Dask task carries a batch of them)."""
    return [run_task(t) for t in tasks]
