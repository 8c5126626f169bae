"""Factories for engine tests: small seeded bar series and configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bastion.data.paths import shared_data_dir
from bastion.model import BarSeries

T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
MINUTE = 60_000


def walk(n: int, *, seed: int = 1, symbol: str = "SYN/USDT", start: float = 100.0) -> BarSeries:
    """A seeded geometric random walk; open = previous close."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate([[start], close[:-1]])
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    ts = T0 + np.arange(n, dtype=np.int64) * MINUTE
    return BarSeries(
        symbol=symbol,
        interval_ms=MINUTE,
        ts=ts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=np.full(n, 50.0),
        source="test:walk",
        synthetic=True,
    )


@pytest.fixture
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None or not (d / "ohlcv").is_dir():
        pytest.skip("real market data (../shared/data or $BASTION_DATA_DIR) is not on this machine")
    return d
