"""Keep a SQLite file's write-ahead log small without ever waiting for it.

In WAL mode every commit appends to ``<file>-wal``; a checkpoint copies the
pages back into the database. A PASSIVE checkpoint (SQLite's automatic one)
never shrinks the file, and cannot restart the log while a reader holds an
old snapshot, so on a bot that commits every cycle the WAL grows without
bound. ``truncate`` asks for a TRUNCATE checkpoint with no busy wait: when no
reader holds the log it is folded in and cut to zero bytes; when one does,
SQLite checkpoints what it can (as PASSIVE would) and the next call finishes
the job. It never blocks a cycle behind a reader.
"""

from __future__ import annotations

import sqlite3


def truncate(db: sqlite3.Connection) -> bool:
    """Checkpoint ``db``'s WAL and truncate it; False when a reader or a writer
    held it (nothing is lost: the log is folded in at a later call). Call it
    outside any transaction."""
    (timeout,) = db.execute("PRAGMA busy_timeout").fetchone()
    db.execute("PRAGMA busy_timeout=0")
    try:
        row = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:  # locked by another writer this instant
        return False
    finally:
        db.execute(f"PRAGMA busy_timeout={int(timeout)}")
    return row is not None and int(row[0]) == 0
