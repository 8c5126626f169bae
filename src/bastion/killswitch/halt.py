"""Set the bot's halt latch from outside the bot: the flag file, then the store.

The ``KILLED`` flag goes first because it cannot be blocked: the state
database may be locked by another process or damaged, and a kill must not
wait on it. The stored latch (the row ``bastion halt``/``resume`` use) is then
written from a worker thread while the kill carries on; its outcome is
reported, and the bot's next cycle halts from the flag either way.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from bastion.state.killflag import write_flag
from bastion.state.store import LatchRow, StateStore, state_path

HALTED = "HALTED"


@dataclass(slots=True)
class HaltResult:
    flag: str = ""
    store: str = "pending"  # "written", "already halted", or the error


class Halt:
    """One halt in progress: the flag is down when this is constructed, the
    store write runs on a thread; ``wait`` collects it."""

    def __init__(self, data_dir: Path, *, reason: str, by: str, now_ms: int) -> None:
        self.result = HaltResult()
        try:
            self.result.flag = str(write_flag(data_dir, reason=reason, ts=now_ms, by=by))
        except OSError as exc:  # a full or read-only disk: the exchange part still runs
            self.result.flag = f"failed: {exc}"
        self._thread = threading.Thread(
            target=self._store, args=(data_dir, reason, by, now_ms), daemon=True
        )
        self._thread.start()

    def _store(self, data_dir: Path, reason: str, by: str, now_ms: int) -> None:
        try:
            with StateStore(data_dir) as store:
                row = store.load_latch()
                if row is not None and row.state == HALTED:
                    self.result.store = "already halted"
                    return
                latch = LatchRow(state=HALTED, reason=reason, since_ts=now_ms, by=by)
                store.save_latch(latch, previous=row.state if row is not None else "ACTIVE")
            self.result.store = "written"
        except (sqlite3.Error, OSError) as exc:
            self.result.store = f"failed: {type(exc).__name__}: {exc}"

    def wait(self, timeout_s: float) -> HaltResult:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.result.store = "still waiting for the database (the flag holds the halt)"
        return self.result


def read_halt(data_dir: Path) -> dict[str, str]:
    """The stored latch for a status page, read-only and without waiting."""
    path = state_path(data_dir)
    if not path.exists():
        return {"state": "ACTIVE", "note": "no latch database yet"}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            row = db.execute("SELECT state, reason, since_ts, by FROM halt WHERE id = 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return {"state": "unknown", "error": f"{type(exc).__name__}: {exc}"}
    if row is None:
        return {"state": "ACTIVE"}
    return {"state": row[0], "reason": row[1], "since_ts": str(row[2]), "by": row[3]}
