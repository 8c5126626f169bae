"""Orders, order reports and fills.

``OrderRequest`` is what the cycle wants sent (a command); ``OrderReport`` is
what the venue says an order is (a report, as reconciliation reads it);
``Fill`` is one execution. All money is ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bastion.model.intents import Intent
from bastion.model.money import ZERO


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class StopKind(StrEnum):
    """What an exchange-side trigger protects against: a stop-loss fires when
    the price moves against the position, a take-profit when it moves for it."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    """Order lifecycle states; the transitions live in ``bastion.execution.lifecycle``."""

    NEW = "new"
    SUBMITTING = "submitting"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def working(self) -> bool:
        """Live at the venue (or possibly so): counts against limits and inventory."""
        return self in _WORKING


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
_WORKING = frozenset(
    {
        OrderStatus.SUBMITTING,
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCEL_PENDING,
        OrderStatus.UNKNOWN,
    }
)


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRef:
    """Which strategy, at which version (a hash of its code and parameters)."""

    id: str
    version: str

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """One order the cycle wants placed, derived from an intent.

    ``client_id`` is a pure function of (run, cycle, intent, leg) so that a
    replay or a retry names the same order. ``reduces_exposure`` is set by the
    planner when the order can only bring the position toward zero; the halt
    latch lets such orders through.
    """

    client_id: str
    strategy: StrategyRef
    symbol: str
    side: Side
    qty: Decimal
    type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduces_exposure: bool = False
    cycle: int = 0
    intent: Intent | None = None
    # A limit order that rests off the book at the exchange until the last trade
    # reaches ``stop_price`` (Binance's STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT):
    # the position stays protected while the bot is down.
    stop_price: Decimal | None = None
    stop_kind: StopKind = StopKind.STOP_LOSS

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is Side.BUY else -self.qty

    @property
    def origin(self) -> str:
        """Who placed it, read from the client id's prefix (which the venue and the
        store keep): ``strategy``, ``risk`` (a flatten) or ``killswitch``."""
        return order_origin(self.client_id)


# Client-id prefixes by origin. A strategy's planner only ever touches orders
# of its own origin; a flatten, a kill or a protective stop resting on the
# exchange (``bp``, bastion.execution.protect) is never cancelled by a strategy.
ORIGIN_PREFIXES = {"bn": "strategy", "bx": "risk", "ks": "killswitch", "bp": "protect"}


def order_origin(client_id: str) -> str:
    return ORIGIN_PREFIXES.get(client_id[:2], "foreign")


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest:
    """Cancel one of our orders by client id."""

    client_id: str
    symbol: str
    strategy: StrategyRef | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReport:
    """What the venue says about one order."""

    client_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None
    tif: TimeInForce
    status: OrderStatus
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    ts: int = 0
    reason: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution of one order. ``trade_id`` is unique per venue (dedupe key)."""

    trade_id: str
    client_id: str
    venue_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    ts: int

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is Side.BUY else -self.qty

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price
