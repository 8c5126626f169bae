"""Real bars for the strategy tests (skip when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.data.loaders import load_bars
from bastion.data.paths import shared_data_dir
from bastion.model import BarSeries

CRASH_MONTH = "binance_BTC_USDT_1m_2024-07-26_2024-08-25.parquet"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None or not (d / "ohlcv").is_dir():
        pytest.skip("real market data (../shared/data or $BASTION_DATA_DIR) is not on this machine")
    return d


@pytest.fixture(scope="session")
def btc_month(data_dir: Path) -> BarSeries:
    return load_bars(data_dir / "ohlcv" / CRASH_MONTH)
