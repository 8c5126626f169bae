"""Protection from the cycle, end to end: a bot configured with
``[strategies.protect]`` through ``CcxtVenue`` and the real ccxt binance class
against the emulator.

The bot buys and its stop rests on the emulator sized to the position; the bot
stops, the market falls through the stop (the emulator's admin port), the
stop fills with nobody watching; the restarted bot books the fill to the
strategy, agrees with the emulator, and neither re-sends anything nor buys
back although its strategy still wants the position. A strategy's own sell
cancels the protection first (the exchange locks what a resting sell would
sell). An OCO: one leg fills, the other expires, the bot agrees. The kill
switch (bot and account scope) cancels the protection with every order, and
the halted bot does not put it back.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.live.live_support import (
    EX_SYMBOL,
    SECOND,
    SYMBOL,
    LiveRig,
    admin,
    make_rig,
    make_venue,
    wait_for,
    wall_ms,
)
from tests.live.service_support import KEY_ENV as SVC_KEY_ENV
from tests.live.service_support import write_config
from tests.scripted import NoParams, Scripted

from bastion.config import BotConfig, load_config, parse_config
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig, EmulatorThread
from bastion.engine.latch import change_latch
from bastion.engine.live import run_bot
from bastion.engine.replay import replay_day
from bastion.engine.service import on_exit
from bastion.engine.session import open_session
from bastion.killswitch.kill import KillSwitch
from bastion.model import OrderStatus, TargetPosition
from bastion.observe.journal import read_events
from bastion.risk import HaltState
from bastion.state.killflag import clear_flag

LOT = Decimal("0.01")
STOP = {"stop_pct": "0.02", "limit_pct": "0.025"}  # at 60,000: trigger 58,800, limit 58,500


def protected(**extra: Any) -> BotConfig:
    entry = {"name": "sma_cross", "id": "scripted", "symbols": [SYMBOL], "protect": STOP | extra}
    return parse_config({"strategies": [entry]})


WANT = {"qty": LOT}  # what the scripted strategy targets; a test changes it


def target(i: int, view: Any, account: Any) -> list[TargetPosition]:
    return [TargetPosition(symbol=SYMBOL, qty=WANT["qty"])]


def rig_for(tmp_path: Path, config: BotConfig) -> LiveRig:
    WANT["qty"] = LOT
    return make_rig(tmp_path / "bot", target, refresh_ms=0, config=config)


def resting(rig: LiveRig) -> list[dict[str, Any]]:
    """The emulator's open orders (its admin view: what the exchange holds)."""
    return list(admin(rig.emu, "/state")["openOrders"])


def cycle_until(rig: LiveRig, done: Any, timeout: float = 10.0) -> Any:
    def step() -> Any:
        rig.step()
        return done()

    value = wait_for(step, timeout=timeout, every=0.05)
    assert value, "the cycles did not get there in time"
    return value


def protective(rig: LiveRig) -> list[Any]:
    return [mo for mo in rig.bot.orders.orders.values() if mo.request.origin == "protect"]


def emulator_status(rig: LiveRig, mo: Any) -> str:
    """The emulator's own record of an order (read on its loop)."""
    records, cid = rig.emu.exchange.records, mo.request.client_id
    return str(
        rig.thread.call(
            lambda: next(r for r in reversed(records.values()) if r.client_id == cid)
        ).status
    )


def move_market(rig: LiveRig, price: str) -> None:
    """Through the admin port, as an operator's script would: a quote and a trade."""
    p = Decimal(price)
    body = {"symbol": SYMBOL, "bid": str(p), "ask": str(p + Decimal("0.01")), "bid_qty": "5"}
    admin(rig.emu, "/market/quote", body | {"ask_qty": "5"})
    admin(rig.emu, "/market/trade", {"symbol": SYMBOL, "price": str(p), "qty": "0.1"})
    rig.price = p


