"""The paper book: a simulated venue kept in the bot's data folder.

A paper bot is a rehearsal of a live one, so its account must behave like an
exchange account: it is still there after the bot restarts (balances,
positions, resting orders and fills continue; ``paper_balances`` only opens a
new book), and the kill switch, a separate process, can act on it.

The book lives in ``paper.sqlite`` (WAL). Two processes may hold it: the bot
and a kill. They never both write, and neither overwrites the other's change:

- every call that can change the book runs inside one write transaction
  (``BEGIN IMMEDIATE``: SQLite's write lock, so at most one process changes
  the book at a time);
- inside it, the book's revision is compared with the one this process last
  read or wrote; when another process wrote since, the book is reloaded
  *before* the call acts (its unsaved marks are the only thing dropped);
- the call's changes and the next revision are committed together.

A read (an account snapshot, an order lookup) reloads first when another
connection committed since (SQLite's ``data_version``: a cheap check). So the
kill acts on the book as it is on disk, wherever the bot is in its cycle, and
the bot, alive, hung or restarted, continues from what the kill left, exactly
as it would find an exchange account a kill had flattened. A process stopped
while it holds the write lock (SIGSTOP mid-call) blocks the other's writes for
at most ``busy_timeout_s``; the blocked call raises ``PaperBookBusy`` (a
``VenueUnavailable``: an exchange that did not answer), never a silent skip.

``settle_market`` is the kill's mode: no market data reaches a kill process,
so a market order there is filled at once at the last price the book recorded
(a kill closes at the last known price, as a real market order would fill near
it); with no recorded price it is refused, and the kill reports what remains.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.dbschema import Schema, open_schema
from bastion.model import AccountSnapshot, Fill, Instrument, OrderReport, OrderRequest, OrderType
from bastion.venues.errors import InvalidOrder, VenueUnavailable
from bastion.venues.port import VenueEvent
from bastion.venues.sim import snapshot
from bastion.venues.sim.venue import SimVenue

PAPER_FILE = "paper.sqlite"
MARKS_EVERY_MS = 1_000  # last prices reach the file at least this often (a kill closes at them)

SCHEMA = """
CREATE TABLE IF NOT EXISTS book (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    rev         INTEGER NOT NULL,
    instruments TEXT    NOT NULL,
    state       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY,
    row       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY,
    row TEXT    NOT NULL
);
"""
# v1: before versions. v2: versioned (``schema_log``).
PAPER_SCHEMA = Schema(name="paper book", version=2, create=SCHEMA, tables=("book",), steps={2: ()})


class PaperBookBusy(VenueUnavailable):
    """Another process holds the paper book's write lock past the timeout."""


def paper_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / PAPER_FILE


