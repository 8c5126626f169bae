"""Execution fault scenarios: each asserts the invariants (at most one order
per client id at the venue, ledger equals venue, every order terminal or
known-unknown with a journal trail, nothing lost from the journal)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from tests.execution.conftest import POLICY, SYMBOL, make_rig

from bastion.config import BotConfig
from bastion.model import (
    CancelOrders,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QuoteLevel,
    Side,
    TargetPosition,
    TargetQuotes,
    TimeInForce,
)
from bastion.risk import HaltState
from bastion.venues.faults import Fault, StreamFault


def want(qty: str, from_cycle: int = 2):
    return lambda i, view, acct: (
        [TargetPosition(symbol=SYMBOL, qty=Decimal(qty))] if i >= from_cycle else []
    )


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_timeout_after_accept_places_no_second_order(rig):
    rig.venue.fail("submit", Fault.TIMEOUT_AFTER)
    rig.venue.stream(StreamFault.DISCONNECT, drains=5)  # and the private stream is down

    rig.step(12)

    assert len(rig.venue.sent) == 1
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    kinds = [e["kind"] for e in rig.events()]
    assert "order_unknown" in kinds
    assert "order_resolved" in kinds or "order_filled" in kinds
    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.FILLED
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_timeout_before_accept_resends_under_the_same_id_once_proven_not_placed(rig):
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)

    rig.step(3)  # decision, timeout: unknown, symbol blocked
    (cid,) = rig.bot.orders.orders
    assert rig.bot.orders.orders[cid].status is OrderStatus.UNKNOWN
    assert SYMBOL in rig.bot.orders.blocked
    assert rig.venue.sent == []
    rig.step(6)

    assert rig.venue.sent == [cid]  # re-sent once, same client id
    assert len(rig.bot.orders.orders) == 1
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    moves = [
        (e["from"], e["event"]) for e in rig.events() if e.get("client_id") == cid and "event" in e
    ]
    assert ("unknown", "not_found") in moves
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_timeout_before_accept_with_a_stale_decision_is_dropped_not_resent(rig):
    rig.bot.orders.policy = replace(POLICY, resend_if_younger_ms=0)
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)

    rig.step(8)

    first = next(iter(rig.bot.orders.orders.values()))
    assert first.status is OrderStatus.EXPIRED
    assert "stale" in first.reason
    assert first.request.client_id not in rig.venue.sent
    # The strategy still wants 1: a fresh decision placed a fresh order.
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    assert len(rig.venue.sent) == 1
    rig.assert_invariants()


@pytest.mark.parametrize(
    "rig",
    [
        lambda i, v, a: (
            [TargetPosition(symbol=SYMBOL, qty=Decimal(1 if i < 6 else 2))] if i >= 2 else []
        )
    ],
    indirect=True,
)
def test_rate_limit_storm_backs_off_then_flattens_and_halts_at_the_cap(rig):
    rig.step(5)
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    rig.venue.fail("submit", *[Fault.RATE_LIMIT] * POLICY.max_attempts)

    rig.step(20)

    retries = rig.events("retry_scheduled")
    delays = [e["delay_ms"] for e in retries]
    assert delays == sorted(delays) and len(delays) == POLICY.max_attempts - 1
    assert rig.events("retry_cap")
    assert rig.bot.risk.latch.state is HaltState.HALTED
    assert rig.sim.fetch_account().position(SYMBOL) == 0
    assert [e["reason"] for e in rig.events("flatten")] == ["RETRY_CAP"]
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_bot_believes_flat_but_exchange_holds_a_position(rig):
    rig.step(1)
    rig.sim.adjust_balance("SYN", Decimal(3))  # bought by hand on the exchange

    rig.step(3)

    deltas = rig.events("reconcile_delta")
    assert deltas and deltas[0]["delta"] == "3" and deltas[0]["alert"] is True
    # The default policy ("alert"): the 3 bought by hand are not the bot's; it
    # bought its own 1 and left the 3 alone.
    assert deltas[0]["policy"] == "alert" and deltas[0]["baseline"] == "3"
    first_order = next(iter(rig.bot.orders.orders.values())).request
    assert (first_order.side, first_order.qty) == (Side.BUY, Decimal(1))
    assert rig.sim.fetch_account().position(SYMBOL) == 4
    rig.assert_invariants()


def test_a_hand_buy_adopted_by_policy_becomes_the_bots(tmp_path):
    cfg = BotConfig.model_validate({"account": {"on_unexplained": "adopt"}})
    rig = make_rig(tmp_path, want("1"), config=cfg)
    try:
        rig.step(1)
        rig.sim.adjust_balance("SYN", Decimal(3))  # bought by hand on the exchange

        rig.step(3)

        (delta,) = rig.events("reconcile_delta")
        assert delta["policy"] == "adopt" and delta["adopted"] == "3"
        # The next decision saw 3 of its own: it sold 2 to reach its target of 1.
        first_order = next(iter(rig.bot.orders.orders.values())).request
        assert (first_order.side, first_order.qty) == (Side.SELL, Decimal(2))
        assert rig.sim.fetch_account().position(SYMBOL) == 1
        rig.assert_invariants()
    finally:
        rig.session.close()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_bot_believes_long_but_the_position_was_closed_by_hand_while_running(rig):
    rig.step(4)
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    rig.sim.adjust_balance("SYN", Decimal(-1), symbol=SYMBOL)  # sold by hand

    rig.step(3)

    (delta,) = rig.events("reconcile_delta")
    assert delta["delta"] == "-1" and delta["while_down"] is False
    assert rig.sim.fetch_account().position(SYMBOL) == 1  # the strategy's target, re-established
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_position_closed_by_hand_while_the_bot_was_down(rig):
    rig.step(4)
    rig.session.close()
    rig.sim.adjust_balance("SYN", Decimal(-1), symbol=SYMBOL)
    rig.step(3, cycle=False)  # market moves on while we are down

    rig.restart()
    rig.step(1)

    (delta,) = rig.events("reconcile_delta")
    assert delta["while_down"] is True and delta["alert"] is True
    rig.assert_invariants()


@pytest.mark.parametrize(
    "stream",
    [StreamFault.DELAY, StreamFault.DUPLICATE, StreamFault.REORDER, StreamFault.DISCONNECT],
)
@pytest.mark.parametrize(
    "rig",
    [lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=Decimal(i % 3))] if i >= 2 else []],
    indirect=True,
)
def test_fills_late_twice_out_of_order_or_lost(rig, stream):
    rig.venue.stream(stream, drains=6, hold=2)

    rig.step(15)

    rig.assert_invariants()
    if stream is StreamFault.DUPLICATE:
        assert rig.events("fill_duplicate")


def _limit_then_cancel(i, view, acct):
    if i == 2:
        px = Decimal(str(round(view[SYMBOL].close * 1.01, 2)))  # marketable-ish next bar
        return [
            PlaceOrder(
                symbol=SYMBOL,
                side=Side.BUY,
                qty=Decimal(1),
                type=OrderType.LIMIT,
                price=px,
                tif=TimeInForce.GTC,
            )
        ]
    if i == 3:
        return [CancelOrders(symbol=SYMBOL)]
    return []


@pytest.mark.parametrize("rig", [_limit_then_cancel], indirect=True)
def test_fill_racing_a_cancel(rig):
    rig.step(5)

    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.FILLED  # the fill won; nothing illegal, nothing lost
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    assert not rig.events("illegal_transition")
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_unknown_that_cannot_be_resolved_stays_blocked_and_alerts(rig):
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)
    rig.venue.fail("fetch_order", *[Fault.SERVER_ERROR] * 50)

    rig.step(10)

    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.UNKNOWN  # never guessed
    assert SYMBOL in rig.bot.orders.blocked
    (alert,) = rig.events("order_unresolved")
    assert alert["alert"] is True
    assert rig.venue.sent == []
    rig.assert_invariants()


def _rest_a_bid(i, view, acct):
    if i == 2:
        px = Decimal(str(round(view[SYMBOL].close * 0.995, 2)))
        return [
            PlaceOrder(
                symbol=SYMBOL,
                side=Side.BUY,
                qty=Decimal(1),
                type=OrderType.LIMIT,
                price=px,
                tif=TimeInForce.GTC,
            )
        ]
    return []


@pytest.mark.parametrize("rig", [_rest_a_bid], indirect=True)
def test_fill_that_happens_while_the_bot_is_down_is_learned_on_restart(rig):
    rig.step(4)
    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.OPEN
    rig.session.close()
    rig.prices[rig.bar % len(rig.prices)] = (
        float(order.request.price) * 0.99
    )  # trades through the bid
    rig.step(2, cycle=False)
    assert rig.sim.fetch_account().position(SYMBOL) == 1  # filled at the venue while we were away

    rig.restart()
    rig.step(1)

    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.FILLED
    assert order.filled == 1
    assert not rig.events("reconcile_delta")  # explained by our own order, not adopted
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_a_long_pause_forces_a_full_reread_before_the_next_decision(rig):
    rig.bot.reconciler.downtime_ms = 5 * 60_000
    rig.step(4)
    rig.sim.adjust_balance("SYN", Decimal(2))  # changes the venue's account behind our back
    rig.bar += 10  # ten minutes pass without a cycle (the process was suspended)

    rig.step(1)

    assert rig.events("downtime")
    (delta,) = rig.events("reconcile_delta")
    assert delta["delta"] == "2"
    rig.assert_invariants()


@pytest.mark.parametrize("rig", [_rest_a_bid], indirect=True)
def test_operator_halt_from_another_process_withdraws_resting_bids_and_survives_restart(rig):
    from typer.testing import CliRunner

    from bastion.cli import app

    rig.step(4)
    (order,) = rig.bot.orders.orders.values()
    assert order.status is OrderStatus.OPEN

    res = CliRunner().invoke(
        app, ["halt", "--state", str(rig.folder), "--reason", "test: operator"]
    )
    assert res.exit_code == 0, res.output
    rig.step(1)

    assert rig.bot.risk.latch.state is HaltState.HALTED
    assert order.status is OrderStatus.CANCELLED
    assert not rig.sim.fetch_open_orders(SYMBOL)
    rig.restart()
    assert rig.bot.risk.latch.state is HaltState.HALTED
    assert rig.events("started_halted")
    rig.assert_invariants()


def test_a_hand_trade_explained_only_by_an_order_never_placed_is_absorbed_later(tmp_path):
    """Found by the stateful test: a buy of unknown outcome 'explains' a hand
    trade of the same size; once the buy turns out never placed, the next read
    must see the hand trade for what it is (the account did not change, so a
    cache keyed on the venue's version would never look again)."""
    target = [Decimal(0)]
    rig = make_rig(tmp_path, lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=target[0])])
    try:
        rig.step(1)
        target[0] = Decimal(1)
        rig.venue.fail("submit", Fault.TIMEOUT_BEFORE, Fault.TIMEOUT_BEFORE)
        rig.step(1)
        rig.sim.adjust_balance("SYN", Decimal(1), symbol=SYMBOL)  # by hand, not the bot's
        rig.step(12)

        rig.assert_invariants()
        deltas = rig.events("reconcile_delta")
        assert [d["delta"] for d in deltas] == ["1"], deltas
    finally:
        rig.session.close()


