"""Turning file columns into bastion's arrays, with errors that point at the row.

Split from ``loaders``: these functions know about value types (floats, epoch
timestamps in any unit, ISO-8601 strings) and nothing about file formats.
Fast paths are vectorised with pyarrow; the slow paths exist to name the first
bad value exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from bastion.data.errors import DataError
from bastion.model.bars import FloatArray, IntArray

_TS_EXPECTED: Final = (
    "an epoch timestamp (ms; s, µs or ns recognised by magnitude) "
    "or an ISO-8601 date-time (naive means UTC)"
)

# Epoch magnitudes for dates 1990–2200 in each unit. A column whose values all
# fall in the s, µs or ns window is in that unit; anything else is taken as ms,
# the unit we store, so small test timestamps (0, 60000) stay as they are.
_UNIT_BOUNDS: Final = np.array([6.3e8, 7.3e9, 6.3e11, 7.3e12, 6.3e14, 7.3e15, 6.3e17, 7.3e18])
_UNIT_OF_BIN: Final = ("ms", "s", "ms", "ms", "ms", "us", "ms", "ns", "ms")
_UNIT_DIVISOR: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_MAX_ABS_MS: Final = 2**62 // 1_000_000  # beyond this, ms→ns arithmetic elsewhere overflows
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_ISO_DATE: Final = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TZ_SUFFIX: Final = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True, slots=True)
class Where:
    """Where values came from, so an error can point at the file, row and line.

    ``offset`` is the file row of the first value, for a chunk of a file read
    piece by piece: errors name the row in the file, not in the chunk."""

    path: str
    lines: IntArray | None = None  # text line (1-based) of each data row
    offset: int = 0

    def error(self, expected: str, *, row: int, column: str, value: object) -> DataError:
        line = None if self.lines is None else int(self.lines[row])
        return DataError(
            expected, path=self.path, row=row + self.offset, line=line, column=column, value=value
        )


@dataclass(slots=True)
class TsHint:
    """What the first chunk of a timestamp column decided, carried to the next.

    Read whole, a column's unit and its kind of text (numbers or ISO-8601) are
    judged from the whole column and its row 0; read in chunks, each chunk is
    held to the first chunk's judgement, so the result and any error are the
    same as reading the file whole."""

    unit: str | None = None  # epoch unit of the column ("s", "ms", "us", "ns")
    numeric: bool | None = None  # text column: row 0 of the file is a number


def all_null(table: pa.Table) -> npt.NDArray[np.bool_] | None:
    """Rows empty in every column (blank lines), or ``None`` when there are none."""
    if table.num_rows == 0 or min(col.null_count for col in table.columns) == 0:
        return None
    mask = np.ones(table.num_rows, dtype=bool)
    for col in table.columns:
        mask &= pc.is_null(col).to_numpy(zero_copy_only=False)
    return mask if mask.any() else None


def _flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _reject_nulls(array: pa.Array, where: Where, column: str, expected: str) -> None:
    if array.null_count:
        row = int(np.argmax(pc.is_null(array).to_numpy(zero_copy_only=False)))
        raise where.error(f"{expected} (the cell is empty)", row=row, column=column, value=None)


def float_column(column: pa.ChunkedArray, where: Where, name: str) -> FloatArray:
    array = _flat(column)
    _reject_nulls(array, where, name, "a number")
    kind = array.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            parsed = pc.cast(pc.utf8_trim_whitespace(array), pa.float64())
            return np.asarray(parsed.to_numpy(zero_copy_only=False), np.float64)
        except pa.ArrowInvalid:
            return _floats_slow(array.to_pylist(), where, name)
    raise DataError("a numeric column", path=where.path, column=name, value=str(kind))


def _floats_slow(texts: list[str], where: Where, name: str) -> FloatArray:
    out = np.empty(len(texts), dtype=np.float64)
    for row, text in enumerate(texts):
        try:
            out[row] = float(text)
        except ValueError:
            raise where.error("a number", row=row, column=name, value=text) from None
    return out


def ts_column(
    column: pa.ChunkedArray, where: Where, name: str, hint: TsHint | None = None
) -> IntArray:
    array = _flat(column)
    _reject_nulls(array, where, name, "a timestamp")
    kind = array.type
    if pa.types.is_timestamp(kind):  # stored as UTC; a naive one is taken as UTC
        raw = array.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return _scale_ints(raw, kind.unit)
    if pa.types.is_date(kind):
        return np.asarray(array.cast(pa.date64()).cast(pa.int64()).to_numpy(), np.int64)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = array.cast(pa.int64() if pa.types.is_integer(kind) else pa.float64())
        return epoch_to_ms(numbers.to_numpy(zero_copy_only=False), where, name, hint)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _ts_from_strings(pc.utf8_trim_whitespace(array), where, name, hint)
    raise DataError(_TS_EXPECTED, path=where.path, column=name, value=str(kind))


# --- timestamps ----------------------------------------------------------------------


def _scale_ints(raw: npt.NDArray[np.int64], unit: str) -> IntArray:
    """Epoch integers in ``unit`` to ms, flooring sub-ms parts (open times are whole ms)."""
    per_second = _UNIT_DIVISOR[unit]
    if per_second < 1_000:
        return np.asarray(raw, np.int64) * (1_000 // per_second)
    return np.asarray(raw, np.int64) // (per_second // 1_000)


def _epoch_unit_of(
    values: npt.NDArray[np.int64] | FloatArray, where: Where, name: str, first: str | None = None
) -> str:
    """The unit of a column of epoch numbers, judged by magnitude; mixed units are
    refused. ``first``: the unit of row 0 of the file, when ``values`` is a later chunk."""
    lo, hi = np.abs(values).min(), np.abs(values).max()
    bins = np.searchsorted(_UNIT_BOUNDS, [lo, hi], side="right")
    if bins[0] == bins[1] and first in (None, _UNIT_OF_BIN[int(bins[0])]):
        return _UNIT_OF_BIN[int(bins[0])]  # both ends in one window, so is everything between
    units = np.array(_UNIT_OF_BIN)[np.searchsorted(_UNIT_BOUNDS, np.abs(values), side="right")]
    row0 = units[0] if first is None else first
    odd = units != row0
    if not odd.any():
        return str(row0)
    row = int(np.argmax(odd))
    raise where.error(
        f"timestamps in one unit; row 0 looks like {row0} and this one like {units[row]} "
        "(judged by magnitude)",
        row=row,
        column=name,
        value=values[row],
    )


def epoch_to_ms(
    values: npt.NDArray[np.int64] | FloatArray,
    where: Where,
    name: str,
    hint: TsHint | None = None,
) -> IntArray:
    if values.size == 0:
        return np.empty(0, np.int64)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise where.error(_TS_EXPECTED, row=row, column=name, value=values[row])
    unit = _epoch_unit_of(values, where, name, hint.unit if hint is not None else None)
    if hint is not None:
        hint.unit = unit
    if values.dtype.kind != "f":
        return _scale_ints(np.asarray(values, np.int64), unit)
    per_second = _UNIT_DIVISOR[unit]
    # Divide rather than multiply by 0.001: exact whenever the result is a whole ms.
    if per_second > 1_000:
        ms = np.floor(values / (per_second // 1_000))
    else:
        ms = np.floor(values * (1_000 // per_second))
    too_big = np.abs(ms) > _MAX_ABS_MS
    if too_big.any():
        row = int(np.argmax(too_big))
        raise where.error(_TS_EXPECTED, row=row, column=name, value=values[row])
    return ms.astype(np.int64)


def _ts_from_strings(
    array: pa.Array, where: Where, name: str, hint: TsHint | None = None
) -> IntArray:
    """Epoch numbers as text (Binance, CSV epochs) or ISO-8601, then row by row.

    Row 0 picks the vectorised parser to try, since a failed Arrow cast costs
    as much as a successful one.
    """
    numeric = _row0_is_number(array, hint)
    if numeric:
        for kind in (pa.int64(), pa.float64()):
            try:
                numbers = pc.cast(array, kind)
            except pa.ArrowInvalid:
                continue
            return epoch_to_ms(numbers.to_numpy(zero_copy_only=False), where, name, hint)
        return _ts_slow(array.to_pylist(), where, name, hint)
    upper = pc.utf8_upper(array)  # lower-case ``t`` and ``z`` are valid ISO-8601 too
    try:
        return _iso_to_ms(upper)
    except pa.ArrowInvalid:
        return _ts_slow(array.to_pylist(), where, name, hint)


def _row0_is_number(array: pa.Array, hint: TsHint | None) -> bool:
    """Whether row 0 of the file holds a number (the hint's, for a later chunk)."""
    if hint is not None and hint.numeric is not None:
        return hint.numeric
    numeric = bool(len(array)) and is_number(array[0].as_py())
    if hint is not None and len(array):
        hint.numeric = numeric
    return numeric


def _iso_to_ms(array: pa.Array) -> IntArray:
    """Vectorised ISO-8601: rows with an offset go to UTC, naive rows are taken as UTC."""
    aware = pc.match_substring_regex(array, _TZ_SUFFIX)
    none = pa.scalar(None, pa.string())
    naive_ns = pc.cast(pc.if_else(aware, none, array), pa.timestamp("ns")).cast(pa.int64())
    aware_ns = pc.cast(pc.if_else(aware, array, none), pa.timestamp("ns", tz="UTC"))
    ns = pc.if_else(aware, aware_ns.cast(pa.int64()), naive_ns)
    return np.asarray(ns.to_numpy(zero_copy_only=False), np.int64) // 1_000_000


def _ts_slow(texts: list[str], where: Where, name: str, hint: TsHint | None = None) -> IntArray:
    """Row by row, on the way to an error or for forms only Python parses.

    Row 0 decides what the column holds: numbers (so the first non-number is
    the bad cell) or ISO-8601 date-times (Python also takes the basic form
    ``20240101T000000Z``, a space before the offset, and dates outside the
    years 1678–2261 that Arrow's nanoseconds cannot hold).
    """
    if hint.numeric if hint is not None and hint.numeric is not None else is_number(texts[0]):
        for row, text in enumerate(texts):
            if not is_number(text):
                raise where.error(_TS_EXPECTED, row=row, column=name, value=text)
        numbers = np.array([float(text) for text in texts])
        return epoch_to_ms(numbers, where, name, hint)
    out = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            raise where.error(_TS_EXPECTED, row=row, column=name, value=text) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        out[row] = (moment - _EPOCH) // timedelta(milliseconds=1)
    return out


# --- assembly ------------------------------------------------------------------------


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
