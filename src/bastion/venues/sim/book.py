"""Working orders inside the simulated venue and how one of them fills.

``SimOrder`` is the venue's own mutable record; it is never handed out: the
venue reports ``OrderReport`` values built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bastion.model import OrderReport, OrderStatus, OrderType, Side, StopKind, TimeInForce
from bastion.model.money import ZERO


@dataclass(slots=True, kw_only=True)
class SimOrder:
    client_id: str
    venue_id: str
    seq: int
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None
    tif: TimeInForce
    created_ts: int
    active_at: int
    status: OrderStatus = OrderStatus.OPEN
    arrived: bool = False
    filled: Decimal = ZERO
    filled_notional: Decimal = ZERO
    locked: Decimal = ZERO
    updated_ts: int = 0
    reason: str = ""
    # A stop-limit (``bastion.venues.sim.stops``): off the book until triggered.
    stop_price: Decimal | None = None
    stop_kind: StopKind = StopKind.STOP_LOSS
    triggered: bool = False
    triggered_bar: int | None = None  # the bar that triggered it (no second look at it)
    linked: str | None = None  # the other leg of its OCO (client id)

    def waiting(self) -> bool:
        """A stop not yet triggered: no matching rule but the trigger applies."""
        return self.stop_price is not None and not self.triggered

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    def marketable(self, ask: float, bid: float) -> bool:
        """Would this limit order take liquidity against the given prices?"""
        assert self.price is not None
        if self.side is Side.BUY:
            return float(self.price) >= ask
        return float(self.price) <= bid

    def touched(self, low: float, high: float, through: bool) -> bool:
        """Did the market trade at (or, with ``through``, beyond) our resting price?"""
        assert self.price is not None
        p = float(self.price)
        if self.side is Side.BUY:
            return low < p if through else low <= p
        return high > p if through else high >= p

    def touched_after_trigger(self, low: float, high: float, through: bool) -> bool:
        """A triggered stop-limit in its trigger bar: did the bar trade at (or, with
        ``through``, beyond) its limit, on the side the trigger came from?"""
        assert self.price is not None
        p = float(self.price)
        if self.side is Side.SELL:
            return low < p if through else low <= p
        return high > p if through else high >= p

    def report(self) -> OrderReport:
        avg = self.filled_notional / self.filled if self.filled else None
        return OrderReport(
            client_id=self.client_id,
            venue_order_id=self.venue_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            qty=self.qty,
            price=self.price,
            tif=self.tif,
            status=self.status,
            filled_qty=self.filled,
            avg_fill_price=avg,
            ts=self.updated_ts or self.created_ts,
            reason=self.reason,
        )