def test_a_failed_cancel_defers_the_replacement_so_two_asks_never_rest(tmp_path):
    """Found by the campaign: a quote moved, its cancel failed (503), and the
    replacement ask was placed beside the old one; both filled and sold below
    the baseline. A replacement waits until its symbol's cancels are confirmed."""
    px: list[Decimal | None] = [None]

    def script(i, v, a):
        if px[0] is None:  # first buy one unit: the bot's own, to quote out
            return [TargetPosition(symbol=SYMBOL, qty=Decimal(1))]
        return [TargetQuotes(symbol=SYMBOL, bids=(), asks=(QuoteLevel(px[0], Decimal(1)),))]

    rig = make_rig(tmp_path, script)
    try:
        rig.step(3)
        px[0] = Decimal(103)
        rig.step(2)
        assert len(rig.sim.fetch_open_orders(SYMBOL)) == 1
        px[0] = Decimal(104)
        rig.venue.fail("cancel", Fault.SERVER_ERROR)
        rig.step(1)

        asks = [o for o in rig.sim.fetch_open_orders(SYMBOL)]
        assert len(asks) == 1, asks
        assert rig.events("replace_deferred")
        rig.step(2)  # the next cycle reads afresh, cancels and replaces
        asks = rig.sim.fetch_open_orders(SYMBOL)
        assert [o.price for o in asks] == [Decimal(104)]
    finally:
        rig.session.close()


