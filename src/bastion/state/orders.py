"""The order store: every client id is on disk before its first send.

SQLite in WAL mode. A committed row survives the process dying at any point
(SIGKILL included): WAL commits are in the OS page cache before ``commit``
returns. With ``synchronous=NORMAL`` (the default here) a *power loss* can
drop the last few commits; ``durable=True`` selects ``synchronous=FULL``,
which fsyncs every commit and survives power loss at the cost of a disk flush
per order (see docs/benchmarks.md for what that costs).

What is stored is what restart recovery needs: every order's request and last
known state, the trade ids already applied (fill dedupe across restarts), the
folder's random *identity* and a boot counter. Client ids start with both: the
identity keeps two folders apart (two bots of the same name on one account,
or a folder started afresh, must never name an order the other placed), the
boot keeps one folder's processes apart.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bastion import sqlite_wal
from bastion.dbschema import Schema, open_schema
from bastion.model import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    StrategyRef,
    TimeInForce,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_id  TEXT PRIMARY KEY,
    strategy   TEXT NOT NULL,
    version    TEXT NOT NULL,
    symbol     TEXT NOT NULL,
    side       TEXT NOT NULL,
    qty        TEXT NOT NULL,
    type       TEXT NOT NULL,
    price      TEXT,
    tif        TEXT NOT NULL,
    reduces    INTEGER NOT NULL,
    cycle      INTEGER NOT NULL,
    status     TEXT NOT NULL,
    filled     TEXT NOT NULL DEFAULT '0',
    venue_id   TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    created_ts INTEGER NOT NULL,
    updated_ts INTEGER NOT NULL,
    stop_price TEXT,
    stop_kind  TEXT NOT NULL DEFAULT 'stop_loss'
);
CREATE INDEX IF NOT EXISTS orders_open ON orders(status);
CREATE TABLE IF NOT EXISTS fills (
    trade_id  TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    side      TEXT NOT NULL,
    qty       TEXT NOT NULL,
    price     TEXT NOT NULL,
    fee       TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    ts        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_client ON fills(client_id);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# v1: before versions. v2: versioned (``schema_log``); fills indexed by client id
# (the fills export and ``explain`` look fills up by their order). v3: an
# exchange-side stop's trigger (``bastion.execution.protect``).
ORDERS_SCHEMA = Schema(
    name="order store",
    version=3,
    create=SCHEMA,
    tables=("orders", "fills"),
    steps={
        2: ("CREATE INDEX IF NOT EXISTS fills_client ON fills(client_id)",),
        3: (
            "ALTER TABLE orders ADD COLUMN stop_price TEXT",
            "ALTER TABLE orders ADD COLUMN stop_kind TEXT NOT NULL DEFAULT 'stop_loss'",
        ),
    },
)

_OPEN = tuple(s.value for s in OrderStatus if not s.terminal)
IDENTITY_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
IDENTITY_LEN = 8  # 36**8: two folders share one with odds of about 1 in 2.8e12


@dataclass(frozen=True, slots=True)
class StoredOrder:
    request: OrderRequest
    status: OrderStatus
    filled: Decimal
    venue_id: str
    reason: str
    created_ts: int
    updated_ts: int


class OrderStore:
    """Orders, applied fills and counters in one SQLite file."""

    def __init__(
        self, path: str | Path, *, durable: bool = False, cache_kib: int | None = None
    ) -> None:
        """``cache_kib`` caps SQLite's page cache on this connection (its default
        is about 2 MB, which a growing file fills page by page)."""
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=5000")
        if cache_kib is not None:
            self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        # Checkpoints copy the WAL back into the database: slow, and never
        # needed on the order path. The session runs them between cycles.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        open_schema(self._db, ORDERS_SCHEMA, path)  # migrates an old one; refuses a newer
        self._writes = 0
        self._closed = False

    def close(self) -> None:
        """Checkpoint and close; closing twice is harmless."""
        if self._closed:
            return
        self.checkpoint()
        self._db.close()
        self._closed = True

    def checkpoint(self, *, every: int = 0) -> None:
        """Fold the WAL into the database and truncate it, never waiting for a
        reader (``bastion.sqlite_wal``). With ``every``, only once that many
        writes have accumulated; a checkpoint a reader kept from finishing is
        tried again at the next call."""
        if self._writes >= every and sqlite_wal.truncate(self._db):
            self._writes = 0

    # ---------------------------------------------------------------- orders
    def save_order(self, request: OrderRequest, status: OrderStatus, ts: int) -> None:
        """Record a new order (before it is sent). A second save of the same id fails."""
        r = request
        self._db.execute(
            "INSERT INTO orders(client_id, strategy, version, symbol, side, qty, type, price, tif,"
            " reduces, cycle, status, created_ts, updated_ts, stop_price, stop_kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.client_id,
                r.strategy.id,
                r.strategy.version,
                r.symbol,
                r.side.value,
                str(r.qty),
                r.type.value,
                None if r.price is None else str(r.price),
                r.tif.value,
                int(r.reduces_exposure),
                r.cycle,
                status.value,
                ts,
                ts,
                None if r.stop_price is None else str(r.stop_price),
                r.stop_kind.value,
            ),
        )
        self._writes += 1

    def update_order(
        self,
        client_id: str,
        *,
        status: OrderStatus,
        filled: Decimal,
        venue_id: str,
        reason: str,
        ts: int,
    ) -> None:
        self._db.execute(
            "UPDATE orders SET status = ?, filled = ?, venue_id = ?, reason = ?, updated_ts = ?"
            " WHERE client_id = ?",
            (status.value, str(filled), venue_id, reason, ts, client_id),
        )
        self._writes += 1

    def open_orders(self) -> list[StoredOrder]:
        """Every order not known to be terminal: what recovery must resolve."""
        marks = ",".join("?" * len(_OPEN))
        rows = self._db.execute(f"SELECT * FROM orders WHERE status IN ({marks})", _OPEN)
        return [_row_to_order(row) for row in rows]

    def all_orders(self) -> Iterator[StoredOrder]:
        for row in self._db.execute("SELECT * FROM orders ORDER BY created_ts, client_id"):
            yield _row_to_order(row)

    def get(self, client_id: str) -> StoredOrder | None:
        row = self._db.execute("SELECT * FROM orders WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else _row_to_order(row)

    # ----------------------------------------------------------------- fills
    def record_fill(self, fill: Fill) -> bool:
        """Store a fill; False when its trade id was already applied."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fill.trade_id,
                fill.client_id,
                fill.symbol,
                fill.side.value,
                str(fill.qty),
                str(fill.price),
                str(fill.fee),
                fill.fee_asset,
                fill.liquidity.value,
                fill.ts,
            ),
        )
        self._writes += 1
        return cur.rowcount == 1

    def trade_ids(self) -> set[str]:
        return {t for (t,) in self._db.execute("SELECT trade_id FROM fills")}

    def fills(self) -> list[Fill]:
        from bastion.model import Liquidity

        out = []
        for row in self._db.execute("SELECT * FROM fills ORDER BY ts, rowid"):
            tid, cid, sym, side, qty, price, fee, fee_asset, liq, ts = row
            out.append(
                Fill(
                    trade_id=tid,
                    client_id=cid,
                    venue_order_id="",
                    symbol=sym,
                    side=Side(side),
                    qty=Decimal(qty),
                    price=Decimal(price),
                    fee=Decimal(fee),
                    fee_asset=fee_asset,
                    liquidity=Liquidity(liq),
                    ts=ts,
                )
            )
        return out

    # -------------------------------------------------------------- counters
    def identity(self) -> str:
        """The folder's random identity, drawn once when the store is created and
        kept for its lifetime (a restart keeps it; a fresh folder draws anew)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM kv WHERE key = 'identity'").fetchone()
            if row is not None:
                return str(row[0])
            ident = "".join(secrets.choice(IDENTITY_CHARS) for _ in range(IDENTITY_LEN))
            self._db.execute("INSERT INTO kv(key, value) VALUES ('identity', ?)", (ident,))
        return ident

    def next_boot(self) -> int:
        """A counter bumped once per process start: part of every run id."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM kv WHERE key = 'boot'").fetchone()
            boot = int(row[0]) + 1 if row else 1
            self._db.execute(
                "INSERT INTO kv(key, value) VALUES ('boot', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(boot),),
            )
        return boot

    def get_value(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_value(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        self._writes += 1


def _row_to_order(row: tuple[object, ...]) -> StoredOrder:
    (
        cid,
        strategy,
        version,
        symbol,
        side,
        qty,
        typ,
        price,
        tif,
        reduces,
        cycle,
        status,
        filled,
        venue_id,
        reason,
        created,
        updated,
        stop_price,
        stop_kind,
    ) = row
    request = OrderRequest(
        client_id=str(cid),
        strategy=StrategyRef(id=str(strategy), version=str(version)),
        symbol=str(symbol),
        side=Side(str(side)),
        qty=Decimal(str(qty)),
        type=OrderType(str(typ)),
        price=None if price is None else Decimal(str(price)),
        tif=TimeInForce(str(tif)),
        reduces_exposure=bool(reduces),
        cycle=int(str(cycle)),
        stop_price=None if stop_price is None else Decimal(str(stop_price)),
        stop_kind=StopKind(str(stop_kind)),
    )
    return StoredOrder(
        request=request,
        status=OrderStatus(str(status)),
        filled=Decimal(str(filled)),
        venue_id=str(venue_id),
        reason=str(reason),
        created_ts=int(str(created)),
        updated_ts=int(str(updated)),
    )
