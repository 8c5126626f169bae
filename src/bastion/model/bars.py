"""Columnar bar series: the form bars take between a file and the cycle.

A backtest of a million bars cannot afford a Python object per bar before it
starts; ``BarSeries`` keeps them as NumPy arrays and the cycle reads one row at
a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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

    @property
    def first_ts(self) -> int:
        return int(self.ts[0])

    def chunks(self, rows: int) -> Iterator[BarSeries]:
        """The series ``rows`` at a time (views): a ``BarSource`` in memory."""
        for start in range(0, len(self), rows):
            yield self.slice(start, min(len(self), start + rows))

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


@runtime_checkable
class BarSource(Protocol):
    """Bars of one symbol that a backtest reads a chunk at a time.

    A ``BarSeries`` is one (its chunks are views); so is a file streamed a
    row group at a time (``bastion.data.stream``), which never holds more than
    a chunk, so a backtest's memory does not grow with the length of history.
    The bars are validated before the first chunk is handed out: a source
    never fails half-way through a run.
    """

    @property
    def symbol(self) -> str: ...
    @property
    def interval_ms(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def synthetic(self) -> bool: ...
    @property
    def first_ts(self) -> int: ...
    def __len__(self) -> int: ...
    def chunks(self, rows: int) -> Iterator[BarSeries]: ...
