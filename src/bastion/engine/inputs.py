"""What a backtest runs on: the bars (files, folders, a date window, a
timeframe) and the strategies (the command line's, or the config's
``[[strategies]]``), matched symbol by symbol.

Everything here refuses rather than guesses: a strategy whose symbol has no
data, a folder with no bars, a window with no bars in it, a timeframe finer
than the data; each with a ``ValueError`` (or ``DataError``) naming what was
wrong, which the command prints as one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.data.resample import resample
from bastion.engine.errors import LiveError
from bastion.engine.shadow import split_modes
from bastion.model import BarSeries
from bastion.model.timeframe import format_interval, parse_interval
from bastion.strategy import Strategy, build_strategy

BAR_SUFFIXES = (".parquet", ".pq", ".feather", ".arrow", ".ipc", ".csv", ".gz", ".zip", ".json")


def expand_sources(raw: Sequence[str]) -> list[str]:
    """Each ``--data`` value: a file, a folder (every bars file in it, sorted) or a
    comma-separated list of either."""
    out: list[str] = []
    for item in raw:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            path = Path(part).expanduser()
            if path.is_dir():
                files = sorted(
                    p for p in path.iterdir() if p.is_file() and p.suffix.lower() in BAR_SUFFIXES
                )
                if not files:
                    raise ValueError(f"--data {part}: the folder holds no bars files")
                out.extend(str(p) for p in files)
            else:
                out.append(part)
    return out


def load_source(spec: str, symbol: str | None = None) -> BarSeries:
    """One source of bars: a file path, or a series of the market-data store
    (``EXCHANGE:BASE/QUOTE:TF``, read from ``$BASTION_STORE``) when no such file
    exists."""
    from bastion.data.store import SeriesKey, default_root, is_store_spec, read_series

    if is_store_spec(spec):
        return read_series(default_root(), SeriesKey.parse(spec))
    path = Path(spec).expanduser()
    if not path.exists():
        raise ValueError(f"--data {spec}: no such file or folder")
    return load_bars(path, symbol=symbol)


def parse_when(text: str, *, end: bool) -> int:
    """A UTC date (``2025-06-01``) or date-time (``2025-06-01T12:00``) in ms.

    A bare date as an end means the end of that day (``--to 2025-06-30`` keeps
    the 30th); an end is exclusive."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{'--to' if end else '--from'} {text!r}: expected a UTC date YYYY-MM-DD "
            "or date-time YYYY-MM-DDTHH:MM"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if end and len(text.strip()) <= 10:
        when += timedelta(days=1)
    return int(when.timestamp() * 1000)


def window(series: BarSeries, start_ms: int | None, end_ms: int | None) -> BarSeries:
    """Bars opening in [start, end)."""
    if start_ms is None and end_ms is None:
        return series
    lo = 0 if start_ms is None else int(np.searchsorted(series.ts, start_ms, "left"))
    hi = len(series) if end_ms is None else int(np.searchsorted(series.ts, end_ms, "left"))
    if hi <= lo:
        first, last = _day(int(series.ts[0])), _day(int(series.ts[-1]))
        raise ValueError(
            f"{series.symbol}: no bars in the requested window (the data spans {first} to {last})"
        )
    return BarSeries(
        symbol=series.symbol,
        interval_ms=series.interval_ms,
        ts=series.ts[lo:hi],
        open=series.open[lo:hi],
        high=series.high[lo:hi],
        low=series.low[lo:hi],
        close=series.close[lo:hi],
        volume=series.volume[lo:hi],
        source=series.source,
        synthetic=series.synthetic,
    )


def to_timeframe(series: BarSeries, timeframe: str | None) -> BarSeries:
    if timeframe is None:
        return series
    try:
        target = parse_interval(timeframe)
    except ValueError as exc:
        raise ValueError(f"--timeframe {timeframe!r}: {exc}") from None
    have = series.interval_ms
    if target < have:
        raise ValueError(
            f"--timeframe {timeframe}: finer than the data ({series.symbol} has "
            f"{format_interval(have)} bars); bars can be combined, not split"
        )
    if target % have:
        raise ValueError(
            f"--timeframe {timeframe}: not a whole multiple of the data's "
            f"{format_interval(have)} bars ({series.symbol})"
        )
    return resample(series, target)


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class BacktestInputs:
    series: list[BarSeries]
    strategies: list[Strategy[Any, Any]]


def choose(
    config: BotConfig,
    available: Mapping[str, BarSeries],
    *,
    strategy: str | None,
    params: Mapping[str, str],
    base_dir: Path | None,
) -> BacktestInputs:
    """The strategies to run and the series they need.

    ``--strategy`` runs over every symbol with data; otherwise every
    trading ``[[strategies]]`` entry of the config (not those in shadow, see
    ``bastion.engine.shadow.split_modes``) runs over its own symbols (paths in
    it are relative to ``base_dir``, the config's folder); with neither,
    ``sma_cross``."""
    if strategy is not None or not config.strategies:
        symbols = list(available)
        built = [build_strategy(strategy or "sma_cross", symbols, params, base_dir=Path.cwd())]
    else:
        if params:
            raise ValueError(
                "--param applies to --strategy; set a config strategy's parameters "
                "in its params table"
            )
        built = []
        for entry in config.strategies:
            missing = [s for s in entry.symbols if s not in available]
            if missing:
                raise ValueError(
                    f"strategy {entry.id or entry.name}: no data for {', '.join(missing)} "
                    f"(data given for: {', '.join(available) or 'nothing'})"
                )
            built.append(
                build_strategy(entry.name, entry.symbols, entry.params, entry.id, base_dir)
            )
        try:  # a backtest of the bot trades what it would trade: shadows stay out
            built, _shadows = split_modes(config, built)
        except LiveError as exc:
            raise ValueError(str(exc)) from None
        ids = [s.ref.id for s in built]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                f"strategy id {dupes[0]!r} is used twice: give each [[strategies]] entry its own id"
            )
    used = {s for st in built for s in st.symbols}
    return BacktestInputs(series=[available[s] for s in available if s in used], strategies=built)


def config_symbols(config: BotConfig) -> list[str]:
    """Symbols the config's strategies trade, in first-mention order."""
    seen: dict[str, None] = {}
    for entry in config.strategies:
        seen.update(dict.fromkeys(entry.symbols))
    return list(seen)
