"""Load OHLCV bars from the files market data comes in, into one ``BarSeries``.

Formats, chosen by the file's suffix:

* Parquet (``.parquet``, ``.pq``) and Arrow/feather (``.feather``, ``.arrow``,
  ``.ipc``; freqtrade's feather layout has a ``date`` column): columns
  ``ts`` (or ``timestamp``, ``date``, ``time``, ``datetime``, ``open_time``),
  ``open``, ``high``, ``low``, ``close``, ``volume``; other columns are ignored.
* CSV (``.csv``, ``.csv.gz``, a ``.zip`` holding one CSV): with a header naming
  the same columns, or without one, in which case the first six columns are
  open time, open, high, low, close, volume, which is the 12-column kline layout
  of data.binance.vision. Blank lines are skipped.
* JSON (``.json``, ``.json.gz``): freqtrade's list of
  ``[ts_ms, open, high, low, close, volume]`` rows.

Timestamps become integer ms UTC bar open times: epoch numbers in ms, or in
s, µs or ns when their magnitude says so (Binance switched its kline files to
µs in 2025); datetimes and ISO-8601 strings, where naive means UTC and offsets
are converted. Everything is columnar (Arrow or NumPy); Python touches single
values only on the way to an error, to say exactly which value is wrong.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyarrow import feather

from bastion.data.errors import DataError
from bastion.data.gaps import modal_step
from bastion.data.paths import format_interval, interval_from_filename, symbol_from_filename
from bastion.data.validate import validate_bars
from bastion.model.bars import BarSeries, FloatArray, IntArray

TS_ALIASES: Final = ("ts", "timestamp", "date", "time", "datetime", "open_time", "opentime")
VALUE_COLUMNS: Final = ("open", "high", "low", "close", "volume")
_ROLES: Final = ("ts", *VALUE_COLUMNS)

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
_A = TypeVar("_A", FloatArray, IntArray)

_ISO_DATE: Final = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TZ_SUFFIX: Final = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True, slots=True)
class _Where:
    """Where values came from, so an error can point at the file, row and line."""

    path: str
    lines: IntArray | None = None  # text line (1-based) of each data row

    def error(self, expected: str, *, row: int, column: str, value: object) -> DataError:
        line = None if self.lines is None else int(self.lines[row])
        return DataError(expected, path=self.path, row=row, line=line, column=column, value=value)


@dataclass(frozen=True, slots=True)
class _Columns:
    ts: IntArray
    values: dict[str, FloatArray]
    lines: IntArray | None


def load_bars(
    path: str | os.PathLike[str],
    *,
    symbol: str | None = None,
    interval_ms: int | None = None,
) -> BarSeries:
    """Read, convert and validate one file of bars.

    ``symbol`` and ``interval_ms`` default to what the file name says
    (``binance_BTC_USDT_1m_...``); without either, the interval is the most
    common step between rows, and a missing symbol is an error rather than a
    guess. Raises ``DataError`` naming file, row, line, column and value for
    anything malformed; the bars are checked by ``validate_bars``.
    """
    path = Path(path)
    fmt, read = _reader_for(path)
    columns = read(path)
    return _to_series(path, fmt, columns, symbol=symbol, interval_ms=interval_ms)


# --- formats -------------------------------------------------------------------------


def _reader_for(path: Path) -> tuple[str, Callable[[Path], _Columns]]:
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    inner = suffixes[-2] if len(suffixes) > 1 and last == ".gz" else last
    if last in (".parquet", ".pq"):
        return "parquet", _read_parquet
    if last in (".feather", ".arrow", ".ipc"):
        return "feather", _read_feather
    if inner == ".json":
        return "json", _read_json
    if inner == ".csv" or last == ".zip":
        return "csv", _read_csv
    raise DataError(
        "a file ending in .parquet, .pq, .feather, .arrow, .ipc, .csv, .csv.gz, .zip, "
        ".json or .json.gz",
        path=path,
        value="".join(path.suffixes) or path.name,
    )


def _read_parquet(path: Path) -> _Columns:
    try:
        names = _pick_columns(pq.read_schema(path).names, path)
        table = pq.read_table(path, columns=list(names.values()))
    except pa.ArrowInvalid as exc:
        raise DataError("a readable Parquet file", path=path, value=str(exc)) from exc
    return _from_table(table, names, _Where(str(path)))


def _read_feather(path: Path) -> _Columns:
    try:
        table = feather.read_table(path)
    except pa.ArrowInvalid as exc:
        raise DataError("a readable Arrow/feather file", path=path, value=str(exc)) from exc
    names = _pick_columns(table.column_names, path)
    return _from_table(table, names, _Where(str(path)))


def _read_json(path: Path) -> _Columns:
    where = _Where(str(path))
    try:
        rows = orjson.loads(_read_bytes(path))
    except orjson.JSONDecodeError as exc:
        raise DataError("valid JSON", path=path, value=str(exc)) from exc
    if not isinstance(rows, list):
        raise DataError(
            "a JSON list of [ts, open, high, low, close, volume] rows (freqtrade layout)",
            path=path,
            value=type(rows).__name__,
        )
    try:
        table = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        table = np.empty((0, 0))
    if table.ndim != 2 or table.shape[1] < 6:
        if not rows:
            return _Columns(np.empty(0, np.int64), {c: np.empty(0) for c in VALUE_COLUMNS}, None)
        raise _json_row_error(rows, where)
    ts = _epoch_to_ms(table[:, 0], where, "ts")
    values = {name: np.ascontiguousarray(table[:, i + 1]) for i, name in enumerate(VALUE_COLUMNS)}
    return _Columns(ts, values, None)


def _json_row_error(rows: list[object], where: _Where) -> DataError:
    """Find the first row NumPy could not take, on the error path only."""
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 6:
            return DataError(
                "a row [ts, open, high, low, close, volume]",
                path=where.path,
                row=i,
                value=_shorten(row),
            )
        for name, value in zip(_ROLES, row, strict=False):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return where.error("a number", row=i, column=name, value=value)
    return DataError("rows of six numbers", path=where.path, value=_shorten(rows[:3]))


def _read_csv(path: Path) -> _Columns:
    data = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")
    body = data.lstrip(b"\r\n")
    if not body or body.isspace():  # isspace stops at the first visible byte; strip() copies
        raise DataError("at least one bar", path=path, value="empty file")
    first_line = (data.count(b"\n", 0, len(data) - len(body))) + 1
    end = body.find(b"\n")
    header_text = body[: end if end >= 0 else len(body)].decode("utf-8", "replace").rstrip("\r")
    fields = [
        f.strip().strip('"').strip() for f in next(csv.reader([header_text], skipinitialspace=True))
    ]
    has_header = not (_is_number(fields[0]) or _ISO_DATE.match(fields[0]))
    if has_header:
        names = _pick_columns(fields, path)
        index = {role: fields.index(name) for role, name in names.items()}
        labels = names
    elif len(fields) >= 6:
        index = {role: i for i, role in enumerate(_ROLES)}
        labels = {role: role for role in _ROLES}
    else:
        raise DataError(
            "a header naming ts, open, high, low, close, volume, or at least six columns "
            "(open time, open, high, low, close, volume, as in Binance kline files)",
            path=path,
            line=first_line,
            value=header_text,
        )
    table = _parse_csv(
        body,
        path=path,
        width=len(fields),
        has_header=has_header,
        index=index,
        first_line=first_line,
    )
    first_data_line = first_line + (1 if has_header else 0)
    lines = np.arange(first_data_line, first_data_line + table.num_rows, dtype=np.int64)
    blank = _all_null(table)
    if blank is not None:
        table = table.filter(pa.array(~blank))
        lines = lines[~blank]
    renamed = {role: labels[role] for role in _ROLES}
    table = table.rename_columns([renamed[role] for role in _ROLES])
    return _from_table(table, renamed, _Where(str(path), lines))


def _parse_csv(
    body: bytes,
    *,
    path: Path,
    width: int,
    has_header: bool,
    index: dict[str, int],
    first_line: int,
) -> pa.Table:
    """Parse with numbers typed (fast); on failure re-read as text to find the bad cell."""
    names = [f"c{i}" for i in range(width)]
    wanted = [names[index[role]] for role in _ROLES]
    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if has_header else 0)
    parse = pacsv.ParseOptions(ignore_empty_lines=False)
    for numeric in (True, False):
        types = {
            name: (pa.float64() if numeric and role != "ts" else pa.string())
            for role, name in zip(_ROLES, wanted, strict=True)
        }
        convert = pacsv.ConvertOptions(
            include_columns=wanted,
            column_types=types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )
        try:
            table = pacsv.read_csv(
                pa.BufferReader(body),
                read_options=read,
                parse_options=parse,
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            if not numeric:
                raise _ragged_line_error(body, path, width, first_line, exc) from exc
            continue
        return table.select(wanted)
    raise AssertionError("unreachable")  # pragma: no cover


def _ragged_line_error(
    body: bytes, path: Path, width: int, first_line: int, exc: Exception
) -> DataError:
    """Name the first line whose field count differs from the first line's."""
    text = io.StringIO(body.decode("utf-8", errors="replace"), newline="")
    for offset, fields in enumerate(csv.reader(text)):
        if fields and len(fields) != width:
            return DataError(
                f"{width} comma-separated fields, as on line {first_line}",
                path=path,
                line=first_line + offset,
                value=",".join(fields),
            )
    return DataError("a well-formed CSV file", path=path, value=str(exc))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, unpacked from gzip or a one-file zip archive."""
    suffix = path.suffix.lower()
    raw = path.read_bytes()  # a missing file stays a FileNotFoundError, not bad data
    try:
        if suffix == ".gz":
            return gzip.decompress(raw)
        if suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                members = [name for name in archive.namelist() if not name.endswith("/")]
                if len(members) != 1:
                    raise DataError(
                        "a zip archive holding exactly one CSV file", path=path, value=members
                    )
                return archive.read(members[0])
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"a valid {suffix} archive", path=path, value=str(exc)) from exc
    return raw


# --- columns -------------------------------------------------------------------------


def _pick_columns(available: list[str], path: Path) -> dict[str, str]:
    """Map each role (ts, open, ...) to the file's own column name."""
    by_key = {name.strip().lower(): name for name in reversed(available)}
    names: dict[str, str] = {}
    for alias in TS_ALIASES:
        if alias in by_key:
            names["ts"] = by_key[alias]
            break
    else:
        raise DataError(
            f"a timestamp column named one of {', '.join(TS_ALIASES)}", path=path, value=available
        )
    for role in VALUE_COLUMNS:
        if role not in by_key:
            raise DataError(f"a column named {role!r}", path=path, value=available)
        names[role] = by_key[role]
    return names


