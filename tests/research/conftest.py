"""Factories for the research tests: bars written to a Parquet file (the
workers read bars by path), the shared real data, a two-worker Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.data.paths import shared_data_dir
from bastion.data.synthetic import regime_bars
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


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 days of hourly bars through trend, range, high-volatility and crash regimes."""
    series = regime_bars(24 * 120, seed=11, symbol="SYN/USDT", interval_ms=HOUR, segment_bars=240)
    return write_bars(tmp_path_factory.mktemp("bars") / "SYN_USDT_1h.parquet", series)


def real_file(name: str) -> Path:
    d = shared_data_dir()
    path = None if d is None else d / "ohlcv" / name
    if path is None or not path.is_file():
        pytest.skip(f"real market data {name} not found (../shared/data or $BASTION_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A Dask LocalCluster of two single-threaded worker processes on loopback."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
