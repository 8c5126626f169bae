"""Every SQLite file the bot writes keeps a small WAL: a truncating checkpoint
that never waits for a reader, tried again until it succeeds."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bastion import sqlite_wal
from bastion.observe.journal import Journal
from bastion.state.orders import OrderStore


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_reader_holding_a_snapshot_never_blocks_the_checkpoint_and_is_waited_out(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    for i in range(300):
        journal.append("tick", i, {"i": i, "pad": "x" * 200})
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM events").fetchone()  # a snapshot held open
    journal.append("tick", 301, {"i": 301})

    started = time.perf_counter()
    held = journal.checkpoint()
    waited = time.perf_counter() - started

    assert held is False
    assert waited < 0.5  # no busy wait behind the reader
    assert _wal(path) > 0
    reader.execute("COMMIT")
    reader.close()
    assert journal.checkpoint() is True
    assert _wal(path) == 0  # folded in and cut to zero
    assert len(list(sqlite3.connect(path).execute("SELECT seq FROM events"))) == 301
    journal.close()


def test_the_order_store_truncates_once_enough_writes_accumulate(tmp_path):
    store = OrderStore(tmp_path / "state.sqlite")
    for i in range(50):
        store.set_value("heartbeat", str(i))
    assert _wal(store.path) > 0

    store.checkpoint(every=100)  # not yet
    assert _wal(store.path) > 0
    store.checkpoint(every=50)

    assert _wal(store.path) == 0
    assert store.get_value("heartbeat") == "49"
    store.close()


def test_truncate_restores_the_busy_timeout(tmp_path):
    db = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=1234")

    assert sqlite_wal.truncate(db) is True
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