@pytest.mark.slow
def test_a_stop_that_fills_while_the_bot_is_down_is_booked_at_restart_and_not_bought_back(
    tmp_path: Path,
) -> None:
    config = protected()
    rig = rig_for(tmp_path, config)
    try:
        rig.trade()
        orders = cycle_until(rig, lambda: resting(rig))
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == LOT
        [stop] = orders
        assert (stop["type"], stop["side"], stop["status"]) == ("STOP_LOSS_LIMIT", "SELL", "NEW")
        assert Decimal(stop["origQty"]) == LOT
        assert (Decimal(stop["stopPrice"]), Decimal(stop["price"])) == (58_800, 58_500)
        stop_id = stop["clientOrderId"]
        rig.step(3, settle_s=0.05)
        assert [o["clientOrderId"] for o in resting(rig)] == [stop_id]  # not replaced: at rest

        rig.session.close()  # the bot stops: nothing watches the market now
        rig.venue.close()
        move_market(rig, "58700.00")  # through the stop, above its limit
        filled = wait_for(lambda: not resting(rig))
        assert filled and rig.emulator_position() == 0
        sent_before = len(admin(rig.emu, "/orders")["orders"])

        rig.venue = make_venue(rig.emu)
        rig.session = open_session(
            data_dir=rig.folder,
            venue=rig.venue,
            strategies=[Scripted(NoParams(), [SYMBOL], "scripted")],
            config=config,
            intervals={SYMBOL: SECOND},
            now=wall_ms(),
            refresh_ms=0,
        )
        rig.step(5, settle_s=0.05)

        stored = rig.session.store.get(stop_id)
        assert stored is not None and stored.status is OrderStatus.FILLED
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 0
        assert rig.bot.reconciler.last.position(SYMBOL) == rig.emulator_position() == 0
        assert len(admin(rig.emu, "/orders")["orders"]) == sent_before  # nothing sent again
        assert resting(rig) == []
        assert [r.outcome for r in rig.emu.exchange.requests_for(stop_id)] == ["accepted"]
        stop_outs = [e for e in rig.events("protection") if e["action"] == "filled"]
        assert [e["client_id"] for e in stop_outs] == [stop_id]
        assert not [e for e in rig.events("reconcile_delta") if e.get("alert")]

        WANT["qty"] = Decimal(0)  # the strategy sees the exit...
        rig.step(2, settle_s=0.05)
        WANT["qty"] = LOT  # ...and wants back in: a new decision, bought
        cycle_until(rig, lambda: rig.bot.orders.positions_for("scripted").get(SYMBOL) == LOT)
    finally:
        rig.close()


@pytest.mark.slow
def test_the_strategys_sell_cancels_its_protection_first_and_fills(tmp_path: Path) -> None:
    rig = rig_for(tmp_path, protected())
    try:
        rig.trade()
        [stop] = cycle_until(rig, lambda: resting(rig))
        assert Decimal(admin(rig.emu, "/state")["balances"]["BTC"]["locked"]) == LOT

        WANT["qty"] = Decimal(0)
        cycle_until(rig, lambda: rig.emulator_position() == 0)
        rig.step(3, settle_s=0.05)

        stop_id = stop["clientOrderId"]
        assert rig.bot.orders.orders[stop_id].status is OrderStatus.CANCELLED
        sells = [
            mo
            for mo in rig.bot.orders.orders.values()
            if mo.request.origin == "strategy" and mo.request.side.value == "sell"
        ]
        assert [mo.status for mo in sells] == [OrderStatus.FILLED]
        assert rig.events("order_rejected") == []
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 0
        assert resting(rig) == []
        kinds = [
            (e["kind"], e.get("client_id"))
            for e in rig.events("cancel_requested", "order_submitted")
            if e.get("client_id") in (stop_id, sells[0].request.client_id)
        ]
        assert kinds == [
            ("order_submitted", stop_id),
            ("cancel_requested", stop_id),
            ("order_submitted", sells[0].request.client_id),
        ]
    finally:
        rig.close()


