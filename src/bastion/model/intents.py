"""What a strategy asks for.

Prefer targets: ``TargetPosition`` says what position the strategy wants and
``TargetQuotes`` which quotes it wants resting; execution derives the orders
from the exchange's truth, so a restarted bot cannot double a position.
``PlaceOrder`` and ``CancelOrders`` are explicit orders; risk treats all alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bastion.model.orders import OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPosition:
    """Hold ``qty`` of ``symbol`` (signed: negative is short, where allowed)."""

    symbol: str
    qty: Decimal
    kind: Literal["target_position"] = "target_position"


@dataclass(frozen=True, slots=True)
class QuoteLevel:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetQuotes:
    """Keep exactly these post-only limit orders resting on ``symbol``."""

    symbol: str
    bids: tuple[QuoteLevel, ...] = field(default_factory=tuple)
    asks: tuple[QuoteLevel, ...] = field(default_factory=tuple)
    kind: Literal["target_quotes"] = "target_quotes"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder:
    """An explicit order."""

    symbol: str
    side: Side
    qty: Decimal
    type: OrderType
    price: Decimal | None = None
    tif: TimeInForce | None = None
    kind: Literal["place_order"] = "place_order"


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrders:
    """Cancel this strategy's working orders on ``symbol`` (all symbols when None)."""

    symbol: str | None = None
    kind: Literal["cancel_orders"] = "cancel_orders"


Intent = TargetPosition | TargetQuotes | PlaceOrder | CancelOrders
