"""Helpers for the research tests: bars written to a Parquet file (the workers
read bars by path) and the shared real data, skipped with a reason when absent."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.data.paths import shared_data_dir
from bastion.model import BarSeries

HOUR = 3_600_000
BTC_3M = "binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet"


def write_bars(path: Path, series: BarSeries) -> Path:
    table = pa.table(
        {
            "ts": series.ts,
            "open": series.open,
            "high": series.high,
            "low": series.low,
            "close": series.close,
            "volume": series.volume,
        }
    )
    pq.write_table(table, path)
    return path


def real_file(name: str) -> Path:
    d = shared_data_dir()
    path = None if d is None else d / "ohlcv" / name
    if path is None or not path.is_file():
        pytest.skip(f"real market data {name} not found (../shared/data or $BASTION_DATA_DIR)")
    return path
