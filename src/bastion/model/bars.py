"""Columnar bar series: the form bars take between a file and the cycle.

A backtest of a million bars cannot afford a Python object per bar before it
starts; ``BarSeries`` keeps them as NumPy arrays and the cycle reads one row at
a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bastion.model.market import Bar

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BarSeries:
    """Bars of one symbol, sorted by ``ts`` (open time, ms UTC), no duplicates.

    ``interval_ms`` is the nominal bar length; a step larger than it between two
    rows is a gap (no data), never filled. ``synthetic`` marks generated data
    so results computed on it are labelled as such wherever they are shown.
    """

    symbol: str
    interval_ms: int
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    source: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("open", "high", "low", "close", "volume"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name!r} has {len(getattr(self, name))} rows, ts has {n}")
        if self.interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, got {self.interval_ms}")

    def __len__(self) -> int:
        return len(self.ts)

    def bar(self, i: int) -> Bar:
        """Row ``i`` as a ``Bar`` (convenient, not for hot loops)."""
        return Bar(
            symbol=self.symbol,
            ts=int(self.ts[i]),
            interval_ms=self.interval_ms,
            open=float(self.open[i]),
            high=float(self.high[i]),
            low=float(self.low[i]),
            close=float(self.close[i]),
            volume=float(self.volume[i]),
        )

    def slice(self, start: int, stop: int) -> BarSeries:
        """Rows ``start:stop`` as a new series (views, no copy)."""
        return BarSeries(
            symbol=self.symbol,
            interval_ms=self.interval_ms,
            ts=self.ts[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            source=self.source,
            synthetic=self.synthetic,
        )

    def with_symbol(self, symbol: str) -> BarSeries:
        """The same bars under another symbol name."""
        return BarSeries(
            symbol=symbol,
            interval_ms=self.interval_ms,
            ts=self.ts,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            source=self.source,
            synthetic=self.synthetic,
        )