@pytest.mark.slow
def test_a_position_that_grows_gets_its_protection_replaced_to_match(tmp_path: Path) -> None:
    rig = rig_for(tmp_path, protected())
    try:
        rig.trade()
        [first] = cycle_until(rig, lambda: resting(rig))
        WANT["qty"] = LOT * 3

        def replaced() -> list[dict[str, Any]]:
            now = resting(rig)
            return now if now and now[0]["clientOrderId"] != first["clientOrderId"] else []

        [second] = cycle_until(rig, replaced)

        assert Decimal(second["origQty"]) == 3 * LOT == rig.emulator_position()
        old = rig.bot.orders.orders[first["clientOrderId"]]
        assert old.status is OrderStatus.CANCELLED
        reasons = [e["reason"] for e in rig.events("protection") if e["action"] == "place"]
        assert "replaced" in reasons[-1]
    finally:
        rig.close()


@pytest.mark.slow
def test_an_oco_leg_fills_the_other_expires_and_the_bot_agrees_with_the_emulator(
    tmp_path: Path,
) -> None:
    rig = rig_for(tmp_path, protected(take_profit_pct="0.01"))
    try:
        rig.trade()
        legs = cycle_until(rig, lambda: len(resting(rig)) == 2 and resting(rig))
        assert sorted(o["type"] for o in legs) == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
        assert {Decimal(o["origQty"]) for o in legs} == {LOT}

        move_market(rig, "60600.00")  # the take-profit's price (1% above 60,000)
        cycle_until(rig, lambda: all(mo.status.terminal for mo in protective(rig)))
        rig.step(3, settle_s=0.05)

        ended = {mo.request.client_id[-1]: mo.status for mo in protective(rig)}
        assert ended == {"1": OrderStatus.FILLED, "0": OrderStatus.EXPIRED}
        on_exchange = {mo.request.client_id[-1]: emulator_status(rig, mo) for mo in protective(rig)}
        assert on_exchange == {"1": "FILLED", "0": "EXPIRED"}
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 0
        assert rig.emulator_position() == 0 and resting(rig) == []
        assert rig.bot.reconciler.last.position(SYMBOL) == 0
        assert len(protective(rig)) == 2  # no new protection, no buy-back
        assert rig.emu.exchange.open_orders(EX_SYMBOL) == []
    finally:
        rig.close()


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["symbols", "account"])
def test_the_kill_switch_cancels_the_bots_protection_and_the_bot_does_not_put_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    monkeypatch.setenv("PTEST_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("PTEST_API_SECRET", TEST_API_SECRET)
    rig = rig_for(tmp_path, protected(take_profit_pct="0.01"))
    try:
        rig.trade()
        legs = cycle_until(rig, lambda: len(resting(rig)) == 2 and resting(rig))
        kill_config = parse_config(
            {
                "strategies": [{"name": "sma_cross", "id": "scripted", "symbols": [SYMBOL]}],
                "exchange": {"mode": "live", "base_url": rig.emu.url, "ws_url": rig.emu.ws_url,
                             "key_env": "PTEST", "call_timeout_s": 3, "rate_limit": False,
                             "bar_interval": "1s"},
                "killswitch": {"scope": scope, "deadline_s": 10},
            }
        )  # fmt: skip
        ks = KillSwitch(kill_config, rig.folder)
        try:
            report = ks.kill(reason="KILL: protection test", by="test")
        finally:
            ks.close()
        rig.step(3, settle_s=0.05)  # the bot cycles on: halted by the flag

        assert report["ok"], report
        assert resting(rig) == [] and rig.emulator_position() == 0
        assert {emulator_status(rig, mo) for mo in protective(rig)} <= {"CANCELED", "EXPIRED"}
        assert {o["clientOrderId"] for o in legs} == {
            mo.request.client_id for mo in protective(rig)
        }
        assert rig.bot.risk.latch.state.value != "active"

        change_latch(rig.folder, HaltState.ACTIVE, "after the kill", "test", wall_ms())
        clear_flag(rig.folder)  # as `bastion resume` does
        # The strategy still wants LOT: it buys again. Its own fills now say 2 LOT
        # (the kill's close was the bot's sale, not the strategy's): protected is
        # what the bot's fills hold, LOT, which the exchange takes.
        again = cycle_until(rig, lambda: len(resting(rig)) == 2 and resting(rig))

        assert rig.bot.risk.latch.state is HaltState.ACTIVE
        assert rig.bot.orders.positions_for("scripted").get(SYMBOL) == 2 * LOT
        assert {Decimal(o["origQty"]) for o in again} == {LOT} == {rig.emulator_position()}
        assert rig.events("order_rejected") == []
    finally:
        rig.close()


@pytest.mark.slow
def test_a_clean_stop_leaves_the_protection_resting_and_a_flatten_on_exit_cancels_it(
    tmp_path: Path,
) -> None:
    rig = rig_for(tmp_path, protected())
    try:
        rig.trade()
        [stop] = cycle_until(rig, lambda: resting(rig))
        stop_id = stop["clientOrderId"]

        done = on_exit(rig.session, "cancel", wall_ms())
        assert done["protection_kept"] == [stop_id] and done["cancelled"] == []
        assert [o["clientOrderId"] for o in resting(rig)] == [stop_id]

        done = on_exit(rig.session, "flatten", wall_ms())
        assert done["cancelled"] == [stop_id] and done["closes"]
        assert wait_for(lambda: rig.emulator_position() == 0 and not resting(rig), timeout=5)
        assert rig.events("order_rejected") == []
    finally:
        rig.close()


@pytest.mark.slow
def test_a_protected_live_day_replays_identically(tmp_path: Path, monkeypatch: Any) -> None:
    """sma_cross(2, 3) on the emulator's synthetic market buys and sells often:
    each buy is protected, each sell cancels its protection first; a replay of
    the day from the recording and the journal decides exactly the same."""
    monkeypatch.setenv(f"{SVC_KEY_ENV}_API_KEY", TEST_API_KEY)
    monkeypatch.setenv(f"{SVC_KEY_ENV}_API_SECRET", TEST_API_SECRET)
    monkeypatch.setenv("BASTION_STORE", str(tmp_path / "no-store"))
    thread = EmulatorThread(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)})
    )
    emu = thread.start()
    path = write_config(tmp_path, emu, strategy="sma_cross")
    with path.open("a", encoding="utf-8") as f:
        f.write('[strategies.protect]\nstop_pct = "0.02"\nlimit_pct = "0.025"\n')
    try:
        asyncio.run(run_bot(load_config(path), duration_s=20, status=lambda _: None))
    finally:
        thread.stop()
    folder = tmp_path / "data"
    actions = [e["action"] for e in read_events(folder, kinds=["protection"])]
    first = next(read_events(folder, kinds=["order_submitted"]))
    day = datetime.fromtimestamp(first["ts"] / 1000, tz=UTC).date()

    result = replay_day(load_config(path), folder, day)

    assert "place" in actions and "cancel" in actions, actions
    assert not list(read_events(folder, kinds=["order_rejected"]))
    assert result.identical, result.differences[:3]
    assert result.decisions >= 2


