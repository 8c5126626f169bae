"""Client ids are unique per account: the data folder's random identity is part
of every id, so two fresh folders for bots of the same name never name the same
order, and a restart keeps its folder's identity (with a new boot number)."""

from __future__ import annotations

import string
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.execution.conftest import SYMBOL, make_rig
from tests.live.live_support import SECOND, make_venue, start_emulator, wall_ms
from tests.scripted import NoParams, Scripted

from bastion.config import BotConfig
from bastion.engine.session import open_session
from bastion.execution.ids import client_order_id, is_legal, run_identity
from bastion.model import OrderStatus, OrderType, PlaceOrder, Side, TargetPosition, TimeInForce
from bastion.model.orders import ORIGIN_PREFIXES
from bastion.state.orders import IDENTITY_LEN, OrderStore


def buy_each_cycle(i, view, acct):
    return [TargetPosition(symbol=SYMBOL, qty=Decimal(i + 1))] if i < 4 else []


def _client_ids(folder: Path) -> set[str]:
    store = OrderStore(folder / "state.sqlite")
    try:
        return {o.request.client_id for o in store.all_orders()}
    finally:
        store.close()


def test_two_fresh_folders_for_the_same_bot_name_give_disjoint_client_ids(tmp_path):
    ids = []
    for name in ("a", "b"):
        rig = make_rig(tmp_path / name, buy_each_cycle)  # same BotConfig(), same name
        rig.step(6)
        rig.session.close()
        ids.append(_client_ids(tmp_path / name))

    assert len(ids[0]) == len(ids[1]) == 4
    assert ids[0].isdisjoint(ids[1]), (ids[0], ids[1])


def test_a_restart_keeps_its_folder_identity_and_takes_a_new_boot(tmp_path):
    rig = make_rig(tmp_path, buy_each_cycle)
    first = rig.bot.run_id
    rig.step(3)
    before = _client_ids(tmp_path)

    rig.restart()
    rig.step(3)

    second = rig.bot.run_id
    assert first != second
    assert first[:IDENTITY_LEN] == second[:IDENTITY_LEN]  # the folder's identity
    starts = rig.events("session_start")
    assert [e["identity"] for e in starts] == [first[:IDENTITY_LEN]] * 2
    assert len(_client_ids(tmp_path)) > len(before)
    rig.session.close()


def test_a_fresh_folder_never_adopts_an_order_another_folder_placed_on_the_account(tmp_path):
    """Through the emulator and ccxt: folder A leaves a bid resting; a fresh
    folder B of the same bot name places its own bid in the same cycle. Before
    run identities both were ``bn<name hash>1-1-0-0``: the exchange refused B's
    as a duplicate, and B's lookup by client id adopted A's order as its own."""
    thread, emu = start_emulator()
    bid = PlaceOrder(
        symbol="BTC/USDT",
        side=Side.BUY,
        qty=Decimal("0.01"),
        type=OrderType.LIMIT,
        price=Decimal("59000"),
        tif=TimeInForce.GTC,
    )
    Scripted.script = staticmethod(lambda i, v, a: [bid] if i == 0 else [])
    sessions = []
    try:
        for name in ("a", "b"):
            venue = make_venue(emu)
            session = open_session(
                data_dir=tmp_path / name,
                venue=venue,
                strategies=[Scripted(NoParams(), ["BTC/USDT"], "scripted")],
                config=BotConfig(),
                intervals={"BTC/USDT": SECOND},
                now=wall_ms(),
            )
            sessions.append((session, venue))
            now = wall_ms()
            t = now - now % SECOND - SECOND
            session.bot.gate.on_bar("BTC/USDT", t, 60000.0, 60000.0, 60000.0, 60000.0, 1000.0)
            session.cycle(now)

        (a_cid,) = sessions[0][0].bot.orders.orders
        (b_cid,) = sessions[1][0].bot.orders.orders
        assert a_cid != b_cid
        b_order = sessions[1][0].bot.orders.orders[b_cid]
        assert b_order.status is OrderStatus.OPEN, b_order.reason
        listed = thread.call(lambda: [o.client_id for o in emu.venue.fetch_open_orders()])
        assert sorted(listed) == sorted([a_cid, b_cid])  # two orders: each folder its own
    finally:
        for session, venue in sessions:
            session.close()
            venue.close()
        thread.stop()


# ------------------------------------------------------------ the id scheme
identities = st.text(alphabet=string.digits + string.ascii_lowercase, min_size=8, max_size=8)
boots = st.integers(min_value=1, max_value=36**3 - 1)
cycles = st.integers(min_value=0, max_value=36**8 - 1)
intents = st.integers(min_value=0, max_value=36**3 - 1)
legs = st.integers(min_value=0, max_value=36**2 - 1)
prefixes = st.sampled_from(sorted(ORIGIN_PREFIXES))
inputs = st.tuples(identities, boots, cycles, intents, legs, prefixes)


def _cid(ident: str, boot: int, cycle: int, intent: int, leg: int, prefix: str) -> str:
    return client_order_id(run_identity(ident, boot), cycle, intent, leg, prefix=prefix)


@settings(max_examples=300, deadline=None)
@given(inputs)
def test_ids_from_a_run_identity_fit_binance_and_keep_the_origin_prefix(args):
    cid = _cid(*args)

    assert len(cid) <= 36 and is_legal(cid)
    assert cid[:2] == args[-1]
    assert cid == _cid(*args)  # a pure function of its inputs


@settings(max_examples=300, deadline=None)
@given(inputs, inputs)
def test_distinct_runs_cycles_intents_or_legs_never_share_an_id(a, b):
    if a == b:
        return
    assert _cid(*a) != _cid(*b)


@pytest.mark.parametrize("bad", ["", "ab-cd", "ab cd", "é1234567"])
def test_a_run_identity_that_could_blur_the_id_fields_is_refused(bad):
    with pytest.raises(ValueError, match="identity"):
        run_identity(bad, 1)


def test_the_store_draws_its_identity_once(tmp_path):
    with_store = OrderStore(tmp_path / "state.sqlite")
    first = with_store.identity()
    assert with_store.identity() == first
    with_store.close()
    again = OrderStore(tmp_path / "state.sqlite")
    assert again.identity() == first
    again.close()
    other = OrderStore(tmp_path / "other.sqlite")
    assert other.identity() != first
    other.close()
