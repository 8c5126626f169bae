"""The simulated venue's state as plain values, and back.

A paper book must outlive the bot process (``bastion.venues.sim.paper``), and
a pickle of ``SimVenue`` would tie the file to one version of the class: a
bastion upgrade would then lose a paper account's history. The state is
written as JSON-shaped values instead (Decimals as strings, enums as their
values), in three parts of different growth: ``meta`` (balances, locks, cost
basis, counters, last prices: small, rewritten on every change), orders (one
row per client id, written when they change) and fills (append-only).

This module reaches into ``SimVenue``'s private attributes on purpose: it is
the venue's own persistence, kept out of ``venue.py`` so that the matching
engine stays one idea per module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bastion.model import (
    Fill,
    Instrument,
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    TimeInForce,
)
from bastion.venues.port import OrderUpdated
from bastion.venues.sim.book import SimOrder
from bastion.venues.sim.venue import SimVenue

Row = dict[str, Any]


def _decs(values: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


def _undecs(values: Mapping[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in values.items()}


def instrument_row(inst: Instrument) -> Row:
    return {
        "symbol": inst.symbol,
        "base": inst.base,
        "quote": inst.quote,
        **_decs(
            {
                "tick_size": inst.tick_size,
                "lot_size": inst.lot_size,
                "min_qty": inst.min_qty,
                "min_notional": inst.min_notional,
                "maker_fee": inst.maker_fee,
                "taker_fee": inst.taker_fee,
            }
        ),
    }


def instrument_from(row: Mapping[str, str]) -> Instrument:
    text = {k: row[k] for k in ("symbol", "base", "quote")}
    numbers = _undecs({k: v for k, v in row.items() if k not in text})
    return Instrument(**text, **numbers)  # type: ignore[arg-type]


def meta_row(sim: SimVenue) -> Row:
    """Everything but the orders and the fills."""
    return {
        "balances": _decs(sim._balances),
        "locked": _decs(sim._locked),
        "cost": _decs(sim._cost),
        "now": sim.now,
        "version": sim.version,
        "seq": sim._seq,
        "trade_seq": sim._trade_seq,
        "orders_received": sim.orders_received,
        "last": dict(sim._last),
        "quotes": {k: list(v) for k, v in sim._quotes.items()},
        "budget": {k: [ts, str(q)] for k, (ts, q) in sim._budget.items()},
        "working": {s: [o.client_id for o in orders] for s, orders in sim._working.items()},
    }


def order_row(order: SimOrder) -> Row:
    return {
        "client_id": order.client_id,
        "venue_id": order.venue_id,
        "seq": order.seq,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "qty": str(order.qty),
        "price": None if order.price is None else str(order.price),
        "tif": order.tif.value,
        "created_ts": order.created_ts,
        "active_at": order.active_at,
        "status": order.status.value,
        "arrived": order.arrived,
        "filled": str(order.filled),
        "filled_notional": str(order.filled_notional),
        "locked": str(order.locked),
        "updated_ts": order.updated_ts,
        "reason": order.reason,
        "stop_price": None if order.stop_price is None else str(order.stop_price),
        "stop_kind": order.stop_kind.value,
        "triggered": order.triggered,
        "triggered_bar": order.triggered_bar,
        "linked": order.linked,
    }


def order_from(row: Mapping[str, Any]) -> SimOrder:
    return SimOrder(
        client_id=row["client_id"],
        venue_id=row["venue_id"],
        seq=int(row["seq"]),
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["type"]),
        qty=Decimal(row["qty"]),
        price=None if row["price"] is None else Decimal(row["price"]),
        tif=TimeInForce(row["tif"]),
        created_ts=int(row["created_ts"]),
        active_at=int(row["active_at"]),
        status=OrderStatus(row["status"]),
        arrived=bool(row["arrived"]),
        filled=Decimal(row["filled"]),
        filled_notional=Decimal(row["filled_notional"]),
        locked=Decimal(row["locked"]),
        updated_ts=int(row["updated_ts"]),
        reason=row["reason"],
        # Rows written before stops existed have none of these.
        stop_price=None if row.get("stop_price") is None else Decimal(row["stop_price"]),
        stop_kind=StopKind(row.get("stop_kind") or StopKind.STOP_LOSS.value),
        triggered=bool(row.get("triggered", False)),
        triggered_bar=row.get("triggered_bar"),
        linked=row.get("linked"),
    )


def fill_row(fill: Fill) -> Row:
    return {
        "trade_id": fill.trade_id,
        "client_id": fill.client_id,
        "venue_order_id": fill.venue_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "fee_asset": fill.fee_asset,
        "liquidity": fill.liquidity.value,
        "ts": fill.ts,
    }


def fill_from(row: Mapping[str, Any]) -> Fill:
    return Fill(
        trade_id=row["trade_id"],
        client_id=row["client_id"],
        venue_order_id=row["venue_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=Decimal(row["qty"]),
        price=Decimal(row["price"]),
        fee=Decimal(row["fee"]),
        fee_asset=row["fee_asset"],
        liquidity=Liquidity(row["liquidity"]),
        ts=int(row["ts"]),
    )


def changed_orders(sim: SimVenue, events_from: int) -> list[SimOrder]:
    """Orders that may differ from their stored rows: every working order (an
    order's arrival changes it silently) and every order with an update event
    since position ``events_from`` of the venue's event queue."""
    out = {o.client_id: o for orders in sim._working.values() for o in orders}
    for ev in sim._events[events_from:]:
        if isinstance(ev, OrderUpdated):
            order = sim._by_client.get(ev.report.client_id)
            if order is not None:
                out[order.client_id] = order
    return list(out.values())


def pending_events(sim: SimVenue) -> int:
    return len(sim._events)


def fills_since(sim: SimVenue, count: int) -> list[Fill]:
    return sim._fills[count:]


def fill_count(sim: SimVenue) -> int:
    return len(sim._fills)


def restore(
    sim: SimVenue, meta: Mapping[str, Any], orders: Iterable[SimOrder], fills: Iterable[Fill]
) -> None:
    """Replace ``sim``'s state with a stored one (its instruments and settings stay)."""
    sim._balances = _undecs(meta["balances"])
    sim._locked = _undecs(meta["locked"])
    sim._cost = _undecs(meta["cost"])
    sim.now = int(meta["now"])
    sim.version = int(meta["version"]) + 1  # readers holding the old version re-read
    sim._seq = int(meta["seq"])
    sim._trade_seq = int(meta["trade_seq"])
    sim.orders_received = int(meta["orders_received"])
    sim._last = {k: float(v) for k, v in meta["last"].items()}
    sim._quotes = {k: (v[0], v[1], v[2], v[3]) for k, v in meta["quotes"].items()}
    sim._budget = {k: (int(v[0]), Decimal(v[1])) for k, v in meta["budget"].items()}
    sim._by_client = {o.client_id: o for o in orders}
    sim._working = {
        s: [sim._by_client[c] for c in ids if c in sim._by_client]
        for s, ids in meta["working"].items()
    }
    sim._fills = list(fills)  # undrained events stay: they describe saved changes
