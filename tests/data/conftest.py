"""Small factories for bar series and the files they come in."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from bastion.model.bars import BarSeries

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000

Row = tuple[int, float, float, float, float, float]

# Five clean one-minute bars: ts, open, high, low, close, volume.
ROWS: list[Row] = [
    (T0 + 0 * MINUTE, 100.0, 101.0, 99.5, 100.5, 3.0),
    (T0 + 1 * MINUTE, 100.5, 102.0, 100.0, 101.5, 1.5),
    (T0 + 2 * MINUTE, 101.5, 101.75, 100.25, 100.75, 0.0),
    (T0 + 3 * MINUTE, 100.75, 103.0, 100.5, 102.5, 7.25),
    (T0 + 4 * MINUTE, 102.5, 102.5, 101.0, 101.0, 2.0),
]


def series_from_rows(
    rows: Sequence[Row], *, interval_ms: int = MINUTE, symbol: str = "BTC/USDT"
) -> BarSeries:
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return BarSeries(
        symbol=symbol,
        interval_ms=interval_ms,
        ts=np.array([row[0] for row in rows], dtype=np.int64),
        open=table[:, 1].copy(),
        high=table[:, 2].copy(),
        low=table[:, 3].copy(),
        close=table[:, 4].copy(),
        volume=table[:, 5].copy(),
    )


@pytest.fixture
def rows() -> list[Row]:
    return list(ROWS)


@pytest.fixture
def make_series() -> Callable[..., BarSeries]:
    return series_from_rows
