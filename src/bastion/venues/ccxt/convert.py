"""ccxt's unified dicts into bastion's model: orders, trades and markets.

Pure functions, schema-checked first (``schema.py``): a field we rely on that
is missing or mistyped raises ``SchemaDrift`` rather than becoming a default.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bastion.model import (
    Fill,
    Instrument,
    Liquidity,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from bastion.model.money import to_decimal
from bastion.venues.ccxt.schema import ORDER, TRADE, check
from bastion.venues.errors import SchemaDrift

_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_report(o: Any, client_id: str | None = None) -> OrderReport:
    """A ccxt order as an ``OrderReport`` (``client_id`` when the reply lacks one)."""
    check("order", o, ORDER)
    cid = str(o.get("clientOrderId") or client_id or "")
    status = _STATUS.get(o["status"])
    if status is None:
        raise SchemaDrift(f"order {o['id']}: unknown status {o['status']!r}")
    filled = to_decimal(o["filled"])
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    avg = o.get("average")
    return OrderReport(
        client_id=cid,
        venue_order_id=str(o["id"]),
        symbol=o["symbol"],
        side=Side(o["side"]),
        type=OrderType.MARKET if o["type"] == "market" else OrderType.LIMIT,
        qty=to_decimal(o["amount"]),
        price=None
        if o["type"] == "market" or o.get("price") in (None, 0)
        else to_decimal(o["price"]),
        tif=_tif(o),
        status=status,
        filled_qty=filled,
        avg_fill_price=None if not avg else to_decimal(avg),
        ts=int(o.get("lastUpdateTimestamp") or o["timestamp"]),
    )


def trade_fill(t: Any, cid: str) -> Fill:
    """A ccxt trade (ours) as a ``Fill`` attributed to client id ``cid``."""
    check("trade", t, TRADE)
    vid = str(t["order"])
    fee = t.get("fee") or {}
    return Fill(
        trade_id=str(t["id"]),
        client_id=cid,
        venue_order_id=vid,
        symbol=t["symbol"],
        side=Side(t["side"]),
        qty=to_decimal(t["amount"]),
        price=to_decimal(t["price"]),
        fee=to_decimal(fee.get("cost") or 0),
        fee_asset=str(fee.get("currency") or ""),
        liquidity=Liquidity.MAKER if t.get("takerOrMaker") == "maker" else Liquidity.TAKER,
        ts=int(t["timestamp"]),
    )


def _tif(o: Any) -> TimeInForce:
    if o.get("postOnly"):
        return TimeInForce.POST_ONLY
    return TimeInForce.IOC if o.get("timeInForce") == "IOC" else TimeInForce.GTC


def market_instrument(m: Any) -> Instrument:
    limits = m.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    return Instrument(
        symbol=m["symbol"],
        base=m["base"],
        quote=m["quote"],
        tick_size=to_decimal(m["precision"]["price"]),
        lot_size=to_decimal(m["precision"]["amount"]),
        min_qty=to_decimal(amount.get("min") or 0),
        min_notional=to_decimal(cost.get("min") or 0),
        maker_fee=to_decimal(m.get("maker") or 0)
        if m.get("maker") is not None
        else Decimal("0.001"),
        taker_fee=to_decimal(m.get("taker") or 0)
        if m.get("taker") is not None
        else Decimal("0.001"),
    )
