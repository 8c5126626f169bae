"""Protective orders on the exchange, end to end: the bot's order manager,
``CcxtVenue`` and the real ccxt binance class against the emulator.

An OCO is placed beside a position; one leg fills, the exchange expires the
other, and the bot's records (order store, attributed position) agree with
the emulator's. A stop-limit protects a position on its own; the kill switch
cancels resting protective orders like any other and closes the position.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.live.live_support import EX_SYMBOL, SYMBOL, LiveRig, make_rig, wait_for

from bastion.execution.ids import client_order_id
from bastion.execution.protect import Protecting, Protection, place_oco
from bastion.killswitch.flatten import flatten
from bastion.killswitch.venueset import VenueSet
from bastion.model import OrderRequest, OrderStatus, TargetPosition

LOT = Decimal("0.01")
RULE = Protection(
    stop_pct=Decimal("0.02"), limit_pct=Decimal("0.025"), take_profit_pct=Decimal("0.01")
)


def long_rig(tmp_path: Path) -> LiveRig:
    """A bot that has bought LOT at 60,000 and wants nothing more."""
    rig = make_rig(
        tmp_path / "bot",
        lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=LOT)] if i == 0 else [],
        refresh_ms=0,
    )
    rig.trade()
    rig.step()
    wait_for(lambda: rig.bot.orders.positions_for("scripted").get(SYMBOL) == LOT)
    return rig


def legs(rig: LiveRig) -> tuple[OrderRequest, OrderRequest]:
    inst = rig.venue.instruments()[SYMBOL]
    strategy = next(iter(rig.bot.orders.orders.values())).request.strategy
    position = Protecting(inst=inst, strategy=strategy, qty=LOT, reference=rig.price, rule=RULE)
    run = rig.bot.run_id
    tp = position.take_profit(client_order_id(run, 0, 0, 0, prefix="bp"))
    stop = position.stop(client_order_id(run, 0, 0, 1, prefix="bp"))
    return tp, stop


def emulator_order(rig: LiveRig, client_id: str) -> Any:
    """The emulator's record of the latest order under ``client_id`` (read on its loop)."""
    records = rig.emu.exchange.records
    return rig.thread.call(
        lambda: next(r for r in reversed(list(records.values())) if r.client_id == client_id)
    )


def emulator_status(rig: LiveRig, client_id: str) -> str:
    return str(emulator_order(rig, client_id).status)


def settle(rig: LiveRig, client_ids: list[str]) -> None:
    """Cycles until the bot has heard the end of every order in ``client_ids``."""

    def done() -> bool:
        rig.step()
        return all(rig.bot.orders.orders[c].status.terminal for c in client_ids)

    wait_for(done, timeout=10, every=0.1)


@pytest.mark.slow
def test_oco_leg_fills_the_other_expires_and_the_bot_agrees_with_the_exchange(
    tmp_path: Path,
) -> None:
    rig = long_rig(tmp_path)
    try:
        tp, stop = legs(rig)
        mos = place_oco(rig.bot.orders, rig.venue, tp, stop, int(time.time() * 1000))
        assert [m.status for m in mos] == [OrderStatus.OPEN, OrderStatus.OPEN]
        assert emulator_status(rig, stop.client_id) == "NEW"
        assert tp.price == Decimal("60600.00") and stop.stop_price == Decimal("58800.00")

        rig.price = Decimal("60600.00")  # the market reaches the take-profit
        rig.quote()
        rig.trade()
        settle(rig, [tp.client_id, stop.client_id])

        store = rig.session.store
        assert emulator_status(rig, tp.client_id) == "FILLED"
        assert emulator_status(rig, stop.client_id) == "EXPIRED"
        assert store.get(tp.client_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
        assert store.get(stop.client_id).status is OrderStatus.EXPIRED  # type: ignore[union-attr]
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 0
        assert rig.emulator_position() == 0
        assert rig.venue.fetch_open_orders(SYMBOL) == []
        assert [r.outcome for r in rig.emu.exchange.requests_for(stop.client_id)] == ["accepted"]
        assert not [e for e in rig.events("reconcile_delta") if e.get("alert")]
    finally:
        rig.close()


@pytest.mark.slow
def test_a_stop_limit_sells_the_position_when_the_market_falls(tmp_path: Path) -> None:
    rig = long_rig(tmp_path)
    try:
        _, stop = legs(rig)
        rig.bot.orders.submit(stop, int(time.time() * 1000))
        waiting = emulator_order(rig, stop.client_id)
        waiting_as = (waiting.type_name, waiting.status, waiting.is_working)
        rig.price = Decimal("58700.00")  # through the stop (58,800), above its limit (58,500)
        rig.quote()
        rig.trade()
        settle(rig, [stop.client_id])

        assert waiting_as == ("STOP_LOSS_LIMIT", "NEW", False)
        assert rig.bot.orders.orders[stop.client_id].status is OrderStatus.FILLED
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 0
        assert rig.emulator_position() == 0
    finally:
        rig.close()


@pytest.mark.slow
def test_the_kill_switch_cancels_resting_protective_orders_and_closes(tmp_path: Path) -> None:
    rig = long_rig(tmp_path)
    try:
        tp, stop = legs(rig)
        place_oco(rig.bot.orders, rig.venue, tp, stop, int(time.time() * 1000))
        assert len(rig.emu.exchange.open_orders(EX_SYMBOL)) == 2

        result = flatten(VenueSet([SYMBOL], lambda _s: rig.venue), deadline_s=10)

        assert result.flat, result
        assert rig.emu.exchange.open_orders(EX_SYMBOL) == []
        assert emulator_status(rig, stop.client_id) == "CANCELED"
        assert rig.emulator_position() == 0
    finally:
        rig.close()
