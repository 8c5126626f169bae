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
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyarrow import feather

from bastion.data.columns import (
    _ISO_DATE,
    Where,
    all_null,
    epoch_to_ms,
    float_column,
    is_number,
    shorten,
    ts_column,
)
from bastion.data.errors import DataError
from bastion.data.gaps import modal_step
from bastion.data.paths import format_interval, interval_from_filename, symbol_from_filename
from bastion.data.validate import validate_bars
from bastion.model.bars import BarSeries, FloatArray, IntArray

TS_ALIASES: Final = ("ts", "timestamp", "date", "time", "datetime", "open_time", "opentime")
VALUE_COLUMNS: Final = ("open", "high", "low", "close", "volume")
_ROLES: Final = ("ts", *VALUE_COLUMNS)
_A = TypeVar("_A", FloatArray, IntArray)


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
    try:
        return _to_series(path, fmt, columns, symbol=symbol, interval_ms=interval_ms)
    finally:
        # The Arrow table and the conversion temporaries are freed by now, but the
        # Arrow pool keeps their pages (twice the bars' size at 10M bars, for the
        # whole run): hand them back.
        pa.default_memory_pool().release_unused()


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
    return _from_table(table, names, Where(str(path)))


def _read_feather(path: Path) -> _Columns:
    try:
        table = feather.read_table(path)
    except pa.ArrowInvalid as exc:
        raise DataError("a readable Arrow/feather file", path=path, value=str(exc)) from exc
    names = _pick_columns(table.column_names, path)
    return _from_table(table, names, Where(str(path)))


def _read_json(path: Path) -> _Columns:
    where = Where(str(path))
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
    ts = epoch_to_ms(table[:, 0], where, "ts")
    values = {name: np.ascontiguousarray(table[:, i + 1]) for i, name in enumerate(VALUE_COLUMNS)}
    return _Columns(ts, values, None)


def _json_row_error(rows: list[object], where: Where) -> DataError:
    """Find the first row NumPy could not take, on the error path only."""
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 6:
            return DataError(
                "a row [ts, open, high, low, close, volume]",
                path=where.path,
                row=i,
                value=shorten(row),
            )
        for name, value in zip(_ROLES, row, strict=False):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return where.error("a number", row=i, column=name, value=value)
    return DataError("rows of six numbers", path=where.path, value=shorten(rows[:3]))


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
    has_header = not (is_number(fields[0]) or _ISO_DATE.match(fields[0]))
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
    blank = all_null(table)
    if blank is not None:
        table = table.filter(pa.array(~blank))
        lines = lines[~blank]
    renamed = {role: labels[role] for role in _ROLES}
    table = table.rename_columns([renamed[role] for role in _ROLES])
    return _from_table(table, renamed, Where(str(path), lines))


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


def _from_table(table: pa.Table, names: dict[str, str], where: Where) -> _Columns:
    ts = ts_column(table.column(names["ts"]), where, names["ts"])
    values = {
        role: float_column(table.column(names[role]), where, names[role]) for role in VALUE_COLUMNS
    }
    return _Columns(ts, values, where.lines)


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