@pytest.mark.slow
def test_a_stop_the_exchange_refuses_is_not_retried_every_cycle_but_after_the_market_moves(
    tmp_path: Path,
) -> None:
    rig = rig_for(tmp_path, protected())
    try:
        rig.trade()
        rig.step()  # the buy: filled by its reply, its fill still on the way
        admin(rig.emu, "/market/trade", {"symbol": SYMBOL, "price": "58700.00", "qty": "0.1"})

        def refused() -> list[dict[str, Any]]:
            return [e for e in rig.events("protection") if e["action"] == "refused"]

        # Priced from the bars' 60,000, the stop (58,800) is above the exchange's
        # last trade: Binance's "would trigger immediately".
        [first] = cycle_until(rig, refused)
        rig.step(5, settle_s=0.05)
        placed_before = [e for e in rig.events("protection") if e["action"] == "place"]

        rig.price = Decimal("58700.00")  # the bars catch up with the market
        [stop] = cycle_until(rig, lambda: resting(rig))

        assert "trigger immediately" in first["reason"] and first["alert"]
        assert len(placed_before) == 1 and len(refused()) == 1  # one refusal, no retry per cycle
        assert Decimal(stop["stopPrice"]) == Decimal("57526.00")  # from the new mark
        assert Decimal(stop["origQty"]) == LOT
    finally:
        rig.close()
