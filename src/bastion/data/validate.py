"""Refuse bars no exchange could have produced, before anything trades on them.

One bad row (a zero price, a high below the close, a duplicated minute) can
fake a fill or a crash in a backtest; the checks here are cheap enough to run
on every load. Each check is one vectorised pass; the error reports the first
offending row in the series (the lowest row index across all checks, ties
broken in the order the checks are listed) so fixing a file goes top-down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bastion.data.errors import DataError
from bastion.model.bars import BarSeries

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class _Finding:
    row: int
    column: str
    value: object
    expected: str


def validate_bars(series: BarSeries, *, path: object = None, row_offset: int = 0) -> None:
    """Raise ``DataError`` for the first row that breaks an OHLCV invariant.

    Checked: rows sorted by ``ts`` without duplicates and at least
    ``interval_ms`` apart (closer bars would overlap); prices finite and > 0;
    volume finite and >= 0; high >= low, high >= max(open, close),
    low <= min(open, close). ``path`` only labels the error. ``row_offset``:
    the file row of ``series``' first row, when it is a chunk of a file read
    piece by piece (``bastion.data.stream``), so the error names the file's row.
    """
    findings = [f for check in _CHECKS if (f := check(series, row_offset)) is not None]
    if findings:
        first = min(findings, key=lambda f: f.row)  # min is stable: check order breaks ties
        raise DataError(
            first.expected,
            path=path,
            row=first.row + row_offset,
            column=first.column,
            value=first.value,
        )


def _first(mask: BoolArray) -> int | None:
    if mask.size == 0 or not mask.any():
        return None
    return int(np.argmax(mask))


def _check_order(series: BarSeries, offset: int) -> _Finding | None:
    ts = series.ts
    steps = np.diff(ts)
    i = _first(steps < series.interval_ms)
    if i is None:
        return None
    row, prev, step = i + 1, int(ts[i]), steps[i]
    i += offset  # the previous row as the file numbers it
    if step == 0:
        expected = f"a timestamp later than row {i}'s ({prev}): duplicate timestamp"
    elif step < 0:
        expected = f"a timestamp later than row {i}'s ({prev}): rows must be sorted by ts"
    else:
        expected = (
            f"a timestamp at least interval_ms={series.interval_ms} after row {i}'s ({prev}): "
            "closer bars would overlap"
        )
    return _Finding(row, "ts", ts[row], expected)


def _price_check(name: str) -> Callable[[BarSeries, int], _Finding | None]:
    def check(series: BarSeries, _offset: int = 0) -> _Finding | None:
        values = getattr(series, name)
        # ``> 0`` is False for NaN, so one comparison catches both.
        row = _first(~((values > 0) & np.isfinite(values)))
        if row is None:
            return None
        return _Finding(row, name, values[row], "a finite price > 0")

    return check


def _check_volume(series: BarSeries, _offset: int = 0) -> _Finding | None:
    volume = series.volume
    row = _first(~((volume >= 0) & np.isfinite(volume)))
    if row is None:
        return None
    return _Finding(row, "volume", volume[row], "a finite volume >= 0")


def _check_high_low(series: BarSeries, _offset: int = 0) -> _Finding | None:
    row = _first(series.high < series.low)
    if row is None:
        return None
    return _Finding(row, "high", series.high[row], f"high >= low ({float(series.low[row])!r})")


def _check_high(series: BarSeries, _offset: int = 0) -> _Finding | None:
    top = np.maximum(series.open, series.close)
    row = _first(series.high < top)
    if row is None:
        return None
    return _Finding(
        row, "high", series.high[row], f"high >= max(open, close) ({float(top[row])!r})"
    )


def _check_low(series: BarSeries, _offset: int = 0) -> _Finding | None:
    bottom = np.minimum(series.open, series.close)
    row = _first(series.low > bottom)
    if row is None:
        return None
    return _Finding(
        row, "low", series.low[row], f"low <= min(open, close) ({float(bottom[row])!r})"
    )


_CHECKS: tuple[Callable[[BarSeries, int], _Finding | None], ...] = (
    _check_order,
    *(_price_check(name) for name in ("open", "high", "low", "close")),
    _check_volume,
    _check_high_low,
    _check_high,
    _check_low,
)