def test_a_deposit_beside_a_working_bid_is_not_sold_as_the_bids_fill(tmp_path):
    """Found by the campaign (seed 27): a quoter's bid rested, a deposit of the
    same size arrived, and the reconciler took the rise for the bid's fill in
    transit; the ask then offered the deposit. A rise only a fill in transit
    explains is not the bot's to sell until that fill arrives."""
    quoting = [False]

    def script(i, v, acct):
        if not quoting[0]:
            return [TargetPosition(symbol=SYMBOL, qty=Decimal(1))]
        held = acct.position(SYMBOL)
        return [
            TargetQuotes(
                symbol=SYMBOL,
                bids=(QuoteLevel(Decimal(97), Decimal(1)),),  # below: never fills
                asks=(QuoteLevel(Decimal(103), held),) if held > 0 else (),
            )
        ]

    rig = make_rig(tmp_path, script)
    try:
        rig.step(3)
        quoting[0] = True
        rig.step(2)
        asks = [o for o in rig.sim.fetch_open_orders(SYMBOL) if o.side is Side.SELL]
        assert [o.qty for o in asks] == [Decimal(1)]
        rig.sim.adjust_balance("SYN", Decimal(1), symbol=SYMBOL)  # a deposit, not the bot's
        rig.step(3)

        asks = [o for o in rig.sim.fetch_open_orders(SYMBOL) if o.side is Side.SELL]
        assert sum((o.qty for o in asks), Decimal(0)) <= Decimal(1), asks
    finally:
        rig.session.close()


