"""What the emulator remembers about each order and each of our fills.

The matching engine (``SimVenue``) keeps only the latest order per client id
and names orders by strings; Binance names them by integers and lists every
order ever placed (``allOrders``), including earlier users of a client id that
has since been reused. These records carry that history in Binance's terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bastion.model import Side
from bastion.model.money import ZERO


@dataclass(slots=True, kw_only=True)
class FillRecord:
    """One execution of one of our orders, numbered as Binance numbers trades."""

    trade_id: int
    order_id: int
    symbol: str  # exchange id, e.g. BTCUSDT
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(slots=True, kw_only=True)
class OrderRecord:
    """One order as Binance reports it; ``status`` uses Binance's words (NEW, CANCELED...)."""

    order_id: int
    client_id: str
    symbol: str  # exchange id, e.g. BTCUSDT
    unified: str  # bastion/ccxt symbol, e.g. BTC/USDT
    venue_id: str  # SimVenue's id for the same order
    side: Side
    type_name: str  # MARKET, LIMIT, LIMIT_MAKER
    tif_name: str | None  # GTC, IOC; None for MARKET and LIMIT_MAKER
    qty: Decimal
    price: Decimal | None
    created_ms: int
    updated_ms: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    orig_quote_qty: Decimal = ZERO
    stop_price: Decimal | None = None  # STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT
    order_list_id: int = -1  # an OCO's list, else -1
    working_ms: int | None = None  # on the book since; None while a stop waits to trigger
    fills: list[FillRecord] = field(default_factory=list)
    announced: bool = False  # the NEW executionReport has gone out

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def is_working(self) -> bool:
        """On the book (a stop that has not triggered is open but not working)."""
        return self.working_ms is not None


@dataclass(slots=True, kw_only=True)
class OrderList:
    """An OCO: two orders of which the first to work or fill ends the other."""

    list_id: int
    list_client_id: str
    symbol: str
    order_ids: tuple[int, int]  # (above, below), as Binance lists them
    created_ms: int
    done: bool = False  # ALL_DONE: a leg filled or worked, or the list was cancelled


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedOrder:
    """One order request that reached the emulator, whatever became of it.

    Tests read these to assert "at most one order per client id" across
    retries and faults; ``outcome`` is ``accepted`` or the error code.
    """

    received_ms: int
    client_id: str
    symbol: str
    side: str
    type: str
    quantity: str
    price: str | None
    outcome: str
    order_id: int | None
