"""A run's history on disk: the equity curve, and the fills, appended a chunk
at a time during the run and read back a chunk at a time after it.

Ten million bars of curve are 240 MB and a fill is about 650 B as Python
objects; held in memory they make a backtest's peak grow with the length of
history. On an anonymous temporary file (gone when the tape is closed or
collected) they cost a chunk of memory at a time, and the figures computed
from them are the same to the last bit, because they are the same float64s.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, Any, Final, overload

import numpy as np
import numpy.typing as npt

from bastion.model import Fill

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

READ_ROWS: Final = 1 << 18  # rows read back at a time: 6 MB of curve
_COLUMNS: Final = (
    ("ts", np.dtype(np.int64)),
    ("equity", np.dtype(np.float64)),
    ("market", np.dtype(np.float64)),
)


class CurveTape:
    """Per timestamp of a run: ``ts``, ``equity`` (the account marked at the
    bar's close) and ``market`` (buy and hold on the same timeline)."""

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {
            name: tempfile.TemporaryFile()  # noqa: SIM115 - the tape owns them
            for name, _ in _COLUMNS
        }
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def append(self, ts: IntArray, equity: FloatArray, market: FloatArray) -> None:
        if not len(ts) == len(equity) == len(market):
            raise ValueError(f"columns of {len(ts)}, {len(equity)} and {len(market)} rows")
        for (name, dtype), values in zip(_COLUMNS, (ts, equity, market), strict=True):
            self._files[name].write(np.ascontiguousarray(values, dtype=dtype).tobytes())
        self._rows += len(ts)

    def chunks(self, rows: int = READ_ROWS) -> Iterator[tuple[IntArray, FloatArray, FloatArray]]:
        """``(ts, equity, market)`` from the first row, ``rows`` at a time."""
        for start in range(0, self._rows, rows):
            stop = min(self._rows, start + rows)
            ts, eq, mk = (self._read(name, dtype, start, stop) for name, dtype in _COLUMNS)
            yield ts, eq, mk

    def column(self, name: str) -> npt.NDArray[Any]:
        """One whole column in memory (for a caller that asked for the arrays)."""
        dtype = dict(_COLUMNS)[name]
        return self._read(name, dtype, 0, self._rows)

    def last(self) -> tuple[int, float, float]:
        ts, eq, mk = (
            self._read(name, dtype, self._rows - 1, self._rows) for name, dtype in _COLUMNS
        )
        return int(ts[0]), float(eq[0]), float(mk[0])

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    def _read(self, name: str, dtype: np.dtype[Any], start: int, stop: int) -> npt.NDArray[Any]:
        """Rows ``start:stop`` read straight into the array returned: one copy of
        the column in memory, not the bytes read and then the array made of them
        (a whole 10M-row column would be 160 MB at its peak, not 80)."""
        f = self._files[name]
        f.flush()
        out = np.empty(stop - start, dtype=dtype)
        view = out.data.cast("B")
        offset, done = start * dtype.itemsize, 0
        while done < len(view):  # a regular file reads whole; a short read is carried on
            got = os.preadv(f.fileno(), [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"curve tape {name}: {len(view) - done} bytes short at row {start}")
            done += got
        return out


class FillTape(Sequence[tuple[str, Fill]]):
    """Every ``(strategy id, fill)`` of a run, in arrival order, pickled to disk
    in batches; iterating reads a batch at a time."""

    BATCH: Final = 4_096

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - the tape owns it
        self._offsets: list[tuple[int, int]] = []  # (byte offset, byte length) per batch
        self._pending: list[tuple[str, Fill]] = []
        self._rows = 0

    def append(self, sid: str, fill: Fill) -> None:
        self._pending.append((sid, fill))
        self._rows += 1
        if len(self._pending) >= self.BATCH:
            self._spill()

    def __len__(self) -> int:
        return self._rows

    def __iter__(self) -> Iterator[tuple[str, Fill]]:
        for offset, length in list(self._offsets):
            yield from pickle.loads(os.pread(self._file.fileno(), length, offset))
        yield from list(self._pending)

    @overload
    def __getitem__(self, index: int) -> tuple[str, Fill]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, Fill]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, Fill] | list[tuple[str, Fill]]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._rows
        if not 0 <= index < self._rows:
            raise IndexError(index)
        batch, at = divmod(index, self.BATCH)
        if batch < len(self._offsets):
            offset, length = self._offsets[batch]
            rows: list[tuple[str, Fill]] = pickle.loads(
                os.pread(self._file.fileno(), length, offset)
            )
            return rows[at]
        return self._pending[at]

    def __eq__(self, other: object) -> bool:
        """Equal to another tape, list or tuple of the same fills in the same order."""
        if isinstance(other, FillTape | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal by content, as a list

    def __repr__(self) -> str:
        return f"FillTape({self._rows:,} fills)"

    def close(self) -> None:
        self._file.close()

    def _spill(self) -> None:
        data = pickle.dumps(self._pending, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self._offsets[-1][0] + self._offsets[-1][1] if self._offsets else 0
        self._file.write(data)
        self._file.flush()
        self._offsets.append((offset, len(data)))
        self._pending = []
