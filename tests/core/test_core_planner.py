"""The planner: intents plus the venue's truth in, orders and cancels out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from bastion.execution.planner import Plan, plan
from bastion.model import (
    CancelOrders,
    Instrument,
    Intent,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QuoteLevel,
    Side,
    StrategyRef,
    TargetPosition,
    TargetQuotes,
    TimeInForce,
)

D = Decimal
SYM = "BTC/USDT"
REF = StrategyRef(id="s1", version="v1")
BUY, SELL = Side.BUY, Side.SELL
INSTRUMENTS = {
    SYM: Instrument.spot(
        SYM, tick_size=D("0.01"), lot_size=D("0.0001"), min_qty=D("0.001"), min_notional=D(10)
    )
}


def make_plan(
    intents: Sequence[Intent],
    *,
    held: str = "0",
    working: Sequence[OrderReport] = (),
    mark: float = 30_000.0,
    marks: Mapping[str, float] | None = None,
) -> Plan:
    return plan(
        strategy=REF,
        intents=intents,
        positions={SYM: D(held)},
        own_orders=working,
        instruments=INSTRUMENTS,
        marks={SYM: mark} if marks is None else marks,
        cycle=7,
        new_id=lambda intent, leg: f"id-{intent}-{leg}",
    )


def report(
    cid: str,
    side: Side,
    qty: str,
    *,
    price: str | None = None,
    filled: str = "0",
    type: OrderType = OrderType.MARKET,
) -> OrderReport:
    return OrderReport(
        client_id=cid,
        venue_order_id="v" + cid,
        symbol=SYM,
        side=side,
        type=OrderType.LIMIT if price is not None else type,
        qty=D(qty),
        price=None if price is None else D(price),
        tif=TimeInForce.POST_ONLY if price is not None else TimeInForce.GTC,
        status=OrderStatus.OPEN if filled == "0" else OrderStatus.PARTIALLY_FILLED,
        filled_qty=D(filled),
    )


def target(qty: str) -> TargetPosition:
    return TargetPosition(symbol=SYM, qty=D(qty))


def legs(p: Plan) -> list[tuple[Side, Decimal, OrderType, bool]]:
    return [(o.side, o.qty, o.type, o.reduces_exposure) for o in p.orders]


# ----------------------------------------------------------- target position
def test_target_from_flat_buys_the_whole_target_at_market() -> None:
    p = make_plan([target("0.1")])

    assert legs(p) == [(BUY, D("0.1"), OrderType.MARKET, False)]
    assert (p.cancels, p.skipped) == ([], [])
    order = p.orders[0]
    assert (order.client_id, order.strategy, order.cycle, order.symbol) == ("id-0-0", REF, 7, SYM)
    assert order.intent == target("0.1")


def test_target_from_a_partial_position_buys_only_the_difference() -> None:
    p = make_plan([target("0.1")], held="0.0375")

    assert legs(p) == [(BUY, D("0.0625"), OrderType.MARKET, False)]


def test_target_below_the_position_sells_the_difference_and_reduces_exposure() -> None:
    p = make_plan([target("0.04")], held="0.1")

    assert legs(p) == [(SELL, D("0.06"), OrderType.MARKET, True)]


def test_target_flat_from_long_reduces_exposure() -> None:
    p = make_plan([target("0")], held="0.1")

    assert legs(p) == [(SELL, D("0.1"), OrderType.MARKET, True)]


def test_target_through_zero_does_not_count_as_reducing() -> None:
    p = make_plan([target("-0.05")], held="0.1")

    assert legs(p) == [(SELL, D("0.15"), OrderType.MARKET, False)]


def test_target_away_from_zero_when_short_does_not_reduce_but_toward_it_does() -> None:
    more_short = make_plan([target("-0.2")], held="-0.1")
    less_short = make_plan([target("-0.05")], held="-0.1")

    assert legs(more_short) == [(SELL, D("0.1"), OrderType.MARKET, False)]
    assert legs(less_short) == [(BUY, D("0.05"), OrderType.MARKET, True)]


def test_no_order_when_the_position_is_already_there() -> None:
    p = make_plan([target("0.1")], held="0.1")

    assert (p.orders, p.cancels, p.skipped) == ([], [], [])


def test_no_order_when_working_orders_are_already_on_the_way() -> None:
    working = [report("w1", BUY, "0.1", filled="0.04")]

    p = make_plan([target("0.1")], held="0.04", working=working)

    assert (p.orders, p.cancels, p.skipped) == ([], [], [])


def test_a_changed_target_with_working_orders_cancels_them_and_places_nothing() -> None:
    working = [report("w1", BUY, "0.1"), report("w2", BUY, "0.05", price="29000")]

    p = make_plan([target("0.3")], held="0", working=working)

    assert p.orders == []
    assert [(c.client_id, c.symbol, c.strategy) for c in p.cancels] == [
        ("w1", SYM, REF),
        ("w2", SYM, REF),
    ]


@pytest.mark.parametrize(
    ("target_qty", "why"),
    [
        ("0.0005", "quantity 0.0005 below minimum 0.001"),
        ("0.00001", "quantity is zero after rounding"),
    ],
)
def test_dust_below_the_minimum_is_skipped_with_a_reason(target_qty: str, why: str) -> None:
    intent = target(target_qty)

    p = make_plan([intent])

    assert (p.orders, p.cancels) == ([], [])
    assert p.skipped == [(intent, why)]


def test_an_order_below_the_minimum_notional_is_skipped_with_a_reason() -> None:
    intent = target("0.002")

    p = make_plan([intent], mark=1000.0)  # 2 of notional, minimum 10

    assert p.orders == []
    [(skipped, why)] = p.skipped
    assert skipped == intent
    assert why.startswith("notional 2.") and why.endswith("below minimum 10")


def test_an_unknown_symbol_is_skipped_with_a_reason() -> None:
    intent = TargetPosition(symbol="ETH/USDT", qty=D(1))

    p = make_plan([intent])

    assert p.orders == []
    assert p.skipped == [(intent, "unknown symbol ETH/USDT")]


# ------------------------------------------------------------ target quotes
def quotes(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> TargetQuotes:
    return TargetQuotes(
        symbol=SYM,
        bids=tuple(QuoteLevel(D(p), D(q)) for p, q in bids),
        asks=tuple(QuoteLevel(D(p), D(q)) for p, q in asks),
    )


def test_target_quotes_from_nothing_rests_post_only_limits() -> None:
    p = make_plan([quotes([("29990", "0.01")], [("30010", "0.01")])], held="0.01")

    assert [(o.client_id, o.side, o.price, o.qty, o.type, o.tif) for o in p.orders] == [
        ("id-0-0", BUY, D("29990"), D("0.01"), OrderType.LIMIT, TimeInForce.POST_ONLY),
        ("id-0-1", SELL, D("30010"), D("0.01"), OrderType.LIMIT, TimeInForce.POST_ONLY),
    ]
    assert [o.reduces_exposure for o in p.orders] == [False, True]


def test_target_quotes_keeps_matching_quotes_and_replaces_the_others() -> None:
    working = [
        report("bid", BUY, "0.01", price="29990"),
        report("ask", SELL, "0.01", price="30010"),
    ]

    p = make_plan([quotes([("29990", "0.01")], [("30020", "0.01")])], held="0.01", working=working)

    assert [c.client_id for c in p.cancels] == ["ask"]
    assert [(o.side, o.price, o.qty) for o in p.orders] == [(SELL, D("30020"), D("0.01"))]


def test_target_quotes_keeps_only_one_of_two_identical_working_quotes() -> None:
    working = [
        report("a", BUY, "0.01", price="29990"),
        report("b", BUY, "0.01", price="29990"),
    ]

    p = make_plan([quotes([("29990", "0.01")], [])], working=working)

    assert [c.client_id for c in p.cancels] == ["b"]
    assert p.orders == []


def test_a_partly_filled_quote_is_replaced_by_a_full_one() -> None:
    working = [report("a", BUY, "0.01", price="29990", filled="0.004")]

    p = make_plan([quotes([("29990", "0.01")], [])], working=working)

    assert [c.client_id for c in p.cancels] == ["a"]
    assert [(o.side, o.price, o.qty) for o in p.orders] == [(BUY, D("29990"), D("0.01"))]


def test_empty_target_quotes_cancel_every_working_quote() -> None:
    working = [report("a", BUY, "0.01", price="29990"), report("b", SELL, "0.01", price="30010")]

    p = make_plan([quotes([], [])], held="0.01", working=working)

    assert [c.client_id for c in p.cancels] == ["a", "b"]
    assert p.orders == []


# ---------------------------------------------------------- explicit orders
def test_explicit_orders_are_quantized_and_cancel_orders_cancels_only_that_symbol() -> None:
    other = OrderReport(
        client_id="eth",
        venue_order_id="v",
        symbol="ETH/USDT",
        side=BUY,
        type=OrderType.MARKET,
        qty=D(1),
        price=None,
        tif=TimeInForce.GTC,
        status=OrderStatus.OPEN,
    )
    place = PlaceOrder(
        symbol=SYM, side=BUY, qty=D("0.123456"), type=OrderType.LIMIT, price=D("29999.999")
    )

    p = make_plan(
        [place, CancelOrders(symbol=SYM)], working=[report("w1", SELL, "0.1", price="31000"), other]
    )

    assert [(o.qty, o.price, o.tif) for o in p.orders] == [
        (D("0.1234"), D("30000.00"), TimeInForce.GTC)
    ]
    assert [c.client_id for c in p.cancels] == ["w1"]
