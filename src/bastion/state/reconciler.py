"""The reconciler: before every decision, the account comes from the venue.

It compares what the venue holds with what our own fills say we should hold
(the ledger). A difference is *explained* while orders on that symbol are in
flight (fills in transit), otherwise *unexplained*: journaled and alerted,
then adopted, because the exchange is the truth and a position opened or
closed by hand must not be fought. The first snapshot adopts whatever the
account already holds.

A venue that exposes ``version`` (the simulated venue) is only re-read when it
changed, which keeps the check free in a backtest; any other venue is read
every ``refresh_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bastion.model import AccountSnapshot
from bastion.model.money import ZERO
from bastion.venues.port import Venue

Sink = Callable[[str, int, dict[str, Any]], None]


class Reconciler:
    def __init__(
        self, venue: Venue, sink: Sink, *, refresh_ms: int = 0, downtime_ms: int = 0
    ) -> None:
        self._venue = venue
        self._sink = sink
        self.refresh_ms = refresh_ms
        self._account: AccountSnapshot | None = None
        self._version: int | None = None
        self._fetched_at = 0
        self._versioned = hasattr(venue, "version")
        self.downtime_ms = downtime_ms  # a gap between decisions longer than this forces a re-read
        self._last_now: int | None = None
        self._seen_once = False  # the first snapshot of this process: adopt or flag "while down"
        self.baseline: dict[str, Decimal] = {}  # adopted quantities not from our fills
        self.unexplained = 0

    def current(self, now: int) -> AccountSnapshot | None:
        """The cached account if nothing can have changed since it was read, else None."""
        cached = self._account
        last, self._last_now = self._last_now, now
        if cached is None:
            return None
        if self.downtime_ms and last is not None and now - last > self.downtime_ms:
            self._sink("downtime", now, {"since": last, "gap_ms": now - last})
            self._account = None
            return None  # asleep, suspended or partitioned: everything is re-read first
        if self._versioned:
            return cached if self._venue.version == self._version else None  # type: ignore[attr-defined]
        return cached if now - self._fetched_at < self.refresh_ms else None

    def account(
        self,
        now: int,
        ledger: Mapping[str, Decimal],
        in_flight: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    ) -> AccountSnapshot:
        """The venue's account as of ``now``; journals any difference with ``ledger``.

        ``in_flight`` maps a symbol to the (buy, sell) quantity still working in
        our orders: fills of those may be in transit, so any venue position within
        that reach of the ledger is explained.
        """
        cached = self.current(now)
        if cached is not None:
            return cached
        acct = self._venue.fetch_account()
        self._version, self._fetched_at = getattr(self._venue, "version", None), now
        first = not self._seen_once
        self._seen_once = True
        self._account = acct
        self._compare(acct, ledger, in_flight or {}, now, first)
        return acct

    def invalidate(self) -> None:
        """Force a full re-read before the next decision (reconnect, downtime)."""
        self._account = None

    def _compare(
        self,
        acct: AccountSnapshot,
        ledger: Mapping[str, Decimal],
        in_flight: Mapping[str, tuple[Decimal, Decimal]],
        now: int,
        first: bool,
    ) -> None:
        symbols = set(acct.positions) | set(ledger) | set(self.baseline)
        for sym in symbols:
            venue_qty = acct.position(sym)
            expected = self.baseline.get(sym, ZERO) + ledger.get(sym, ZERO)
            buys, sells = in_flight.get(sym, (ZERO, ZERO))
            low, high = expected - sells, expected + buys
            if low <= venue_qty <= high:
                continue  # equal, or explained by fills of our working orders in transit
            delta = venue_qty - high if venue_qty > high else venue_qty - low
            self.baseline[sym] = self.baseline.get(sym, ZERO) + delta
            if first and expected == 0 and not (buys or sells):
                # Holdings that predate this bot's own fills: adopted, quietly.
                self._sink("position_adopted", now, {"symbol": sym, "qty": str(venue_qty)})
                continue
            self.unexplained += 1
            self._sink(
                "reconcile_delta",
                now,
                {
                    "symbol": sym,
                    "venue": str(venue_qty),
                    "expected": str(expected),
                    "in_flight_buys": str(buys),
                    "in_flight_sells": str(sells),
                    "delta": str(delta),
                    "explained": False,
                    "while_down": first,
                    "alert": True,
                },
            )
