"""The journal: append-only, and safe to append to from several threads (the
live loop's feed, cycle worker and venue thread all write to it)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from bastion.observe.journal import Journal, read_events


def test_concurrent_appends_lose_nothing(tmp_path):
    journal = Journal(tmp_path / "j.sqlite", flush_every=7)
    per_thread, threads = 2_000, 4

    def writer(k: int) -> None:
        for i in range(per_thread):
            journal.append("tick", i, {"thread": k, "i": i})

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    journal.close()

    events = list(read_events(tmp_path / "j.sqlite"))
    assert len(events) == per_thread * threads
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for k in range(threads):
        mine = [e["i"] for e in events if e["thread"] == k]
        assert mine == list(range(per_thread))  # each writer's order is kept


def test_rows_cannot_be_changed_or_deleted(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.append("fill", 1, {"qty": "1"})
    db = sqlite3.connect(tmp_path / "j.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")
    assert [e["kind"] for e in read_events(tmp_path / "j.sqlite")] == ["fill"]
