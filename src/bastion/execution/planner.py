"""From intents to orders, against the exchange's truth.

Targets are turned into the orders that would bring the account from what the
venue reports to what the strategy wants; explicit orders are quantized. The
planner never sends anything: the risk gate reviews its output first.

A target is never chased while the strategy still has orders working on that
symbol: the working orders are cancelled first and the difference is planned
on the next cycle, from the position the venue then reports. That is what
stops a fill racing a cancel from doubling a position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from bastion.model import (
    CancelOrders,
    CancelRequest,
    Instrument,
    Intent,
    OrderReport,
    OrderRequest,
    OrderType,
    PlaceOrder,
    Side,
    StrategyRef,
    TargetPosition,
    TargetQuotes,
    TimeInForce,
)
from bastion.model.money import ZERO, to_decimal

IdFactory = Callable[[int, int], str]  # (intent index, leg) -> client order id


@dataclass(slots=True)
class Plan:
    orders: list[OrderRequest] = field(default_factory=list)
    cancels: list[CancelRequest] = field(default_factory=list)
    skipped: list[tuple[Intent, str]] = field(default_factory=list)  # (intent, why)


def plan(
    *,
    strategy: StrategyRef,
    intents: Sequence[Intent],
    positions: Mapping[str, Decimal],
    own_orders: Sequence[OrderReport],
    instruments: Mapping[str, Instrument],
    marks: Mapping[str, float],
    cycle: int,
    new_id: IdFactory,
) -> Plan:
    """Orders and cancels for one strategy's intents in one cycle.

    ``positions`` is what the venue says this strategy holds per symbol;
    ``own_orders`` are this strategy's working orders as the venue reports them.
    """
    out = Plan()
    for index, intent in enumerate(intents):
        if isinstance(intent, CancelOrders):
            for o in own_orders:
                if intent.symbol is None or o.symbol == intent.symbol:
                    out.cancels.append(_cancel(o, strategy, "strategy asked"))
            continue
        inst = instruments.get(intent.symbol)
        if inst is None:
            out.skipped.append((intent, f"unknown symbol {intent.symbol}"))
            continue
        working = [o for o in own_orders if o.symbol == intent.symbol]
        held = positions.get(intent.symbol, ZERO)
        mark = marks.get(intent.symbol)

        make = partial(_request, new_id, strategy, cycle, index, intent)

        if isinstance(intent, TargetPosition):
            _plan_target(out, intent, inst, held, working, strategy, make, mark)
        elif isinstance(intent, TargetQuotes):
            _plan_quotes(out, intent, inst, held, working, strategy, make)
        elif isinstance(intent, PlaceOrder):
            _plan_explicit(out, intent, inst, held, make, mark)
    return out


def _request(
    new_id: IdFactory,
    strategy: StrategyRef,
    cycle: int,
    index: int,
    intent: Intent,
    leg: int,
    **fields: Any,
) -> OrderRequest:
    return OrderRequest(
        client_id=new_id(index, leg), strategy=strategy, cycle=cycle, intent=intent, **fields
    )


def _cancel(o: OrderReport, strategy: StrategyRef, reason: str) -> CancelRequest:
    return CancelRequest(client_id=o.client_id, symbol=o.symbol, strategy=strategy, reason=reason)


def _reduces(held: Decimal, signed: Decimal) -> bool:
    """True when an order of ``signed`` quantity can only bring ``held`` toward zero."""
    after = held + signed
    return held != 0 and abs(after) <= abs(held) and (after == 0 or (after > 0) == (held > 0))


def _plan_target(
    out: Plan,
    intent: TargetPosition,
    inst: Instrument,
    held: Decimal,
    working: list[OrderReport],
    strategy: StrategyRef,
    make: Callable[..., OrderRequest],
    mark: float | None,
) -> None:
    pending = sum((o.remaining * o.side.sign for o in working), ZERO)
    if intent.qty - held - pending == 0:
        return  # already there, or on the way
    if working:
        out.cancels.extend(_cancel(o, strategy, "target changed") for o in working)
        return
    delta = inst.round_qty(intent.qty - held)
    side = Side.BUY if delta > 0 else Side.SELL
    qty = abs(delta)
    why = inst.below_minimum(qty, to_decimal(mark) if mark else ZERO)
    if why is not None:
        out.skipped.append((intent, why))
        return
    out.orders.append(
        make(
            0,
            symbol=intent.symbol,
            side=side,
            qty=qty,
            type=OrderType.MARKET,
            reduces_exposure=_reduces(held, delta),
        )
    )


def _plan_quotes(
    out: Plan,
    intent: TargetQuotes,
    inst: Instrument,
    held: Decimal,
    working: list[OrderReport],
    strategy: StrategyRef,
    make: Callable[..., OrderRequest],
) -> None:
    wanted: list[tuple[Side, Decimal, Decimal]] = []
    for side, levels in ((Side.BUY, intent.bids), (Side.SELL, intent.asks)):
        for lvl in levels:
            qty = inst.round_qty(lvl.qty)
            price = inst.round_price(lvl.price)
            if inst.below_minimum(qty, price) is None:
                wanted.append((side, price, qty))
    keep: set[tuple[Side, Decimal, Decimal]] = set()
    for o in working:
        key = (o.side, o.price or ZERO, o.remaining)
        if key in wanted and key not in keep and o.type is OrderType.LIMIT:
            keep.add(key)
        else:
            out.cancels.append(_cancel(o, strategy, "quote moved"))
    for leg, (side, price, qty) in enumerate(wanted):
        if (side, price, qty) in keep:
            continue
        out.orders.append(
            make(
                leg,
                symbol=intent.symbol,
                side=side,
                qty=qty,
                type=OrderType.LIMIT,
                price=price,
                tif=TimeInForce.POST_ONLY,
                reduces_exposure=_reduces(held, qty * side.sign),
            )
        )


def _plan_explicit(
    out: Plan,
    intent: PlaceOrder,
    inst: Instrument,
    held: Decimal,
    make: Callable[..., OrderRequest],
    mark: float | None,
) -> None:
    qty = inst.round_qty(intent.qty)
    price = inst.round_price(intent.price) if intent.price is not None else None
    ref = price if price is not None else (to_decimal(mark) if mark else ZERO)
    why = inst.below_minimum(qty, ref)
    if why is not None:
        out.skipped.append((intent, why))
        return
    out.orders.append(
        make(
            0,
            symbol=intent.symbol,
            side=intent.side,
            qty=qty,
            type=intent.type,
            price=price,
            tif=intent.tif or TimeInForce.GTC,
            reduces_exposure=_reduces(held, qty * intent.side.sign),
        )
    )
