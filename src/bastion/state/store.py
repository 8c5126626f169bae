"""The state store: what the bot must remember across restarts, in SQLite (WAL).

For now that is the halt latch: one row in ``halt`` (the current state) and
every change appended to ``halt_history`` (who, why, when, from what). A bot
that stopped halted starts halted; the CLI (``bastion halt`` / ``resume``) and
the kill switch write the same table from another process, and the running
bot notices through ``changed()`` (SQLite's ``data_version``: a cheap check
that another connection committed).

This module knows nothing of ``bastion.risk``: it stores plain rows, and
``save_latch`` accepts anything shaped like a latch (state, reason, since_ts,
by), so the layers stay independent.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bastion import sqlite_wal
from bastion.dbschema import Schema, open_schema

# Its own file, apart from the order store (``state.sqlite``): the latch is read
# every cycle and written rarely, and SQLite's change counter is per file, so
# sharing the busy order store would make every order look like a halt change.
STATE_FILE = "latch.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS halt (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    state    TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    since_ts INTEGER NOT NULL,
    by       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS halt_history (
    seq      INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    state    TEXT    NOT NULL,
    previous TEXT,
    reason   TEXT    NOT NULL,
    by       TEXT    NOT NULL
);
"""
# The whole file's version: the latch's tables and those other stores of this
# file add (baseline, stage). v1: before versions. v2: versioned (``schema_log``).
STATE_SCHEMA = Schema(
    name="state store",
    version=2,
    create=SCHEMA,
    tables=("halt", "halt_history", "baseline", "baseline_history"),
    steps={2: ()},
)


class LatchLike(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def since_ts(self) -> int: ...
    @property
    def by(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LatchRow:
    """The latch as stored."""

    state: str
    reason: str
    since_ts: int
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LatchChange:
    """One entry of the latch's history."""

    seq: int
    ts: int
    state: str
    previous: str | None
    reason: str
    by: str


def state_path(path: str | Path) -> Path:
    """Accept the bot's data folder or the state file itself."""
    p = Path(path)
    return p / STATE_FILE if p.is_dir() or not p.suffix else p


class StateStore:
    """The bot's state file. One writer at a time; readers never block it."""

    def __init__(self, path: str | Path) -> None:
        self.path = state_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a halt must survive a power cut
        self._db.execute("PRAGMA busy_timeout=5000")
        open_schema(self._db, STATE_SCHEMA, self.path)  # migrates an old one; refuses a newer
        self._data_version = self._version()

    def checkpoint(self) -> bool:
        """Fold the WAL in and truncate it, never waiting (``bastion.sqlite_wal``)."""
        return sqlite_wal.truncate(self._db)

    # ----------------------------------------------------------------- latch
    def load_latch(self) -> LatchRow | None:
        """The stored latch, or None when nothing was ever stored."""
        row = self._db.execute(
            "SELECT state, reason, since_ts, by FROM halt WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return LatchRow(state=row[0], reason=row[1], since_ts=int(row[2]), by=row[3])

    def save_latch(self, latch: LatchLike, previous: str | None = None) -> None:
        """Store the latch and append the change to its history, atomically.

        ``previous`` is the state it left (read from the store when omitted)."""
        state, reason, ts, by = str(latch.state), latch.reason, int(latch.since_ts), latch.by
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if previous is None:
                old = self._db.execute("SELECT state FROM halt WHERE id = 1").fetchone()
                previous = old[0] if old is not None else None
            self._db.execute(
                "INSERT INTO halt(id, state, reason, since_ts, by) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, "
                "reason = excluded.reason, since_ts = excluded.since_ts, by = excluded.by",
                (state, reason, ts, by),
            )
            self._db.execute(
                "INSERT INTO halt_history(ts, state, previous, reason, by) VALUES (?, ?, ?, ?, ?)",
                (ts, state, previous, reason, by),
            )
        self._data_version = self._version()

    def latch_history(self, limit: int | None = None) -> list[LatchChange]:
        """Latch changes, oldest first (the newest ``limit`` when given)."""
        sql = "SELECT seq, ts, state, previous, reason, by FROM halt_history ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._db.execute(sql).fetchall()
        return [
            LatchChange(seq=r[0], ts=r[1], state=r[2], previous=r[3], reason=r[4], by=r[5])
            for r in reversed(rows)
        ]

    # ---------------------------------------------------------------- misc
    def changed(self) -> bool:
        """True once after another connection committed (e.g. ``bastion halt``)."""
        version = self._version()
        if version == self._data_version:
            return False
        self._data_version = version
        return True

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