def _from_table(table: pa.Table, names: dict[str, str], where: _Where) -> _Columns:
    ts = _ts_column(table.column(names["ts"]), where, names["ts"])
    values = {
        role: _float_column(table.column(names[role]), where, names[role]) for role in VALUE_COLUMNS
    }
    return _Columns(ts, values, where.lines)


def _all_null(table: pa.Table) -> npt.NDArray[np.bool_] | None:
    """Rows empty in every column (blank lines), or ``None`` when there are none."""
    if table.num_rows == 0 or min(col.null_count for col in table.columns) == 0:
        return None
    mask = np.ones(table.num_rows, dtype=bool)
    for col in table.columns:
        mask &= pc.is_null(col).to_numpy(zero_copy_only=False)
    return mask if mask.any() else None


def _flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _reject_nulls(array: pa.Array, where: _Where, column: str, expected: str) -> None:
    if array.null_count:
        row = int(np.argmax(pc.is_null(array).to_numpy(zero_copy_only=False)))
        raise where.error(f"{expected} (the cell is empty)", row=row, column=column, value=None)


def _float_column(column: pa.ChunkedArray, where: _Where, name: str) -> FloatArray:
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


def _floats_slow(texts: list[str], where: _Where, name: str) -> FloatArray:
    out = np.empty(len(texts), dtype=np.float64)
    for row, text in enumerate(texts):
        try:
            out[row] = float(text)
        except ValueError:
            raise where.error("a number", row=row, column=name, value=text) from None
    return out


