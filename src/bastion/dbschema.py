"""Schema versions of the data folder's SQLite files, and their migrations.

A bot's records are kept for seven years; the code that reads them changes
more often than that. Every file carries its schema's version in SQLite's
``user_version``: opening a file of an older version migrates it in one
transaction (each step appended to ``schema_log``, with when and from what),
and a file of a *newer* version than this code knows is refused with one
line, before anything is read or written: an old bastion must never write
into a layout it does not understand.

Version 1 is the layout of before versions existed (``user_version`` 0 and
the tables present): such a file is migrated like any version-1 file. A file
with no tables is new and is created at the current version.

Imports nothing from bastion: the journal, the state stores and the paper
book (three layers that may not import each other) all use it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOG_TABLE = """CREATE TABLE IF NOT EXISTS schema_log (
    seq     INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    came_from INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    note    TEXT NOT NULL
)"""
# The database stamps the time: no clock is read here, and none is needed.
_LOG_ROW = (
    "INSERT INTO schema_log(version, came_from, ts, note)"
    " VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), ?)"
)


class SchemaTooNew(RuntimeError):
    """A file written by a newer bastion than this one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """One file's schema: ``create`` builds the current layout (idempotent:
    ``IF NOT EXISTS``); ``steps[v]`` are the statements that take version
    ``v - 1`` to ``v``; ``tables`` tell an old unversioned file from a new one."""

    name: str
    version: int
    create: str
    tables: Sequence[str]
    steps: Mapping[int, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [v for v in range(2, self.version + 1) if v not in self.steps]
        if missing:
            raise ValueError(f"{self.name}: no migration step to version {missing[0]}")


def found_version(db: sqlite3.Connection, schema: Schema) -> int:
    """The file's version: ``user_version``, or 1 for an unversioned file that
    holds the tables, or 0 for an empty one."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version:
        return version
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return 1 if names & set(schema.tables) else 0


def refuse_newer(version: int, schema: Schema, path: str | Path) -> None:
    if version > schema.version:
        raise SchemaTooNew(
            f"{path}: its {schema.name} schema is version {version}, newer than this "
            f"bastion knows (up to {schema.version}): it was written by a newer bastion; "
            "upgrade bastion to open this data folder (nothing was changed)"
        )


def check_readable(db: sqlite3.Connection, schema: Schema, path: str | Path) -> int:
    """For read-only openers: the file's version, refused when newer."""
    version = found_version(db, schema)
    refuse_newer(version, schema, path)
    return version


def open_schema(db: sqlite3.Connection, schema: Schema, path: str | Path) -> int:
    """Bring the file at ``db`` to ``schema``: create it, migrate it, or refuse
    it (``SchemaTooNew``). Returns the version it was found at (0: new).

    ``db`` is in autocommit mode (``isolation_level=None``). The version is
    re-read inside the write transaction, so two processes opening an old file
    at once migrate it once."""
    first = check_readable(db, schema, path)
    if first == schema.version:
        db.executescript(schema.create)  # tables added since, within the version
        return first
    db.execute("BEGIN IMMEDIATE")
    try:
        found = found_version(db, schema)
        refuse_newer(found, schema, path)
        if found == 0:
            _create(db, schema)
        else:
            _migrate(db, schema, found)
        db.execute(f"PRAGMA user_version = {int(schema.version)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _create(db: sqlite3.Connection, schema: Schema) -> None:
    for statement in _statements(schema.create):
        db.execute(statement)
    db.execute(LOG_TABLE)
    db.execute(_LOG_ROW, (schema.version, 0, f"created {schema.name} v{schema.version}"))


def _migrate(db: sqlite3.Connection, schema: Schema, found: int) -> None:
    db.execute(LOG_TABLE)
    for version in range(found + 1, schema.version + 1):
        for statement in schema.steps[version]:
            db.execute(statement)
        db.execute(
            _LOG_ROW, (version, version - 1, f"migrated {schema.name} v{version - 1} to v{version}")
        )
    for statement in _statements(schema.create):
        db.execute(statement)


def _statements(script: str) -> list[str]:
    """``script`` split into whole statements (a trigger's body keeps its ``;``)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
