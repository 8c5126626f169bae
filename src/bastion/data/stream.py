"""Bars streamed from a Parquet file a batch at a time, for backtests whose
memory must not grow with the length of history.

``open_bars`` is ``load_bars`` for a file too long to hold: a Parquet file
comes back as a ``ParquetBars`` (a ``BarSource``) that holds one batch of
rows at a time; any other format is loaded whole as before (a ``BarSeries``
is a ``BarSource`` too).

The file is checked in full before the first chunk is handed out, one batch
at a time: every value converted, every batch validated together with the
last row of the batch before it, so a duplicate or an unsorted timestamp
across the seam of two row groups is found as it is in a whole file. A file
with anything wrong is then read whole by ``load_bars``, whose error is the
one raised: the one-line message is exactly the loader's, whatever the
batches. A source never fails half-way through a run, and the journal of a
streamed run is the journal of the same bars loaded whole.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bastion.data.columns import TsHint, Where, float_column, ts_column
from bastion.data.errors import DataError
from bastion.data.loaders import VALUE_COLUMNS, _pick_columns, load_bars
from bastion.data.paths import interval_from_filename, symbol_from_filename
from bastion.data.validate import validate_bars
from bastion.model.bars import BarSeries, BarSource

BATCH_ROWS: Final = 65_536  # rows converted at a time: the backtest loop's chunk


def open_bars(
    path: str | os.PathLike[str],
    *,
    symbol: str | None = None,
    interval_ms: int | None = None,
) -> BarSource:
    """A checked source of the bars in ``path``: streamed if Parquet, else loaded.

    Same arguments, defaults and errors as ``load_bars``."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        return load_bars(path, symbol=symbol, interval_ms=interval_ms)
    try:
        return ParquetBars.checked(path, symbol=symbol, interval_ms=interval_ms)
    except DataError:
        # Read whole, the loader names the offending value exactly as it always has.
        load_bars(path, symbol=symbol, interval_ms=interval_ms)
        raise  # pragma: no cover - the loader refuses whatever the batches refused
    finally:
        pa.default_memory_pool().release_unused()


