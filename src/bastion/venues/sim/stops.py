"""Stop-limit orders and OCO lists in the simulated venue, by Binance's rules.

A stop-limit rests off the book until the market reaches its ``stop_price``;
it then becomes a plain limit order at its ``price``. An OCO is a take-profit
limit and a stop-limit selling (or buying) one quantity: its take-profit must
sit beyond the market and its stop on the other side (else Binance's "The
relationship of the prices for the orders is not correct."); the take-profit
rests from the moment it is accepted; when either leg fills, even in part,
the other expires, and cancelling one cancels both. The quantity is reserved
once, by the stop leg.

Rules over bars, chosen so a backtest of a protected strategy is never
flattered (the path inside a bar is unknown):

- a stop-loss sell triggers when the bar's low reaches its stop (a take-profit
  sell when the high does; a buy mirrors both);
- in the bar that triggers it, it fills only at its limit price (never the
  better price a real fall through the stop may have given), and only if the
  bar traded at its limit (``limit_fill="touch"``) or beyond it
  (``"through"``) and did not open past it: a bar that gaps beyond the limit
  leaves it resting as a limit order above the market, unfilled;
- from the next bar it is an ordinary resting limit order (the venue's rules);
- when both legs of an OCO could act in one bar, the stop acts first.

Over quotes and trades (paper) a stop triggers when the bid (a sell) or the
ask (a buy) or the last trade reaches its stop, and then matches as a limit
order on the same event, filling at its limit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bastion.model import (
    Liquidity,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
)
from bastion.venues.errors import InvalidOrder
from bastion.venues.sim.book import SimOrder

if TYPE_CHECKING:
    from bastion.venues.sim.venue import SimVenue

OCO_EXPIRED = "the other leg of its OCO filled"


def _falls(kind: StopKind, side: Side) -> bool:
    """Does this stop trigger on a fall (a stop-loss sell, a take-profit buy)?"""
    return (kind is StopKind.STOP_LOSS) == (side is Side.SELL)


def validate(req: OrderRequest, ref: Decimal | None) -> None:
    """Binance's checks on a stop-limit: a limit order whose trigger is on the far
    side of the market (one that would trigger at once is refused, -2010)."""
    if req.type is not OrderType.LIMIT:
        raise InvalidOrder(f"{req.client_id}: a stop order must be a stop-limit")
    stop = req.stop_price
    assert stop is not None
    if stop <= 0:
        raise InvalidOrder(f"{req.client_id}: the stop price must be positive")
    if ref is not None and (stop >= ref if _falls(req.stop_kind, req.side) else stop <= ref):
        raise InvalidOrder(f"{req.client_id}: Order would trigger immediately.")


def reached(order: SimOrder, low: float, high: float) -> bool:
    assert order.stop_price is not None
    stop = float(order.stop_price)
    return low <= stop if _falls(order.stop_kind, order.side) else high >= stop


def trigger_bar(
    venue: SimVenue, orders: list[SimOrder], ts: int, o: float, h: float, low: float
) -> None:
    """Trigger the bar's stops and fill those the bar proves fillable (module rules)."""
    for order in list(orders):
        if order.active_at > ts or not order.status.working or not order.waiting():
            continue
        if not reached(order, low, h):
            continue
        order.triggered, order.arrived, order.triggered_bar = True, True, ts
        assert order.price is not None
        limit = float(order.price)
        sell = order.side is Side.SELL
        opened_past = o < limit if sell else o > limit  # a gap beyond the limit
        traded = order.touched_after_trigger(low, h, venue.through)
        if not opened_past and traded:
            venue.fill_at(order, ts, order.price, Liquidity.TAKER)


def trigger_tick(orders: list[SimOrder], bid: float, ask: float) -> None:
    """Trigger stops on a quote or trade (``bid == ask == price`` for a trade)."""
    for order in orders:
        if order.status.working and order.waiting():
            price = bid if order.side is Side.SELL else ask
            if reached(order, price, price):
                order.triggered = order.arrived = True


def submit_oco(venue: SimVenue, take_profit: OrderRequest, stop: OrderRequest) -> list[OrderReport]:
    """Both legs, one reservation; reports in (take-profit, stop) order."""
    if (take_profit.symbol, take_profit.side, take_profit.qty) != (
        stop.symbol,
        stop.side,
        stop.qty,
    ):
        raise InvalidOrder("an OCO's legs share one symbol, side and quantity")
    if take_profit.stop_price is not None or stop.stop_price is None:
        raise InvalidOrder("an OCO is a limit and a stop-limit")
    tp_price, stop_price = take_profit.price, stop.stop_price
    assert tp_price is not None
    sell = stop.side is Side.SELL
    last = venue.ref_price(stop.symbol, stop.side)
    if (tp_price <= stop_price) if sell else (tp_price >= stop_price):
        raise InvalidOrder("The relationship of the prices for the orders is not correct.")
    if last is not None and ((tp_price <= last) if sell else (tp_price >= last)):
        raise InvalidOrder("The relationship of the prices for the orders is not correct.")
    leg = venue.place(stop)  # validated, funds reserved
    try:
        tp = venue.place(take_profit, reserve=False)
    except Exception:
        venue.drop(leg)
        raise
    tp.linked, leg.linked = leg.client_id, tp.client_id
    if tp.active_at <= venue.now:  # checked against the market above: it rests at once
        tp.arrived = True
    return [tp.report(), leg.report()]


def expire_partner(venue: SimVenue, order: SimOrder) -> None:
    """One leg of an OCO filled: the other expires, as on the exchange."""
    other = venue.order(order.linked) if order.linked else None
    if other is not None and other.status.working:
        venue.close_order(other, OrderStatus.EXPIRED, OCO_EXPIRED)


def cancel_partner(venue: SimVenue, order: SimOrder) -> None:
    other = venue.order(order.linked) if order.linked else None
    if other is not None and other.status.working:
        venue.close_order(other, OrderStatus.CANCELLED, "its OCO was cancelled")