def _ts_column(column: pa.ChunkedArray, where: _Where, name: str) -> IntArray:
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
        return _epoch_to_ms(numbers.to_numpy(zero_copy_only=False), where, name)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _ts_from_strings(pc.utf8_trim_whitespace(array), where, name)
    raise DataError(_TS_EXPECTED, path=where.path, column=name, value=str(kind))


# --- timestamps ----------------------------------------------------------------------


def _scale_ints(raw: npt.NDArray[np.int64], unit: str) -> IntArray:
    """Epoch integers in ``unit`` to ms, flooring sub-ms parts (open times are whole ms)."""
    per_second = _UNIT_DIVISOR[unit]
    if per_second < 1_000:
        return np.asarray(raw, np.int64) * (1_000 // per_second)
    return np.asarray(raw, np.int64) // (per_second // 1_000)


def _epoch_unit_of(values: npt.NDArray[np.int64] | FloatArray, where: _Where, name: str) -> str:
    """The unit of a column of epoch numbers, judged by magnitude; mixed units are refused."""
    lo, hi = np.abs(values).min(), np.abs(values).max()
    bins = np.searchsorted(_UNIT_BOUNDS, [lo, hi], side="right")
    if bins[0] == bins[1]:  # both ends in one window, so is everything between
        return _UNIT_OF_BIN[int(bins[0])]
    units = np.array(_UNIT_OF_BIN)[np.searchsorted(_UNIT_BOUNDS, np.abs(values), side="right")]
    odd = units != units[0]
    if not odd.any():
        return str(units[0])
    row = int(np.argmax(odd))
    raise where.error(
        f"timestamps in one unit; row 0 looks like {units[0]} and this one like {units[row]} "
        "(judged by magnitude)",
        row=row,
        column=name,
        value=values[row],
    )


def _epoch_to_ms(values: npt.NDArray[np.int64] | FloatArray, where: _Where, name: str) -> IntArray:
    if values.size == 0:
        return np.empty(0, np.int64)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise where.error(_TS_EXPECTED, row=row, column=name, value=values[row])
    unit = _epoch_unit_of(values, where, name)
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


def _ts_from_strings(array: pa.Array, where: _Where, name: str) -> IntArray:
    """Epoch numbers as text (Binance, CSV epochs) or ISO-8601, then row by row.

    Row 0 picks the vectorised parser to try, since a failed Arrow cast costs
    as much as a successful one.
    """
    if len(array) and _is_number(array[0].as_py()):
        for kind in (pa.int64(), pa.float64()):
            try:
                numbers = pc.cast(array, kind)
            except pa.ArrowInvalid:
                continue
            return _epoch_to_ms(numbers.to_numpy(zero_copy_only=False), where, name)
        return _ts_slow(array.to_pylist(), where, name)
    upper = pc.utf8_upper(array)  # lower-case ``t`` and ``z`` are valid ISO-8601 too
    try:
        return _iso_to_ms(upper)
    except pa.ArrowInvalid:
        return _ts_slow(array.to_pylist(), where, name)


def _iso_to_ms(array: pa.Array) -> IntArray:
    """Vectorised ISO-8601: rows with an offset go to UTC, naive rows are taken as UTC."""
    aware = pc.match_substring_regex(array, _TZ_SUFFIX)
    none = pa.scalar(None, pa.string())
    naive_ns = pc.cast(pc.if_else(aware, none, array), pa.timestamp("ns")).cast(pa.int64())
    aware_ns = pc.cast(pc.if_else(aware, array, none), pa.timestamp("ns", tz="UTC"))
    ns = pc.if_else(aware, aware_ns.cast(pa.int64()), naive_ns)
    return np.asarray(ns.to_numpy(zero_copy_only=False), np.int64) // 1_000_000


def _ts_slow(texts: list[str], where: _Where, name: str) -> IntArray:
    """Row by row, on the way to an error or for forms only Python parses.

    Row 0 decides what the column holds: numbers (so the first non-number is
    the bad cell) or ISO-8601 date-times (Python also takes the basic form
    ``20240101T000000Z``, a space before the offset, and dates outside the
    years 1678–2261 that Arrow's nanoseconds cannot hold).
    """
    if _is_number(texts[0]):
        for row, text in enumerate(texts):
            if not _is_number(text):
                raise where.error(_TS_EXPECTED, row=row, column=name, value=text)
        numbers = np.array([float(text) for text in texts])
        return _epoch_to_ms(numbers, where, name)
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


def _to_series(
    path: Path,
    fmt: str,
    columns: _Columns,
    *,
    symbol: str | None,
    interval_ms: int | None,
) -> BarSeries:
    ts = columns.ts
    if len(ts) == 0:
        raise DataError("at least one bar", path=path, value="no rows")
    symbol = symbol or symbol_from_filename(path)
    if not symbol:
        raise DataError(
            "a symbol: pass symbol=... (the file name does not name one, "
            "e.g. binance_BTC_USDT_1m_....parquet)",
            path=path,
            value=path.name,
        )
    values = {name: _read_only(columns.values[name]) for name in VALUE_COLUMNS}
    series = BarSeries(
        symbol=symbol,
        interval_ms=_resolve_interval(path, ts, interval_ms),
        ts=_read_only(ts),
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
        source=f"{fmt}:{path}",
        synthetic=False,
    )
    try:
        validate_bars(series, path=path)
    except DataError as exc:
        if columns.lines is None or exc.row is None:
            raise
        raise exc.with_line(int(columns.lines[exc.row])) from None
    return series


def _resolve_interval(path: Path, ts: IntArray, explicit: int | None) -> int:
    """The caller's interval, else the file name's, else the most common step."""
    if explicit is not None:
        if explicit <= 0:
            raise ValueError(f"interval_ms must be positive, got {explicit}")
        return explicit
    step = modal_step(ts)
    named = interval_from_filename(path)
    if named is not None:
        if step is not None and step != named and not (np.diff(ts) == named).any():
            raise DataError(
                f"bars {format_interval(named)} apart, as the file name says; "
                "pass interval_ms=... if the name is wrong",
                path=path,
                column="ts",
                value=f"no two rows {named} ms apart; most common step {step} ms",
            )
        return named
    if step is None:
        raise DataError(
            "an interval: pass interval_ms=... (too few rows to infer one and the file name "
            "does not name one)",
            path=path,
            value=f"{len(ts)} row(s)",
        )
    return step


def _read_only(array: _A) -> _A:
    """Bars are facts: hand them out so an accidental in-place edit fails loudly."""
    out = np.ascontiguousarray(array)
    out.flags.writeable = False
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
