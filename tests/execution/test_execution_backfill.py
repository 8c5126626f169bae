"""The journal and the order store agree after a crash (in-process, fast: the
process version is ``test_execution_crash.py``), and ``order_submitted`` is
stamped with the send time."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from tests.execution.conftest import MINUTE, SYMBOL, T0, _open, make_rig

from bastion.engine.session import open_session
from bastion.execution.backfill import missing_events
from bastion.model import TargetPosition
from bastion.observe.journal import read_events
from bastion.state.orders import OrderStore


def moves(i, view, acct):
    return [TargetPosition(symbol=SYMBOL, qty=Decimal((i // 2) % 2))] if i >= 1 else []


def crash(rig) -> None:
    """What SIGKILL does to a session: the journal's unflushed batch is gone,
    nothing is closed; the store's commits stay."""
    rig.session.journal._buf.clear()
    rig.session.journal.close()  # nothing left to flush: the batch is lost


def _counts(folder):
    events = list(read_events(folder))
    return (
        Counter(e["client_id"] for e in events if e["kind"] == "order_submitted"),
        Counter(e["trade_id"] for e in events if e["kind"] == "fill"),
    )


@pytest.mark.parametrize("cycles", [3, 4, 7, 10])
def test_a_crash_mid_cycle_then_restart_journals_each_stored_order_and_fill_once(tmp_path, cycles):
    rig = make_rig(tmp_path, moves)
    rig.step(cycles - 1)
    journal = rig.session.journal
    real_flush = journal.flush
    journal.flush = lambda: None  # type: ignore[method-assign]  # dies before the end-of-cycle flush
    rig.step(1)
    journal.flush = real_flush  # type: ignore[method-assign]
    crash(rig)
    rig.session.store.close()
    rig.session.state.close()

    rig.session = _open(tmp_path, rig.venue, rig.now, None)
    rig.step(6)
    rig.session.close()

    store = OrderStore(tmp_path / "state.sqlite")
    orders, fills = list(store.all_orders()), store.fills()
    store.close()
    submitted, journaled = _counts(tmp_path)
    assert orders and fills
    assert submitted == Counter({o.request.client_id: 1 for o in orders})
    assert journaled == Counter({f.trade_id: 1 for f in fills})


def test_a_clean_restart_backfills_nothing(tmp_path):
    rig = make_rig(tmp_path, moves)
    rig.step(8)

    rig.restart()

    assert rig.events("journal_backfilled") == []
    assert [e for e in rig.events() if e.get("recovered") is True] == []
    rig.session.close()


def test_missing_events_marks_what_it_adds_and_adds_nothing_twice(tmp_path):
    rig = make_rig(tmp_path, moves)
    rig.step(8)
    store = rig.session.store
    orders, fills = list(store.all_orders()), store.fills()
    rig.session.journal.flush()
    everything = list(read_events(tmp_path))

    none_missing = missing_events(orders, fills, everything)
    all_missing = missing_events(orders, fills, [])
    again = missing_events(orders, fills, [{"kind": k, **p} for k, _, p in all_missing])

    assert none_missing == []
    assert all(p["recovered"] is True for _, _, p in all_missing)
    kinds = Counter(k for k, _, _ in all_missing)
    assert kinds["order_submitted"] == len(orders) and kinds["fill"] == len(fills)
    assert again == []
    rig.session.close()


def test_order_submitted_carries_the_send_time_not_the_cycles_start(tmp_path):
    from tests.execution.conftest import POLICY
    from tests.scripted import NoParams, Scripted

    from bastion.config import BotConfig
    from bastion.model import Instrument
    from bastion.venues.faults import FaultyVenue
    from bastion.venues.sim import SimVenue

    Scripted.script = staticmethod(
        lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=Decimal(1))] if i >= 1 else []
    )
    sim = SimVenue([Instrument.spot(SYMBOL)], {"USDT": Decimal(100_000)})
    sent_at = T0 + 10 * MINUTE + 1234  # the clock moved on while the cycle worked
    session = open_session(
        data_dir=tmp_path,
        venue=FaultyVenue(sim),
        strategies=[Scripted(NoParams(), [SYMBOL], "scripted")],
        config=BotConfig(),
        intervals={SYMBOL: MINUTE},
        now=T0,
        policy=POLICY,
        refresh_ms=0,
        clock=lambda: sent_at,
    )
    try:
        for i in range(3):
            t = T0 + i * MINUTE
            sim.on_bar(SYMBOL, t, 100.0, 100.1, 99.9, 100.0, 1000.0)
            sim.set_time(t + MINUTE)
            session.bot.gate.on_bar(SYMBOL, t, 100.0, 100.1, 99.9, 100.0, 1000.0)
            session.cycle(t + MINUTE)
        session.journal.flush()
        (sub,) = list(read_events(tmp_path, kinds=["order_submitted"]))
        (decision,) = list(read_events(tmp_path, kinds=["risk_decision"]))
    finally:
        session.close()
    assert sub["ts"] == sent_at
    assert decision["ts"] != sent_at  # the decision keeps the cycle's time
