"""The venue port: the whole I/O boundary between bastion and an exchange.

One method per command plus the report fetchers the reconciler needs. The
simulated venue implements it synchronously; the live adapter implements the
same calls over ccxt. Private updates (order changes, fills) are delivered as
events the shell drains each cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bastion.model import AccountSnapshot, Fill, Instrument, OrderReport, OrderRequest


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """The venue changed an order's state."""

    report: OrderReport


@dataclass(frozen=True, slots=True)
class FillReceived:
    """The venue executed (part of) an order."""

    fill: Fill


VenueEvent = OrderUpdated | FillReceived


class Venue(Protocol):
    """What bastion needs from an exchange."""

    def instruments(self) -> Mapping[str, Instrument]:
        """Tradable instruments with their increments, minimums and fees."""
        ...

    def submit(self, request: OrderRequest) -> OrderReport:
        """Place an order under ``request.client_id``; raises a ``VenueError``."""
        ...

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        """Cancel by client id; raises ``OrderNotFound`` when there is no such open order."""
        ...

    def fetch_order(self, symbol: str, client_id: str) -> OrderReport | None:
        """The order with this client id, open or closed, or None if the venue never saw it."""
        ...

    def fetch_open_orders(self, symbol: str | None = None) -> Sequence[OrderReport]: ...

    def fetch_fills(self, since_ts: int = 0, symbol: str | None = None) -> Sequence[Fill]:
        """Our executions at or after ``since_ts``."""
        ...

    def fetch_account(self) -> AccountSnapshot:
        """Balances, positions and open orders as the venue holds them now."""
        ...

    def drain_events(self) -> Sequence[VenueEvent]:
        """Private updates received since the last call, in arrival order."""
        ...
