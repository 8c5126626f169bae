"""Memory stays flat over a long run: terminal orders, fills and seen trade ids
beyond the retention leave memory (the order store keeps them), and a late
event naming a forgotten order is still handled exactly once."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from tests.execution.conftest import SYMBOL, Rig, make_rig

from bastion.execution.retention import RecentSet, Retention
from bastion.model import OrderStatus, TargetPosition

SMALL = Retention(orders=4, fills=3, trades=6, foreign=2)


def flip(i: int, view: object, acct: object) -> list[TargetPosition]:
    """Long one unit on even cycles, flat on odd ones: an order every cycle."""
    return [TargetPosition(symbol=SYMBOL, qty=Decimal(1 if i % 2 == 0 else 0))] if i >= 2 else []


def _small(rig: Rig) -> None:
    om = rig.bot.orders
    om._keep = SMALL
    om._seen_trades.limit = SMALL.trades
    om._foreign.limit = SMALL.foreign


@pytest.fixture
def busy(tmp_path):
    rig = make_rig(tmp_path, flip)
    _small(rig)
    yield rig
    rig.session.close()


def test_memory_holds_only_the_retention_while_the_store_holds_everything(busy):
    busy.step(60)

    om = busy.bot.orders
    stored = list(busy.session.store.all_orders())
    assert len(stored) >= 40  # an order almost every cycle
    assert om.submitted == len(stored)
    assert len(om.orders) <= SMALL.orders + len(om.working) + len(om.settling)
    assert len(om.fills) <= 2 * SMALL.fills
    assert len(om._seen_trades) <= SMALL.trades
    assert om.fills_applied == len(busy.session.store.fills())
    assert all(s.status.terminal for s in stored if s.request.client_id not in om.working)
    busy.assert_invariants()  # the ledger still equals the venue's position


def test_a_late_fill_for_a_forgotten_order_counts_once_and_sends_nothing(busy):
    busy.step(30)
    om, store = busy.bot.orders, busy.session.store
    first = next(s for s in store.all_orders() if s.status is OrderStatus.FILLED)
    cid = first.request.client_id
    assert cid not in om.orders  # forgotten: only the store has it
    (orig,) = [f for f in store.fills() if f.client_id == cid]
    late = replace(orig, trade_id=orig.trade_id + "-late", qty=Decimal("0.25"))
    sent = list(busy.venue.sent)
    ledger = busy.bot.ledger()[SYMBOL]

    om.apply_fill(late, busy.now)  # a fill the stream delivered very late
    om.apply_fill(late, busy.now)  # and again (a duplicate message)
    om.apply_fill(orig, busy.now)  # the original too: its trade id left the window long ago
    om.catch_up_fills(0, busy.now)  # and every fill the venue holds, re-fetched

    assert busy.bot.ledger()[SYMBOL] == ledger + late.signed_qty  # counted exactly once
    assert store.get(cid).filled == first.filled + late.qty  # read back, updated, written
    assert [f.trade_id for f in store.fills()].count(late.trade_id) == 1
    assert busy.venue.sent == sent  # nothing sent because of it
    with pytest.raises(ValueError, match="already used"):
        om.submit(first.request, busy.now)  # a forgotten client id is still never reused
    assert busy.venue.sent == sent


def test_a_late_report_for_a_forgotten_order_is_journaled_not_applied(busy):
    busy.step(30)
    om, store = busy.bot.orders, busy.session.store
    first = next(s for s in store.all_orders() if s.status is OrderStatus.FILLED)
    cid = first.request.client_id
    assert cid not in om.orders
    stale = replace(om.recall(cid).as_report(), status=OrderStatus.CANCELLED)

    om.apply_report(stale, busy.now)

    assert store.get(cid).status is OrderStatus.FILLED
    assert any(e["client_id"] == cid for e in busy.events("late_report"))


def test_without_a_store_nothing_is_forgotten(tmp_path):
    """A backtest builds its result from memory: no retention applies."""
    from bastion.execution import OrderManager
    from bastion.venues.sim import SimVenue

    om = OrderManager(SimVenue([], {}), lambda *_: None)
    assert om._keep is None
    assert om._seen_trades.limit is None


def test_a_recent_set_forgets_its_oldest_members():
    s = RecentSet(3, ["a", "b", "c"])
    s.add("a")  # seen again: the newest now
    s.add("d")

    assert list(s) == ["c", "a", "d"]
    assert "b" not in s


def test_an_unknown_order_resolved_by_a_stream_report_unblocks_its_symbol(tmp_path):
    """Found in the 30-minute soak: the symbol stayed blocked for good when the
    outcome was learned outside ``tick`` (which only runs while orders work)."""
    from tests.execution.conftest import make_rig

    from bastion.venues.faults import Fault

    rig = make_rig(
        tmp_path, lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=Decimal(1))] if i == 2 else []
    )
    rig.venue.fail("submit", Fault.TIMEOUT_AFTER)
    rig.step(3)
    om = rig.bot.orders
    (mo,) = [m for m in om.working.values() if m.status is OrderStatus.UNKNOWN]
    assert SYMBOL in om.blocked

    om.apply_report(rig.sim.fetch_order(SYMBOL, mo.request.client_id), rig.now)

    assert mo.status is not OrderStatus.UNKNOWN
    assert SYMBOL not in om.blocked
    rig.session.close()
