"""Catching up with the account between decisions (``engine.cycle.catch_up``,
run by the live cycle thread): the re-read the next decision would make,
made early, that never places an order and never hides a later change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.execution.conftest import MINUTE, SYMBOL

from bastion.engine.cycle import catch_up
from bastion.model import Instrument, TargetPosition
from bastion.state import Reconciler
from bastion.venues.faults import Fault
from bastion.venues.sim import SimVenue


def want(qty: str, from_cycle: int = 2):
    return lambda i, view, acct: (
        [TargetPosition(symbol=SYMBOL, qty=Decimal(qty))] if i >= from_cycle else []
    )


@pytest.mark.parametrize("rig", [want("1")], indirect=True)
def test_a_catch_up_sends_nothing_not_even_a_retry_that_fell_due(rig):
    rig.venue.fail("submit", Fault.RATE_LIMIT)
    rig.step(3)  # the third decision buys; the exchange says "too many": a retry later
    assert rig.venue.calls.count("submit") == 1
    assert rig.venue.sent == []

    catch_up(rig.bot, rig.now + 30 * MINUTE)  # long after the retry fell due

    assert rig.venue.calls.count("submit") == 1  # the retry is the decision's
    rig.step()
    assert rig.venue.calls.count("submit") == 2
    rig.step()  # the simulated venue fills a market order at the next bar
    assert rig.sim.fetch_account().position(SYMBOL) == 1
    rig.assert_invariants()


class Counted(SimVenue):
    """The simulated venue (its ``version`` moves with every change, as the
    ccxt venue's does on order replies, stream updates and its schedule),
    counting the account reads."""

    reads = 0

    def fetch_account(self):
        self.reads += 1
        return super().fetch_account()


def reconciler() -> tuple[Reconciler, Counted]:
    venue = Counted([Instrument.spot(SYMBOL)], {"USDT": Decimal(1000)})
    return Reconciler(venue, lambda *a: None, refresh_ms=0), venue


def test_behind_before_the_first_read_and_once_the_venue_moved_and_only_then() -> None:
    rec, venue = reconciler()
    assert rec.behind()

    rec.account(1_000, {})
    assert not rec.behind()
    assert not rec.behind()  # asking changes nothing
    assert rec.current(2_000) is not None

    venue.adjust_balance("USDT", Decimal(500))  # a deposit the venue reports

    assert rec.behind()
    assert rec.current(3_000) is None  # the decision would re-read: the same answer


def test_a_change_after_the_catch_up_is_read_before_the_decision() -> None:
    rec, venue = reconciler()
    rec.account(1_000, {})  # the catch-up's read
    venue.adjust_balance("USDT", Decimal(500))  # what the venue reports after it

    acct = rec.account(2_000, {})  # the decision's

    assert venue.reads == 2
    assert acct.balances["USDT"].total == Decimal(1500)
