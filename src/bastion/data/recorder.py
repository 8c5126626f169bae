"""Record the market data a paper or live bot consumed, for an exact replay.

The hot path only appends a tuple to a list (no I/O, no allocation beyond the
row); a writer thread swaps the lists every ``flush_s`` seconds and writes
them as Parquet, so recording never waits on a disk inside a cycle. Files are
rotated daily (UTC, by receive time: the day the bot saw the data)::

    DATA_DIR/recorded/2026-12-01/trades-000001.parquet
    DATA_DIR/recorded/2026-12-01/bars-000001.parquet
    DATA_DIR/recorded/2026-12-01/tops-000001.parquet

one file per kind per flush, numbered in write order (``docs/recording.md``
describes every column). ``seq`` is one counter across the three kinds, in
the order the bot received or used each row, so a replay can interleave them
exactly as they happened (the live bot starts it at its start time in µs, so
it also grows across restarts). Trades are written as received (duplicates and
late prints included: the bar builder's decisions are part of what a replay
must reproduce); bars as the data gate took them, with the time of the cycle
that consumed them and whether they were closed or amended.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.model import Bar

SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema(
        [("seq", pa.int64()), ("symbol", pa.string()), ("trade_id", pa.string()),
         ("exchange_ts", pa.int64()), ("recv_ts", pa.int64()), ("price", pa.float64()),
         ("qty", pa.float64()), ("buyer_is_maker", pa.bool_())]
    ),
    "bars": pa.schema(
        [("seq", pa.int64()), ("symbol", pa.string()), ("ts", pa.int64()),
         ("interval_ms", pa.int64()), ("open", pa.float64()), ("high", pa.float64()),
         ("low", pa.float64()), ("close", pa.float64()), ("volume", pa.float64()),
         ("kind", pa.string()), ("cycle_ts", pa.int64())]
    ),
    "tops": pa.schema(
        [("seq", pa.int64()), ("symbol", pa.string()), ("exchange_ts", pa.int64()),
         ("recv_ts", pa.int64()), ("bid", pa.float64()), ("bid_qty", pa.float64()),
         ("ask", pa.float64()), ("ask_qty", pa.float64())]
    ),
}  # fmt: skip
_DAY_COL = {"trades": 4, "bars": 10, "tops": 3}  # which column's time picks the day file


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


class Recorder:
    def __init__(
        self,
        data_dir: Path,
        *,
        flush_s: float = 5.0,
        seq_start: int = 1,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = data_dir / "recorded"
        self.flush_s = flush_s
        self._on_error = on_error
        self._rows: dict[str, deque[tuple[Any, ...]]] = {k: deque() for k in SCHEMAS}
        self._seq = itertools.count(seq_start)
        self._files = itertools.count(self._next_file_number())
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one writer at a time (the thread, or close())
        self._thread: threading.Thread | None = None
        self.written = 0

    # ------------------------------------------------------------ hot path
    def trade(
        self,
        symbol: str,
        trade_id: str,
        exchange_ts: int,
        recv_ts: int,
        price: float,
        qty: float,
        buyer_is_maker: bool | None = None,
    ) -> None:
        self._rows["trades"].append(
            (next(self._seq), symbol, trade_id, exchange_ts, recv_ts, price, qty, buyer_is_maker)
        )

    def bar(self, bar: Bar, cycle_ts: int, kind: str = "closed") -> None:
        self._rows["bars"].append(
            (next(self._seq), bar.symbol, bar.ts, bar.interval_ms, bar.open, bar.high, bar.low,
             bar.close, bar.volume, kind, cycle_ts)
        )  # fmt: skip

    def top(
        self,
        symbol: str,
        exchange_ts: int,
        recv_ts: int,
        bid: float,
        bid_qty: float,
        ask: float,
        ask_qty: float,
    ) -> None:
        self._rows["tops"].append(
            (next(self._seq), symbol, exchange_ts, recv_ts, bid, bid_qty, ask, ask_qty)
        )

    # ------------------------------------------------------------- writer
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="recorder", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()

    def flush(self) -> None:
        """Write whatever has been recorded since the last flush."""
        with self._lock:
            for kind in SCHEMAS:
                queue = self._rows[kind]  # deque: appends and pops are thread-safe
                rows = [queue.popleft() for _ in range(len(queue))]
                if rows:
                    try:
                        self._write(kind, rows)
                    except (OSError, pa.ArrowException) as exc:
                        if self._on_error is not None:
                            self._on_error(f"{kind}: {type(exc).__name__}: {exc}"[:300])

    def _write(self, kind: str, rows: list[tuple[Any, ...]]) -> None:
        col = _DAY_COL[kind]
        by_day: dict[str, list[tuple[Any, ...]]] = {}
        for r in rows:
            by_day.setdefault(_day(r[col]), []).append(r)
        schema = SCHEMAS[kind]
        for day, part in sorted(by_day.items()):
            folder = self.folder / day
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_arrays(
                [
                    pa.array(col, type=f.type)
                    for col, f in zip(zip(*part, strict=True), schema, strict=True)
                ],
                schema=schema,
            )
            path = folder / f"{kind}-{next(self._files):06d}.parquet"
            tmp = path.with_suffix(".tmp")
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(path)
            self.written += len(part)

    def close(self) -> None:
        """Stop the writer and write the rest (bounded by the disk, not the market)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _next_file_number(self) -> int:
        """Numbers continue across restarts, so a day's files sort in write order."""
        best = 0
        if self.folder.is_dir():
            for path in self.folder.glob("*/*.parquet"):
                with contextlib.suppress(ValueError):
                    best = max(best, int(path.stem.rpartition("-")[2]))
        return best + 1


def read_day(data_dir: Path, day: str, kind: str) -> pa.Table:
    """One day's recorded ``kind`` (trades, bars, tops), in ``seq`` order."""
    files = sorted((data_dir / "recorded" / day).glob(f"{kind}-*.parquet"))
    if not files:
        return SCHEMAS[kind].empty_table()
    table = pa.concat_tables([pq.read_table(f, schema=SCHEMAS[kind]) for f in files])
    return table.sort_by("seq")
