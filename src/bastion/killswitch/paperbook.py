"""The kill's hands on a paper bot: its paper book, never the exchange.

A paper config's kill must not send one request to the exchange, keys in
the environment or not: the exchange account is not the paper bot's (a
paper kill once sold an account's real BTC). So on a paper config the kill
switch's venues are handles on the book in the bot's data folder
(``bastion.venues.sim.paper``), and the kill runs the same rounds as a live
one (flag and latch first, cancel, re-read, close, check) against it.

How a kill acts on a book that a running bot holds: directly, in every case,
without waiting for the bot. Each of the kill's calls is one write
transaction on the file (SQLite's write lock: the bot and the kill never both
write) that first reloads the book if the bot wrote since, and the bot does
the same before each of its own changes, so neither ever overwrites the
other. A live bot, a hung one (SIGSTOP) and a dead one are handled alike; a
kill need not wait up to a bar for the bot's next cycle, and the flag stops
the bot sending new paper orders from its next cycle on, as it does live.
Closing orders fill at once at the last price the book recorded.

The book is attached lazily and re-looked for on every call until found: a
sentinel started before its bot must see the book the bot creates later.
Without a book there is nothing paper to close: the account reads empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from bastion.clock import wall_ms as read_wall_clock
from bastion.model import AccountSnapshot, Fill, Instrument, OrderReport, OrderRequest
from bastion.venues.errors import BadSymbol, InvalidOrder, OrderNotFound
from bastion.venues.port import Venue, VenueEvent
from bastion.venues.sim.paper import PaperVenue, paper_path


class PaperBooks:
    """One bot's paper book, shared by the kill's per-symbol handles."""

    def __init__(self, data_dir: Path, *, wall_ms: Callable[[], int] = read_wall_clock) -> None:
        self.data_dir = data_dir
        self.wall_ms = wall_ms
        self._book: PaperVenue | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return paper_path(self.data_dir)

    def book(self) -> PaperVenue | None:
        with self._lock:
            if self._book is None:
                self._book = PaperVenue.attach(self.data_dir, clock=self.wall_ms)
            return self._book

    def describe(self) -> str:
        return f"paper book {self.path}" if self.book() is not None else "no paper book yet"

    def factory(self, symbol: str) -> Venue:
        """The VenueSet's factory: a handle for ``symbol`` (BadSymbol when the
        book exists and does not list it)."""
        book = self.book()
        if book is not None and symbol not in book.instruments():
            raise BadSymbol(f"{symbol} is not in the paper book {self.path}")
        return PaperHandle(self, symbol)

    def close(self) -> None:
        with self._lock:
            book, self._book = self._book, None
        if book is not None:
            book.close()


class PaperHandle:
    """The venue port for one symbol of the book (an empty account until the
    book exists)."""

    def __init__(self, books: PaperBooks, symbol: str) -> None:
        self.books = books
        self.symbol = symbol

    def _book(self) -> PaperVenue | None:
        return self.books.book()

    def instruments(self) -> Mapping[str, Instrument]:
        book = self._book()
        if book is not None and self.symbol in book.instruments():
            return book.instruments()
        return MappingProxyType({self.symbol: Instrument.spot(self.symbol)})

    def submit(self, request: OrderRequest) -> OrderReport:
        book = self._book()
        if book is None:
            raise InvalidOrder(f"no paper book in {self.books.data_dir}")
        return book.submit(request)

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        book = self._book()
        if book is None:
            raise OrderNotFound(f"no paper book in {self.books.data_dir}")
        return book.cancel(symbol, client_id)

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        book = self._book()
        return None if book is None else book.fetch_order(symbol, client_id)

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        book = self._book()
        return () if book is None else book.fetch_open_orders(symbol)

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        book = self._book()
        return () if book is None else book.fetch_fills(since_ts, symbol)

    def fetch_account(self) -> AccountSnapshot:
        book = self._book()
        if book is not None:
            return book.fetch_account()
        return AccountSnapshot(
            ts=self.books.wall_ms(),
            quote_asset=self.symbol.partition("/")[2],
            balances=MappingProxyType({}),
            positions=MappingProxyType({}),
            open_orders=(),
        )

    def drain_events(self) -> Sequence[VenueEvent]:
        return ()
