"""A simulated venue whose state outlives the bot process.

Crash tests kill the bot with SIGKILL mid-submit and start it again; the
exchange must not forget what it was told in between. This wrapper saves the
whole simulated venue to a file after every call that can change it (atomic
rename, fsync'd), and loads it on construction. It is a test double for an
exchange, not a database: one process at a time.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

from bastion.model import AccountSnapshot, Fill, Instrument, OrderReport, OrderRequest
from bastion.venues.port import VenueEvent
from bastion.venues.sim.venue import SimVenue


class DurableSimVenue:
    """Implements the venue port over a ``SimVenue`` persisted at ``path``."""

    def __init__(self, path: str | Path, factory: SimVenue | None = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            with self.path.open("rb") as fh:
                self.sim: SimVenue = pickle.load(fh)
        elif factory is not None:
            self.sim = factory
            self.save()
        else:
            raise FileNotFoundError(f"no venue state at {self.path} and no venue to start from")

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(self.sim, fh, protocol=5)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @property
    def version(self) -> int:
        return self.sim.version

    # market data and time (the test drives these)
    def on_bar(
        self, symbol: str, ts: int, o: float, h: float, low: float, c: float, v: float
    ) -> None:
        self.sim.on_bar(symbol, ts, o, h, low, c, v)
        self.save()

    def set_time(self, now: int) -> None:
        self.sim.set_time(now)

    # the port
    def instruments(self) -> Mapping[str, Instrument]:
        return self.sim.instruments()

    def submit(self, request: OrderRequest) -> OrderReport:
        try:
            return self.sim.submit(request)
        finally:
            self.save()

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        try:
            return self.sim.cancel(symbol, client_id)
        finally:
            self.save()

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        return self.sim.fetch_order(symbol, client_id)

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]:
        return self.sim.fetch_open_orders(symbol)

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        return self.sim.fetch_fills(since_ts, symbol)

    def fetch_account(self) -> AccountSnapshot:
        return self.sim.fetch_account()

    def drain_events(self) -> Sequence[VenueEvent]:
        events = self.sim.drain_events()
        if events:
            self.save()
        return events
