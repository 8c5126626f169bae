"""The bot's stage on the ladder backtest → paper → live-small → live, on disk.

The stage decides whether ``bastion run`` may trade live and at what size, so
it lives in the bot's data folder (the state store's file, ``latch.sqlite``)
and not in the config: editing a TOML file must not promote a bot. It changes
only through ``bastion promote`` (which checks the journal's evidence) or a
first paper start; every change is appended to ``stage_history`` with who,
why and what evidence, and journaled by the caller.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bastion.dbschema import check_readable
from bastion.state.store import STATE_SCHEMA, StateStore, state_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS stage (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    stage    TEXT    NOT NULL,
    since_ts INTEGER NOT NULL,
    by       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS stage_history (
    seq      INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    stage    TEXT    NOT NULL,
    previous TEXT,
    reason   TEXT    NOT NULL,
    by       TEXT    NOT NULL,
    evidence TEXT    NOT NULL DEFAULT ''
);
"""
STAGE_KIND = "stage_changed"  # the journal event of a change


class Stage(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE_SMALL = "live-small"
    LIVE = "live"

    @property
    def next(self) -> Stage | None:
        order = list(Stage)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None

    @property
    def trades_live(self) -> bool:
        return self in (Stage.LIVE_SMALL, Stage.LIVE)


@dataclass(frozen=True, slots=True, kw_only=True)
class StageRow:
    stage: Stage
    since_ts: int
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StageChange:
    seq: int
    ts: int
    stage: Stage
    previous: Stage | None
    reason: str
    by: str
    evidence: str


class StageStore(StateStore):
    """The folder's stage and its history, in the state store's file, on a
    connection of its own."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._db.executescript(SCHEMA)
        self._data_version = self._version()

    def __enter__(self) -> StageStore:
        return self

    def load(self) -> StageRow | None:
        """The recorded stage, or None when none was ever recorded."""
        row = self._db.execute("SELECT stage, since_ts, by FROM stage WHERE id = 1").fetchone()
        if row is None:
            return None
        return StageRow(stage=Stage(row[0]), since_ts=int(row[1]), by=row[2])

    def set(
        self, stage: Stage, *, ts: int, reason: str, by: str, evidence: str = ""
    ) -> Stage | None:
        """Record ``stage`` and append the change, atomically; the stage it left."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            old = self._db.execute("SELECT stage FROM stage WHERE id = 1").fetchone()
            previous = Stage(old[0]) if old is not None else None
            self._db.execute(
                "INSERT INTO stage(id, stage, since_ts, by) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET stage = excluded.stage, "
                "since_ts = excluded.since_ts, by = excluded.by",
                (stage.value, ts, by),
            )
            self._db.execute(
                "INSERT INTO stage_history(ts, stage, previous, reason, by, evidence)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    ts,
                    stage.value,
                    None if previous is None else previous.value,
                    reason,
                    by,
                    evidence,
                ),
            )
        self._data_version = self._version()
        return previous

    def history(self) -> list[StageChange]:
        rows = self._db.execute(
            "SELECT seq, ts, stage, previous, reason, by, evidence FROM stage_history ORDER BY seq"
        ).fetchall()
        return [
            StageChange(
                seq=r[0],
                ts=r[1],
                stage=Stage(r[2]),
                previous=None if r[3] is None else Stage(r[3]),
                reason=r[4],
                by=r[5],
                evidence=r[6],
            )
            for r in rows
        ]


def read_stage(data_dir: str | Path) -> Stage | None:
    """The folder's stage, read-only (nothing is created or migrated): None
    when no stage was ever recorded."""
    path = state_path(data_dir)
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        check_readable(db, STATE_SCHEMA, path)
        known = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stage'"
        ).fetchone()
        row = db.execute("SELECT stage FROM stage WHERE id = 1").fetchone() if known else None
    finally:
        db.close()
    return None if row is None else Stage(row[0])
