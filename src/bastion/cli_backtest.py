"""The inputs of ``bastion backtest``: data sources loaded, windowed and
resampled, then matched to the strategies that will run on them.

Kept out of ``cli.py`` so the command there stays a thin parse-and-print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bastion.config import BotConfig
from bastion.engine.inputs import (
    BacktestInputs,
    choose,
    config_symbols,
    expand_sources,
    load_source,
    parse_when,
    to_timeframe,
    window,
)
from bastion.model import BarSeries


def backtest_inputs(
    config: BotConfig,
    *,
    config_dir: Path | None,
    data: Sequence[str],
    symbol: str | None,
    strategy: str | None,
    params: Mapping[str, str],
    start: str | None,
    end: str | None,
    timeframe: str | None,
    synthetic_bars: int,
    seed: int,
) -> BacktestInputs:
    start_ms = parse_when(start, end=False) if start else None
    end_ms = parse_when(end, end=True) if end else None
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise ValueError(f"--to {end} is not after --from {start}")
    sources = expand_sources(data)
    if symbol is not None and len(sources) > 1:
        raise ValueError("--symbol names the symbol of a single --data file; got several files")
    available: dict[str, BarSeries] = {}
    if sources:
        windowed = start_ms is not None or end_ms is not None
        for spec in sources:
            series = load_source(spec, symbol)
            try:
                series = window(series, start_ms, end_ms)
            except ValueError:
                if windowed and len(sources) > 1:
                    continue  # a folder's file for another period
                raise
            if series.symbol in available:
                raise ValueError(
                    f"--data: two sources for {series.symbol} "
                    f"({available[series.symbol].source} and {spec}); "
                    "pick one, or narrow the period with --from/--to"
                )
            available[series.symbol] = series
        if not available:
            raise ValueError("--data: no source has bars between --from and --to")
    else:
        available = {
            sym: window(series, start_ms, end_ms)
            for sym, series in _synthetic(config, strategy, symbol, synthetic_bars, seed).items()
        }
    for sym, series in list(available.items()):
        available[sym] = to_timeframe(series, timeframe)
    return choose(config, available, strategy=strategy, params=params, base_dir=config_dir)


def _synthetic(
    config: BotConfig, strategy: str | None, symbol: str | None, bars: int, seed: int
) -> dict[str, BarSeries]:
    from bastion.data.synthetic import regime_bars

    wanted = [symbol] if symbol else ([] if strategy else config_symbols(config))
    symbols = wanted or ["SYN/USDT"]
    return {s: regime_bars(bars, seed=seed + i, symbol=s) for i, s in enumerate(symbols)}
