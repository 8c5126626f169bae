"""The bot's share of an account, on disk: per asset, the *baseline* (held, not
the bot's) and the *adopted* quantity (not from the bot's fills, but the bot's).

A real account holds more than the bot trades. At the first start on a data
folder the reconciler records what the account holds as the baseline (unless
the config adopts an asset); from then on the bot's position is the
exchange's holding minus the baseline, and a change nothing the bot did
explains moves the baseline or the adopted quantity, per the config's policy.
Both live here so that a restart neither forgets them nor raises the same
change again, and ``bastion account baseline`` changes them from another
process, each change appended to ``baseline_history`` with who and why.

The tables sit in the state store's file (``latch.sqlite``): like the latch,
they are read at start, checked for changes every cycle and written rarely.
This connection is its own, so ``changed()`` notices another process's
commit without consuming the latch's own change check.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bastion.state.store import StateStore, state_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline (
    asset    TEXT PRIMARY KEY,
    baseline TEXT NOT NULL,
    adopted  TEXT NOT NULL DEFAULT '0',
    ts       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline_history (
    seq      INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    asset    TEXT NOT NULL,
    baseline TEXT NOT NULL,
    adopted  TEXT NOT NULL,
    previous TEXT,
    reason   TEXT NOT NULL,
    by       TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetShare:
    """One asset's split: ``baseline`` is not the bot's; ``adopted`` is the bot's
    although no fill of the bot's explains it."""

    baseline: Decimal
    adopted: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineChange:
    seq: int
    ts: int
    asset: str
    baseline: Decimal
    adopted: Decimal
    previous: Decimal | None
    reason: str
    by: str


class BaselineStore(StateStore):
    """Baselines and adopted quantities per asset. ``recorded()`` is False until
    the first start on the folder has written them. The state store's file and
    its connection rules (WAL, full sync, ``changed()``), on a connection of its
    own."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._db.executescript(SCHEMA)
        self._data_version = self._version()

    def __enter__(self) -> BaselineStore:
        return self

    def recorded(self) -> bool:
        return self._db.execute("SELECT 1 FROM baseline_history LIMIT 1").fetchone() is not None

    def load(self) -> dict[str, AssetShare]:
        rows = self._db.execute("SELECT asset, baseline, adopted FROM baseline").fetchall()
        return {a: AssetShare(baseline=Decimal(b), adopted=Decimal(d)) for a, b, d in rows}

    def save(self, changes: dict[str, AssetShare], *, ts: int, reason: str, by: str) -> None:
        """Store every asset of ``changes`` and append each to the history, in one
        transaction. An empty ``changes`` still records that a baseline was taken
        (an account that held nothing)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if not changes:
                self._db.execute(
                    "INSERT INTO baseline_history(ts, asset, baseline, adopted, previous, reason,"
                    " by) VALUES (?, '', '0', '0', NULL, ?, ?)",
                    (ts, reason, by),
                )
            for asset, share in sorted(changes.items()):
                old = self._db.execute(
                    "SELECT baseline FROM baseline WHERE asset = ?", (asset,)
                ).fetchone()
                self._db.execute(
                    "INSERT INTO baseline(asset, baseline, adopted, ts) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(asset) DO UPDATE SET baseline = excluded.baseline, "
                    "adopted = excluded.adopted, ts = excluded.ts",
                    (asset, str(share.baseline), str(share.adopted), ts),
                )
                self._db.execute(
                    "INSERT INTO baseline_history(ts, asset, baseline, adopted, previous, reason,"
                    " by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        ts,
                        asset,
                        str(share.baseline),
                        str(share.adopted),
                        None if old is None else old[0],
                        reason,
                        by,
                    ),
                )
        self._data_version = self._version()

    def history(self, asset: str | None = None) -> list[BaselineChange]:
        sql = "SELECT seq, ts, asset, baseline, adopted, previous, reason, by FROM baseline_history"
        rows = self._db.execute(
            sql + (" WHERE asset = ? ORDER BY seq" if asset else " ORDER BY seq"),
            (asset,) if asset else (),
        ).fetchall()
        return [
            BaselineChange(
                seq=r[0],
                ts=r[1],
                asset=r[2],
                baseline=Decimal(r[3]),
                adopted=Decimal(r[4]),
                previous=None if r[5] is None else Decimal(r[5]),
                reason=r[6],
                by=r[7],
            )
            for r in rows
        ]


class BaselineUnreadable(RuntimeError):
    """The folder has a state store whose baselines cannot be read."""


def read_floors(data_dir: str | Path) -> dict[str, Decimal]:
    """The baselines in a data folder, read-only (the kill switch, the sentinel):
    empty when no bot recorded any there. Raises ``BaselineUnreadable`` when the
    store exists but cannot be read: a kill must then not guess the bot's share."""
    path = state_path(data_dir)
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
        try:
            known = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'baseline'"
            ).fetchone()
            rows = db.execute("SELECT asset, baseline FROM baseline").fetchall() if known else []
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise BaselineUnreadable(f"{path}: {exc}") from exc
    return {a: Decimal(b) for a, b in rows if Decimal(b)}
