"""The journal: an append-only SQLite record of everything the bot decided and
every answer the venue gave.

Rows are never updated or deleted (triggers refuse it), so the journal can be
trusted as evidence when explaining an order months later. Writes are batched
for backtests (``flush_every``) and flushed every cycle in live runs; WAL mode
lets the dashboard and ``bastion journal`` read while the bot writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bastion import sqlite_wal
from bastion.dbschema import Schema, check_readable, open_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    strategy TEXT,
    symbol   TEXT,
    payload  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS events_append_only_u BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_d BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""
# v1: before versions (no user_version). v2: versioned, with ``schema_log``.
JOURNAL_SCHEMA = Schema(name="journal", version=2, create=SCHEMA, tables=("events",), steps={2: ()})


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if hasattr(obj, "value"):  # enums
        return obj.value
    return str(obj)


def encode(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload, default=_default).decode()


class Journal:
    """Append events; read them back in order."""

    def __init__(
        self, path: str | Path, *, flush_every: int = 1, cache_kib: int | None = None
    ) -> None:
        """``cache_kib`` caps SQLite's page cache on this connection (its default
        is about 2 MB, which a growing file fills page by page)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if cache_kib is not None:
            self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        open_schema(self._db, JOURNAL_SCHEMA, self.path)  # migrates an old one; refuses a newer
        self._buf: list[tuple[int, str, str | None, str | None, str]] = []
        # The live loop appends from the feed's loop, the cycle worker and the
        # venue's thread: one lock keeps appends and flushes from interleaving.
        self._lock = threading.Lock()
        self.flush_every = max(1, flush_every)
        self._closed = False
        self.count = 0

    def append(self, kind: str, ts: int, payload: dict[str, Any]) -> None:
        row = (ts, kind, payload.get("strategy"), payload.get("symbol"), encode(payload))
        with self._lock:
            self._buf.append(row)
            self.count += 1
            full = len(self._buf) >= self.flush_every
        if full:
            self.flush()

    __call__ = append  # a Journal is a Sink

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, encode({"v": value})),
        )

    def flush(self) -> None:
        with self._lock:
            if not self._buf or self._closed:
                return
            rows, self._buf = self._buf, []
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO events(ts, kind, strategy, symbol, payload)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )

    def checkpoint(self) -> bool:
        """Flush, then fold the WAL in and truncate it without waiting for a
        reader (``bastion.sqlite_wal``); False when a reader kept it."""
        self.flush()
        with self._lock:
            return not self._closed and sqlite_wal.truncate(self._db)

    def close(self) -> None:
        """Flush and close; closing twice is harmless."""
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._db.close()
            self._closed = True

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_journal(path: str | Path) -> Path:
    """Accept a run folder or the journal file itself."""
    p = Path(path)
    if p.is_dir():
        p = p / "journal.sqlite"
    if not p.exists():
        raise FileNotFoundError(f"no journal at {p}")
    return p


def read_events(
    path: str | Path,
    *,
    kinds: Sequence[str] | None = None,
    since_ts: int | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Events in order as dicts: seq, ts, kind, strategy, symbol and the payload."""
    db = _read_only(path)
    try:
        sql = "SELECT seq, ts, kind, strategy, symbol, payload FROM events"
        where: list[str] = []
        args: list[Any] = []
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if since_ts is not None:
            where.append("ts >= ?")
            args.append(since_ts)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for seq, ts, kind, strategy, symbol, payload in db.execute(sql, args):
            yield {
                "seq": seq,
                "ts": ts,
                "kind": kind,
                "strategy": strategy,
                "symbol": symbol,
                **orjson.loads(payload),
            }
    finally:
        db.close()


def read_meta(path: str | Path) -> dict[str, Any]:
    db = _read_only(path)
    try:
        return {k: orjson.loads(v)["v"] for k, v in db.execute("SELECT key, value FROM meta")}
    finally:
        db.close()


def kind_counts(path: str | Path) -> dict[str, int]:
    """How many events of each kind the journal holds (the journal is its own
    registry of kinds: every layer adds its own)."""
    db = _read_only(path)
    try:
        rows = db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind")
        return {kind: n for kind, n in rows}
    finally:
        db.close()


def _read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the journal, refused when its schema is newer."""
    found = find_journal(path)
    db = sqlite3.connect(f"file:{found}?mode=ro", uri=True)
    try:
        check_readable(db, JOURNAL_SCHEMA, found)
    except BaseException:
        db.close()
        raise
    return db
