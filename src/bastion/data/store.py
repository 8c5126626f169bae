"""The local market-data store: bars in Parquet, partitioned by exchange, symbol,
timeframe and UTC month.

Layout (``ROOT`` is the store folder, ``market-data`` by default)::

    ROOT/catalog.json                          what is stored (see catalog.py)
    ROOT/binance/BTC-USDT/1m/2025-05.parquet   one file per UTC month

Each month file holds columns ``ts`` (int64, bar open time, ms UTC), ``open``,
``high``, ``low``, ``close``, ``volume`` (float64), sorted by ``ts`` with no
duplicates. A write merges new rows into the month files they belong to
(rows already stored win: the exchange's history does not change, and a resumed
download must not duplicate anything), writes each file to a temporary name and
renames it over the old one, so an interrupted write leaves the previous file
whole. Gaps are left as gaps: nothing here fills a missing bar.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bastion.data.errors import DataError
from bastion.model.bars import BarSeries
from bastion.model.timeframe import parse_interval

STORE_ENV = "BASTION_STORE"
COLUMNS = ("ts", "open", "high", "low", "close", "volume")
_SCHEMA = pa.schema([("ts", pa.int64())] + [(c, pa.float64()) for c in COLUMNS[1:]])


class NoBarsStored(DataError):
    """The store holds no bars of a series in the span asked for."""


def default_root() -> Path:
    """``$BASTION_STORE``, else ``market-data`` in the working folder."""
    return Path(os.environ.get(STORE_ENV) or "market-data")


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Which bars: ``binance``, ``BTC/USDT``, ``1m``."""

    exchange: str
    symbol: str
    timeframe: str

    @classmethod
    def parse(cls, spec: str) -> SeriesKey:
        """``binance:BTC/USDT:1m``; raises ``ValueError`` saying what is expected."""
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts) or "/" not in parts[1]:
            raise ValueError(
                f"{spec!r}: expected EXCHANGE:BASE/QUOTE:TIMEFRAME, e.g. binance:BTC/USDT:1m"
            )
        parse_interval(parts[2])  # raises naming the timeframe
        return cls(parts[0].lower(), parts[1].upper(), parts[2])

    @property
    def interval_ms(self) -> int:
        return parse_interval(self.timeframe)

    def folder(self, root: Path) -> Path:
        return root / self.exchange / self.symbol.replace("/", "-") / self.timeframe

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}:{self.timeframe}"


def is_store_spec(text: str) -> bool:
    """``binance:BTC/USDT:1m`` rather than a file path (and no such file exists)."""
    return text.count(":") == 2 and not Path(text).exists()


def _month(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m")


def _read(path: Path) -> pa.Table:
    try:
        return pq.read_table(path, schema=_SCHEMA)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"a readable Parquet month file ({exc})", path=path) from exc


def write_bars(root: Path, key: SeriesKey, table: pa.Table) -> int:
    """Merge ``table`` (the six columns) into the store; returns the rows added."""
    if table.num_rows == 0:
        return 0
    table = table.select(list(COLUMNS)).cast(_SCHEMA)
    ts = table.column("ts").to_numpy()
    folder = key.folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    labels = _month_labels(ts)
    added = 0
    for label in sorted(set(labels.tolist())):
        part = table.filter(pa.array(labels == label))
        path = folder / f"{label}.parquet"
        old = _read(path) if path.exists() else None
        merged, n_new = _merge(old, part)
        added += n_new
        if n_new:
            tmp = path.with_suffix(".parquet.tmp")
            pq.write_table(merged, tmp, compression="zstd")
            os.replace(tmp, path)
    return added


def _month_labels(ts: np.ndarray) -> np.ndarray:
    """Month of each ms timestamp, vectorised."""
    months = ts.astype("datetime64[ms]").astype("datetime64[M]")
    return np.datetime_as_string(months, unit="M")


def _merge(old: pa.Table | None, new: pa.Table) -> tuple[pa.Table, int]:
    """Old rows plus the new rows whose ``ts`` is not stored yet, sorted; and how many."""
    new_ts = new.column("ts").to_numpy()
    _, first = np.unique(new_ts, return_index=True)  # a page may repeat a row
    new = new.take(pa.array(np.sort(first)))
    if old is not None:
        keep = ~np.isin(new.column("ts").to_numpy(), old.column("ts").to_numpy())
        new = new.filter(pa.array(keep))
    n_new = new.num_rows
    merged = new if old is None else pa.concat_tables([old, new])
    order = np.argsort(merged.column("ts").to_numpy(), kind="stable")
    return merged.take(pa.array(order)), n_new


def month_files(root: Path, key: SeriesKey) -> list[Path]:
    folder = key.folder(root)
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def read_table(
    root: Path, key: SeriesKey, start: int | None = None, end: int | None = None
) -> pa.Table:
    """Stored rows with ``start <= ts < end`` (either bound may be None)."""
    parts: list[pa.Table] = []
    for path in month_files(root, key):
        label = path.stem
        if start is not None and label < _month(start):
            continue
        if end is not None and label > _month(end - 1):
            continue
        parts.append(_read(path))
    table = pa.concat_tables(parts) if parts else _SCHEMA.empty_table()
    ts = table.column("ts").to_numpy()
    mask = np.ones(len(ts), dtype=bool)
    if start is not None:
        mask &= ts >= start
    if end is not None:
        mask &= ts < end
    return table.filter(pa.array(mask)) if not mask.all() else table


def read_series(
    root: Path, key: SeriesKey, start: int | None = None, end: int | None = None
) -> BarSeries:
    """Stored bars as a ``BarSeries``; ``DataError`` when there are none in the span."""
    table = read_table(root, key, start, end)
    if table.num_rows == 0:
        span = "" if start is None and end is None else f" in {_span(start, end)}"
        raise NoBarsStored(
            f"bars of {key}{span} (none stored; run: bastion download {key} --from ...)",
            path=key.folder(root),
        )
    cols = {c: table.column(c).to_numpy() for c in COLUMNS}
    return BarSeries(
        symbol=key.symbol,
        interval_ms=key.interval_ms,
        ts=cols["ts"].astype(np.int64),
        open=cols["open"].astype(np.float64),
        high=cols["high"].astype(np.float64),
        low=cols["low"].astype(np.float64),
        close=cols["close"].astype(np.float64),
        volume=cols["volume"].astype(np.float64),
        source=f"store {key}",
    )


def stored_keys(root: Path) -> Iterator[SeriesKey]:
    """Every series with at least one month file, from the folders themselves."""
    if not root.is_dir():
        return
    for ex in sorted(p for p in root.iterdir() if p.is_dir()):
        for sym in sorted(p for p in ex.iterdir() if p.is_dir()):
            for tf in sorted(p for p in sym.iterdir() if p.is_dir()):
                if any(tf.glob("*.parquet")):
                    yield SeriesKey(ex.name, sym.name.replace("-", "/"), tf.name)


def _span(start: int | None, end: int | None) -> str:
    def iso(t: int | None) -> str:
        return (
            "…"
            if t is None
            else datetime.fromtimestamp(t / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        )

    return f"{iso(start)} → {iso(end)}"


__all__ = [
    "COLUMNS",
    "STORE_ENV",
    "SeriesKey",
    "default_root",
    "month_files",
    "read_series",
    "read_table",
    "stored_keys",
    "write_bars",
]
