"""Fixtures for the research tests: a synthetic market in a Parquet file and a
two-worker Dask cluster on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.research.support import HOUR, write_bars

from bastion.data.synthetic import regime_bars


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 days of hourly bars through trend, range, high-volatility and crash regimes."""
    series = regime_bars(24 * 120, seed=11, symbol="SYN/USDT", interval_ms=HOUR, segment_bars=240)
    return write_bars(tmp_path_factory.mktemp("bars") / "SYN_USDT_1h.parquet", series)


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