def test_a_deposit_larger_than_a_working_bid_leaves_nothing_of_it_sellable(tmp_path):
    """Found by the campaign (seed 27, step 105): a deposit of 2 beside a working
    bid of 0.5; the baseline absorbed 1.5 and the other 0.5 was taken for the
    bid's fill in transit, so the ask sold it though the bid never filled."""
    quoting = [False]

    def script(i, v, acct):
        if not quoting[0]:
            return []
        return [
            TargetQuotes(
                symbol=SYMBOL,
                bids=(QuoteLevel(Decimal(97), Decimal("0.5")),),  # below: never fills
                asks=(QuoteLevel(Decimal(101), Decimal("0.5")),),
            )
        ]

    rig = make_rig(tmp_path, script, balances={"USDT": Decimal(100_000), "SYN": Decimal(3)})
    try:
        rig.step(2)
        quoting[0] = True
        rig.step(2)
        rig.sim.adjust_balance("SYN", Decimal(2), symbol=SYMBOL)  # a deposit, not the bot's
        rig.step(4)

        asks = [o for o in rig.sim.fetch_open_orders(SYMBOL) if o.side is Side.SELL]
        held = rig.sim.fetch_account().position(SYMBOL)
        assert not asks and held == Decimal(5), (asks, held)
    finally:
        rig.session.close()
