"""What the order manager tracks per order, and where it persists them.

``ManagedOrder`` is bastion's own record of one order from request to terminal
state (the venue's view is an ``OrderReport``); ``OrderStore`` is the port the
manager writes through before every send (``bastion.state.orders`` implements
it); ``CapReached`` is what the manager hands the engine when retries run out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from bastion.model import Fill, OrderReport, OrderRequest, OrderStatus
from bastion.model.money import ZERO

if TYPE_CHECKING:
    from bastion.state.orders import StoredOrder


class OrderStore(Protocol):
    """Where orders are written before the first send (``bastion.state.orders``)."""

    def save_order(self, request: OrderRequest, status: OrderStatus, ts: int) -> None: ...

    def update_order(
        self,
        client_id: str,
        *,
        status: OrderStatus,
        filled: Decimal,
        venue_id: str,
        reason: str,
        ts: int,
    ) -> None: ...

    def record_fill(self, fill: Fill) -> bool: ...

    def get(self, client_id: str) -> StoredOrder | None: ...


# Asked immediately before every send (first sends, retries and re-sends): None
# lets the order go, a text withholds it for good with that reason. The engine's
# is ``bastion.engine.sendcheck.SendCheck`` (the kill flag and the halt latch).
SendGuard = Callable[[OrderRequest, int], "str | None"]  # (request, now)


@dataclass(slots=True)
class ManagedOrder:
    request: OrderRequest
    status: OrderStatus = OrderStatus.NEW
    venue_id: str = ""
    filled: Decimal = ZERO  # from the fills applied
    reported: Decimal = ZERO  # filled, as the venue's reports said (may run ahead of fills)
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    reason: str = ""
    created_ts: int = 0
    updated_ts: int = 0
    attempts: int = 0
    retry_at: int | None = None
    not_found: int = 0
    unresolved: bool = False
    # Proven not placed and fresh: waits for the engine to review it again (a
    # re-send is a new send: the risk gate and the latch apply).
    resend_due: bool = False
    cancel_asked: bool = False  # while its outcome was unknown: cancel it if it turns up
    # Never re-sent, whatever a lookup says: its cancel was asked while its outcome
    # was unknown (the strategy has moved on), or it was recovered after a restart
    # (the decision belonged to a process that is gone).
    no_resend: str = ""

    @classmethod
    def from_stored(cls, stored: StoredOrder) -> ManagedOrder:
        """An order as the store last recorded it (after a restart, or read
        back once memory forgot it)."""
        return cls(
            request=stored.request,
            status=stored.status,
            venue_id=stored.venue_id,
            filled=stored.filled,
            reported=stored.filled,
            reason=stored.reason,
            created_ts=stored.created_ts,
            updated_ts=stored.updated_ts,
        )

    @property
    def remaining(self) -> Decimal:
        return self.request.qty - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional / self.filled if self.filled else None

    def as_report(self) -> OrderReport:
        r = self.request
        return OrderReport(
            client_id=r.client_id,
            venue_order_id=self.venue_id,
            symbol=r.symbol,
            side=r.side,
            type=r.type,
            qty=r.qty,
            price=r.price,
            tif=r.tif,
            status=self.status,
            filled_qty=self.filled,
            avg_fill_price=self.avg_price,
            ts=self.updated_ts,
            reason=self.reason,
        )


@dataclass(frozen=True, slots=True)
class CapReached:
    """Retries ran out: the engine must flatten and halt."""

    client_id: str
    symbol: str
    attempts: int
    reason: str