class PaperVenue:
    """The venue port over a ``SimVenue`` persisted at ``path``. Thread-safe."""

    def __init__(
        self,
        path: str | Path,
        sim: SimVenue,
        *,
        settle_market: bool = False,
        clock: Callable[[], int] | None = None,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.sim = sim
        self.settle_market = settle_market
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        open_schema(self._db, PAPER_SCHEMA, self.path)  # migrates an old one; refuses a newer
        self.rev = -1
        self._data_version = -1
        self._fills_saved = 0
        self._marks_saved_ms = 0
        self.busy_skips = 0  # trades not matched because another process held the book

    # ------------------------------------------------------------- opening
    @classmethod
    def open(
        cls, data_dir: str | Path, instruments: Sequence[Instrument], balances: Mapping[str, Any]
    ) -> tuple[PaperVenue, bool]:
        """The bot's book in ``data_dir``: continued when there is one (True),
        else a new one holding ``balances``. ``instruments`` (fresh from the
        exchange) replace the stored ones: increments and fees follow the market."""
        path = paper_path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        book = cls(path, SimVenue(instruments, {k: Decimal(str(v)) for k, v in balances.items()}))
        with book._lock:
            book._begin()
            try:
                continued = book._stored_rev() is not None
                if continued:
                    book._reload()
                book._save(0, instruments=instruments)
                book._db.execute("COMMIT")
            except BaseException:
                book._db.execute("ROLLBACK")
                raise
        return book, continued

    @classmethod
    def attach(
        cls, data_dir: str | Path, *, clock: Callable[[], int], busy_timeout_s: float = 5.0
    ) -> PaperVenue | None:
        """The kill's handle on a bot's book (market orders settle at the last
        price); None when the folder holds no paper book."""
        path = paper_path(data_dir)
        if not path.exists():
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_timeout_s)
        try:
            row = db.execute("SELECT instruments FROM book WHERE id = 1").fetchone()
        except sqlite3.Error:
            row = None
        finally:
            db.close()
        if row is None:
            return None
        instruments = [snapshot.instrument_from(r) for r in json.loads(row[0])]
        book = cls(
            path,
            SimVenue(instruments, {}),
            settle_market=True,
            clock=clock,
            busy_timeout_s=busy_timeout_s,
        )
        with book._lock:
            book._reload()
        return book

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ the port
    @property
    def version(self) -> int:
        return self.sim.version

    def instruments(self) -> Mapping[str, Instrument]:
        return self.sim.instruments()

    def submit(self, request: OrderRequest) -> OrderReport:
        with self._write():
            if self.settle_market:
                return self._submit_settled(request)
            return self.sim.submit(request)

    def submit_oco(self, take_profit: OrderRequest, stop: OrderRequest) -> list[OrderReport]:
        with self._write():
            return self.sim.submit_oco(take_profit, stop)

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        with self._write():
            return self.sim.cancel(symbol, client_id)

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        with self._read():
            return self.sim.fetch_order(symbol, client_id)

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        with self._read():
            return self.sim.fetch_open_orders(symbol)

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        with self._read():
            return self.sim.fetch_fills(since_ts, symbol)

    def fetch_account(self) -> AccountSnapshot:
        with self._read():
            return self.sim.fetch_account()

    def drain_events(self) -> Sequence[VenueEvent]:
        with self._lock:
            return self.sim.drain_events()

    # --------------------------------------------------------- market data
    def on_trade(self, symbol: str, ts: int, price: float, qty: float) -> None:
        """A trade on the live tape: match the book's orders against it.

        Without a working order on ``symbol`` only the last price moves, and
        reaches the file at most every ``MARKS_EVERY_MS``: a write per trade
        would cost more than the paper bot's whole cycle."""
        with self._lock:
            idle = not self.sim.fetch_open_orders(symbol)
            if idle and ts - self._marks_saved_ms < MARKS_EVERY_MS:
                self.sim.on_trade(symbol, ts, price, qty)
                return
            try:
                with self._write(marks=True):
                    self.sim.on_trade(symbol, ts, price, qty)
            except PaperBookBusy:
                self.busy_skips += 1  # a kill holds the book: this trade matches nothing
                return
            self._marks_saved_ms = ts

    def last_price(self, symbol: str) -> float | None:
        with self._lock:
            return self.sim.last_price(symbol)

    # ----------------------------------------------------------- internals
    def _submit_settled(self, request: OrderRequest) -> OrderReport:
        if request.type is OrderType.MARKET and self.sim.last_price(request.symbol) is None:
            raise InvalidOrder(f"{request.symbol}: the paper book has no recorded price")
        report = self.sim.submit(request)
        last = self.sim.last_price(request.symbol)
        if request.type is OrderType.MARKET and report.status.working and last is not None:
            self.sim.on_trade(request.symbol, self.sim.now, last, float(report.remaining))
            report = self.sim.fetch_order(request.symbol, request.client_id) or report
        self.sim.drain_events()  # nobody listens in a kill process
        return report

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock:
            try:
                version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
                if version != self._data_version:
                    self._data_version = version
                    if self._stored_rev() != self.rev:
                        self._reload()
            except sqlite3.Error as exc:
                raise PaperBookBusy(f"paper book {self.path}: {exc}") from exc
            yield

    @contextmanager
    def _write(self, *, marks: bool = False) -> Iterator[None]:
        """One call's changes as one transaction, on the book as it is on disk."""
        with self._lock:
            try:
                self._begin()
                if self._stored_rev() != self.rev:
                    self._reload()
            except sqlite3.Error as exc:
                self._rollback()
                raise PaperBookBusy(f"paper book {self.path}: {exc}") from exc
            if self._clock is not None:
                self.sim.set_time(max(self.sim.now, self._clock()))
            events_from = snapshot.pending_events(self.sim)
            before = (self.sim.version, self.sim.orders_received)
            try:
                yield
            finally:
                try:
                    if marks or before != (self.sim.version, self.sim.orders_received):
                        self._save(events_from)
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise PaperBookBusy(f"paper book {self.path}: {exc}") from exc

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction was open
            self._db.execute("ROLLBACK")

    def _stored_rev(self) -> int | None:
        row = self._db.execute("SELECT rev FROM book WHERE id = 1").fetchone()
        return None if row is None else int(row[0])

    def _reload(self) -> None:
        row = self._db.execute("SELECT rev, state FROM book WHERE id = 1").fetchone()
        if row is None:
            return
        orders = [
            snapshot.order_from(json.loads(r[0]))
            for r in self._db.execute("SELECT row FROM orders")
        ]
        fills = [
            snapshot.fill_from(json.loads(r[0]))
            for r in self._db.execute("SELECT row FROM fills ORDER BY seq")
        ]
        snapshot.restore(self.sim, json.loads(row[1]), orders, fills)
        self.rev = int(row[0])
        self._fills_saved = len(fills)

    def _save(self, events_from: int, instruments: Sequence[Instrument] | None = None) -> None:
        db = self._db
        db.executemany(
            "INSERT INTO orders (client_id, row) VALUES (?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET row = excluded.row",
            [
                (o.client_id, json.dumps(snapshot.order_row(o)))
                for o in snapshot.changed_orders(self.sim, events_from)
            ],
        )
        new_fills = snapshot.fills_since(self.sim, self._fills_saved)
        db.executemany(
            "INSERT INTO fills (seq, row) VALUES (?, ?)",
            [
                (self._fills_saved + n, json.dumps(snapshot.fill_row(f)))
                for n, f in enumerate(new_fills, start=1)
            ],
        )
        self._fills_saved += len(new_fills)
        state = json.dumps(snapshot.meta_row(self.sim))
        self.rev += 1
        if instruments is not None:
            inst = json.dumps([snapshot.instrument_row(i) for i in instruments])
            db.execute(
                "INSERT INTO book (id, rev, instruments, state) VALUES (1, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, "
                "instruments = excluded.instruments, state = excluded.state",
                (self.rev, inst, state),
            )
        else:
            db.execute("UPDATE book SET rev = ?, state = ? WHERE id = 1", (self.rev, state))
