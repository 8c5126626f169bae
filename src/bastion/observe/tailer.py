"""Read a journal as a stream: the rows appended since the last read, by seq.

The journal is the bus: the dashboard, the metrics, the alerts and the digest
all follow it this way, in the bot's process or in their own, and none holds a
reference to the bot. The connection is read-only (``mode=ro``) and each poll
is one short read transaction in WAL mode, so a reader never blocks the
writer, and a writer never waits for a slow page. A journal that does not
exist yet (the bot is starting) reads as empty until it appears.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

Event = dict[str, Any]


class JournalTailer:
    """``poll()`` returns the events after the last one it returned, in order."""

    def __init__(self, path: str | Path, *, after_seq: int = 0, batch: int = 5_000) -> None:
        p = Path(path)
        self.path = p / "journal.sqlite" if p.is_dir() or not p.suffix else p
        self.last_seq = after_seq
        self.batch = batch
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and self.path.exists():
            db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=1.0
            )
            db.execute("PRAGMA query_only=1")
            self._db = db
        return self._db

    def poll(self, limit: int | None = None) -> list[Event]:
        db = self._connect()
        if db is None:
            return []
        try:
            rows = db.execute(
                "SELECT seq, ts, kind, strategy, symbol, payload FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (self.last_seq, limit or self.batch),
            ).fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is being created, or the file is busy: next poll
        out: list[Event] = []
        for seq, ts, kind, strategy, symbol, payload in rows:
            out.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "kind": kind,
                    "strategy": strategy,
                    "symbol": symbol,
                    **orjson.loads(payload),
                }
            )
        if out:
            self.last_seq = out[-1]["seq"]
        return out

    def drain(self) -> list[Event]:
        """Everything new, however many batches that takes."""
        out: list[Event] = []
        while True:
            got = self.poll()
            out.extend(got)
            if len(got) < self.batch:
                return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
