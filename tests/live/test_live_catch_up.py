"""The live cycle thread catches up with the account between decisions, over
the real ccxt client against the emulator: the re-read that follows a fill is
made before the next bar, not inside its decision; anything the venue reports
after it is still re-read before the decision. The account only ever comes
from the exchange's REST snapshot."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from live_support import PRICE, SYMBOL, LiveRig, admin, make_rig, wait_for

from bastion.engine.live_cycle import LiveCycle
from bastion.model import OrderType, PlaceOrder, Side, TargetPosition

LOT = Decimal("0.01")


def count_reads(rig: LiveRig) -> list[int]:
    """Account reads from now on (the reconciler's, through the venue)."""
    reads = [0]
    read = rig.venue.fetch_account

    def counted():  # type: ignore[no-untyped-def]
        reads[0] += 1
        return read()

    rig.venue.fetch_account = counted  # type: ignore[method-assign]
    return reads


def settled(rig: LiveRig, since: int, changes: int) -> None:
    """Until the venue has told of ``changes`` account changes since ``since``
    (an order's reply, and the private stream's reports of it)."""
    assert wait_for(lambda: rig.venue.version[0] - since >= changes), "the stream never spoke"


def test_after_a_fill_the_account_is_read_between_decisions_and_the_next_decides_on_it(
    tmp_path: Path,
) -> None:
    seen: list[Decimal] = []

    def script(i, view, acct):  # type: ignore[no-untyped-def]
        seen.append(acct.position(SYMBOL))
        return [TargetPosition(symbol=SYMBOL, qty=LOT)]

    rig = make_rig(tmp_path / "bot", script)
    step = LiveCycle(rig.session, stale_ms=10**9)
    nudges = [0]
    rig.venue.on_change = lambda: nudges.__setitem__(0, nudges[0] + 1)
    try:
        before = rig.venue.version[0]
        rig.step()  # buys LOT: a market order, filled by its reply
        # the reply, the fill it lists, and the stream's "filled" (the stream's
        # "new" and fill repeat what the reply said, and change nothing)
        settled(rig, before, 3)
        assert nudges[0] >= 3  # the venue tells the cycle thread of each change
        assert step.behind()

        step.catch_up()  # the cycle thread, between decisions
        assert not step.behind()
        reads = count_reads(rig)
        rig.step()  # the next decision

        assert reads[0] == 0  # it found the account read
        assert seen[-1] == LOT  # and read after the fill
        assert rig.emulator_position() == LOT
        assert len(rig.bot.orders.orders) == 1  # nothing bought again
    finally:
        rig.close()


def test_a_fill_the_stream_reports_after_the_catch_up_is_read_before_the_decision(
    tmp_path: Path,
) -> None:
    bid = PRICE - Decimal(100)
    seen: list[Decimal] = []

    def script(i, view, acct):  # type: ignore[no-untyped-def]
        seen.append(acct.position(SYMBOL))
        if i == 0:  # a bid below the market: it rests
            return [
                PlaceOrder(symbol=SYMBOL, side=Side.BUY, qty=LOT, type=OrderType.LIMIT, price=bid)
            ]
        return []

    rig = make_rig(tmp_path / "bot", script)
    step = LiveCycle(rig.session, stale_ms=10**9)
    try:
        before = rig.venue.version[0]
        rig.step()
        settled(rig, before, 2)  # the reply, and the stream's "new"
        step.catch_up()
        assert not step.behind()
        assert seen[-1] == 0

        before = rig.venue.version[0]
        body = {"symbol": SYMBOL, "bid": str(bid - 1), "ask": str(bid), "bid_qty": "5"}
        admin(rig.emu, "/market/quote", body | {"ask_qty": "5"})
        admin(rig.emu, "/market/trade", {"symbol": SYMBOL, "price": str(bid - 1), "qty": "0.1"})
        assert wait_for(lambda: rig.emulator_position() == LOT)  # the bid filled
        settled(rig, before, 1)  # and the stream said so, after the catch-up
        assert step.behind()
        reads = count_reads(rig)
        rig.price = bid
        rig.step()

        assert reads[0] >= 1  # the decision re-read
        assert seen[-1] == LOT  # and decided on the fill
    finally:
        rig.close()