class ParquetBars:
    """One Parquet file of bars, handed out a batch at a time (``chunks``).

    Build it with ``ParquetBars.checked`` (or ``open_bars``), which reads the
    file once to convert and validate every row; ``chunks`` reads it again."""

    __slots__ = ("_names", "_rows", "first_ts", "interval_ms", "path", "symbol")

    def __init__(
        self,
        path: Path,
        *,
        symbol: str,
        interval_ms: int,
        names: dict[str, str],
        rows: int,
        first_ts: int,
    ) -> None:
        self.path, self.symbol, self.interval_ms = path, symbol, interval_ms
        self._names, self._rows, self.first_ts = names, rows, first_ts

    @property
    def source(self) -> str:
        return f"parquet:{self.path}"  # as load_bars labels it: the journal says the same

    @property
    def synthetic(self) -> bool:
        return False

    def __len__(self) -> int:
        return self._rows

    def __repr__(self) -> str:
        return f"ParquetBars({str(self.path)!r}, {self.symbol}, {self._rows:,} rows)"

    @classmethod
    def checked(
        cls,
        path: Path,
        *,
        symbol: str | None = None,
        interval_ms: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> ParquetBars:
        """Convert and validate every row of ``path``, ``batch_rows`` at a time; raises
        ``DataError`` at the first problem (``open_bars`` turns it into the loader's)."""
        try:
            names = _pick_columns(pq.read_schema(path).names, path)
        except pa.ArrowInvalid as exc:
            raise DataError("a readable Parquet file", path=path, value=str(exc)) from exc
        sym = symbol or symbol_from_filename(path)
        if not sym:
            raise DataError("a symbol", path=path, value=path.name)
        interval = interval_ms if interval_ms is not None else interval_from_filename(path)
        if interval is None:
            interval = _modal_step(path, names["ts"])
            if interval is None:
                raise DataError("an interval: pass interval_ms=...", path=path)
        elif interval <= 0:
            raise ValueError(f"interval_ms must be positive, got {interval}")
        bars = cls(path, symbol=sym, interval_ms=interval, names=names, rows=0, first_ts=0)
        rows, first_ts, named_seen = 0, 0, interval_ms is not None
        prev: BarSeries | None = None
        for chunk in bars._read(batch_rows):
            if prev is None:
                first_ts = chunk.first_ts
                seam, offset = chunk, 0
            else:
                seam, offset = _joined(prev, chunk), rows - 1
            validate_bars(seam, path=path, row_offset=offset)
            named_seen = named_seen or bool((np.diff(seam.ts) == interval).any())
            rows += len(chunk)
            prev = chunk.slice(len(chunk) - 1, len(chunk))
        if rows == 0:
            raise DataError("at least one bar", path=path, value="no rows")
        if not named_seen and rows > 1 and _modal_step(path, names["ts"], None) != interval:
            raise DataError("bars as far apart as the file name says", path=path)
        bars._rows, bars.first_ts = rows, first_ts
        return bars

    def chunks(self, rows: int) -> Iterator[BarSeries]:
        return self._read(rows)

    def _read(self, rows: int) -> Iterator[BarSeries]:
        """Batches of ``rows`` converted as ``load_bars`` converts a whole file."""
        names = self._names
        hint = TsHint()
        offset = 0
        # pre_buffer (the default) reads ahead over every row group asked for, so
        # the whole file would end up in Arrow's pool: one row group at a time.
        with pq.ParquetFile(self.path, pre_buffer=False) as pf:
            for batch in pf.iter_batches(batch_size=rows, columns=list(names.values())):
                where = Where(str(self.path), offset=offset)
                cols = dict(zip(names, batch.columns, strict=True))
                ts = ts_column(cols["ts"], where, names["ts"], hint)
                values = {r: float_column(cols[r], where, names[r]) for r in VALUE_COLUMNS}
                offset += batch.num_rows
                yield BarSeries(
                    symbol=self.symbol,
                    interval_ms=self.interval_ms,
                    ts=ts,
                    open=values["open"],
                    high=values["high"],
                    low=values["low"],
                    close=values["close"],
                    volume=values["volume"],
                    source=self.source,
                )


def _joined(prev: BarSeries, chunk: BarSeries) -> BarSeries:
    """The last row of the batch before and this batch: the seam is validated too."""

    def cat(c: str) -> np.ndarray:
        return np.concatenate([getattr(prev, c), getattr(chunk, c)])

    return BarSeries(
        symbol=chunk.symbol,
        interval_ms=chunk.interval_ms,
        ts=cat("ts"),
        open=cat("open"),
        high=cat("high"),
        low=cat("low"),
        close=cat("close"),
        volume=cat("volume"),
    )


def _steps(path: Path, ts_name: str) -> Counter[int]:
    """How often each positive step between rows occurs, read a batch at a time."""
    counts: Counter[int] = Counter()
    hint, last, offset = TsHint(), None, 0
    with pq.ParquetFile(path, pre_buffer=False) as pf:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS * 16, columns=[ts_name]):
            ts = ts_column(batch.column(0), Where(str(path), offset=offset), ts_name, hint)
            offset += batch.num_rows
            steps = np.diff(ts if last is None else np.concatenate([[last], ts]))
            values, n = np.unique(steps[steps > 0], return_counts=True)
            counts.update(dict(zip(values.tolist(), n.tolist(), strict=True)))
            last = int(ts[-1]) if len(ts) else last
    return counts


def _modal_step(path: Path, ts_name: str, default: int | None = None) -> int | None:
    """The most common positive step (the smallest on a tie), as ``modal_step``;
    ``default`` when there is none."""
    counts = _steps(path, ts_name)
    if not counts:
        return default
    return max(counts, key=lambda s: (counts[s], -s))
