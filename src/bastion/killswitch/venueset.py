"""The kill's hands on the exchange: one ccxt connection per shard of symbols.

A kill must be fast when the exchange is slow. ``CcxtVenue.fetch_account``
reads the balances and then each of its symbols' open orders one after the
other, so with 50 ms per call five symbols cost 300 ms per read. The kill
gives each symbol its own connection (its own client, loop and thread) and
reads them in parallel: a read costs two calls' time whatever the number of
symbols. Cancels and closes go out in parallel through the same shards.

Connections are made lazily and remade after a failure: a sentinel started
while the exchange was down still kills once it is back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from bastion.model import AccountSnapshot, Balance, Instrument, OrderReport, OrderRequest, Position
from bastion.venues.errors import (
    AuthenticationError,
    BadSymbol,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from bastion.venues.port import Venue

T = TypeVar("T")
R = TypeVar("R")
VenueFactory = Callable[[str], Venue]  # symbol -> a started venue for it


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """One parallel call's result or the venue error it raised."""

    value: T | None = None
    error: VenueError | None = None


class VenueSet:
    """Venues keyed by symbol, called in parallel. Thread-safe."""

    def __init__(self, symbols: Sequence[str], factory: VenueFactory, *, workers: int = 32) -> None:
        self.symbols = tuple(dict.fromkeys(symbols))
        self._factory = factory
        self._venues: dict[str, Venue] = {}
        self.unknown: dict[str, str] = {}  # symbols the exchange does not list, and why
        self.retry_after_s = 0.0  # the longest wait a rate limit asked for in the last read
        # The keys were refused (missing, wrong, no permission): waiting cures nothing.
        self.keys_refused: str | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bastion-kill")

    # ------------------------------------------------------------ connections
    def connect(self) -> list[str]:
        """Connect every symbol not yet connected, in parallel; returns the errors."""
        with self._lock:
            missing = [s for s in self.symbols if s not in self._venues and s not in self.unknown]
        results = self.map(self._factory, missing)
        errors: list[str] = []
        with self._lock:
            for sym, out in zip(missing, results, strict=True):
                if out.value is not None:
                    self._venues[sym] = out.value
                elif isinstance(out.error, BadSymbol):
                    self.unknown[sym] = str(out.error)
                else:
                    self._note_refusal(out.error)
                    errors.append(f"{sym}: connect: {_describe(out.error)}")
        return errors

    def add(self, symbols: Iterable[str]) -> None:
        """Widen the set (account scope: assets found in the balances)."""
        with self._lock:
            self.symbols = tuple(dict.fromkeys([*self.symbols, *symbols]))

    @property
    def connected(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(s for s in self.symbols if s in self._venues)

    def instruments(self) -> Mapping[str, Instrument]:
        with self._lock:
            return {s: v.instruments()[s] for s, v in self._venues.items()}

    def venue(self, symbol: str) -> Venue:
        with self._lock:
            venue = self._venues.get(symbol)
        if venue is None:
            raise VenueUnavailable(f"{symbol}: not connected")
        return venue

    def drop(self, symbol: str) -> None:
        """Forget a connection that failed, so that ``connect`` makes a new one."""
        with self._lock:
            venue = self._venues.pop(symbol, None)
        close = getattr(venue, "close", None)
        if close is not None:
            self._pool.submit(close)

    # ---------------------------------------------------------------- calls
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Outcome[R]]:
        """``fn`` over ``items`` in parallel; venue errors are returned, not raised."""

        def call(item: T) -> Outcome[R]:
            try:
                return Outcome(value=fn(item))
            except VenueError as exc:
                return Outcome(error=exc)
            except Exception as exc:  # a bug or a library surprise must not stop a kill
                return Outcome(error=VenueUnavailable(f"{type(exc).__name__}: {exc}"))

        return list(self._pool.map(call, items))

    def read(self) -> tuple[AccountSnapshot | None, dict[str, str]]:
        """Every connected symbol's account view, merged, and the symbols that
        could not be read (with why).

        None when no symbol could be read at all. A symbol that failed to read
        is absent from the result's positions: the caller must not take its
        absence for flatness, hence the second value (which also names every
        symbol not connected)."""
        symbols = self.connected
        outs = self.map(lambda s: self.venue(s).fetch_account(), symbols)
        snaps: dict[str, AccountSnapshot] = {}
        with self._lock:
            failed = {
                s: "not connected"
                for s in self.symbols
                if s not in self._venues and s not in self.unknown
            }
        self.retry_after_s = 0.0
        for sym, out in zip(symbols, outs, strict=True):
            if out.value is not None:
                snaps[sym] = out.value
            else:
                self._note_refusal(out.error)
                failed[sym] = f"read: {_describe(out.error)}"
                if isinstance(out.error, RateLimited):  # told to wait: hammering gets a ban
                    self.retry_after_s = max(self.retry_after_s, out.error.retry_after_s or 1.0)
        if not snaps:
            return None, failed
        newest = max(snaps.values(), key=lambda a: a.ts)
        balances: dict[str, Balance] = dict(newest.balances)
        positions: dict[str, Position] = {}
        orders: list[OrderReport] = []
        for sym, snap in snaps.items():
            if sym in snap.positions:
                positions[sym] = snap.positions[sym]
            orders.extend(o for o in snap.open_orders if o.symbol == sym)
        merged = AccountSnapshot(
            ts=newest.ts,
            quote_asset=newest.quote_asset,
            balances=MappingProxyType(balances),
            positions=MappingProxyType(positions),
            open_orders=tuple(orders),
        )
        return merged, failed

    def _note_refusal(self, error: VenueError | None) -> None:
        if isinstance(error, AuthenticationError):
            self.keys_refused = f"{type(error).__name__}: {error}"

    def cancel(self, order: OrderReport) -> OrderReport:
        return self.venue(order.symbol).cancel(order.symbol, order.client_id)

    def submit(self, request: OrderRequest) -> OrderReport:
        return self.venue(request.symbol).submit(request)

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        return self.venue(symbol).fetch_order(symbol, client_id)

    def close(self) -> None:
        with self._lock:
            venues, self._venues = list(self._venues.values()), {}
        for venue in venues:
            close = getattr(venue, "close", None)
            if close is not None:
                close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _describe(exc: BaseException | None) -> str:
    return "unknown error" if exc is None else f"{type(exc).__name__}: {exc}"
