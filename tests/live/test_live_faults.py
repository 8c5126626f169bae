"""Exchange faults over ccxt and the emulator, through a real session.

Each test drives the bot one wall-clock bar at a time (``LiveRig.step``): the
data gate gets a bar, the session runs a cycle, the order manager calls the
real ccxt binance class through ``CcxtVenue``, and the emulator misbehaves as
told through its admin API. Assertions read three witnesses: the emulator's
own order log (what reached the exchange), the emulator's balances (the
truth), and the bot's journal (what it decided and why).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from live_support import SYMBOL, LiveRig, admin, make_rig, wait_for

from bastion.model import OrderStatus, TargetPosition
from bastion.risk import HaltState

ORDER_PATH = {"path": "/api/v3/order", "method": "POST"}
LOT = Decimal("0.01")


def target(qty: Decimal):
    return lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=qty)]


@pytest.fixture
def rigs(tmp_path):
    made: list[LiveRig] = []

    def make(script, **kw) -> LiveRig:
        rig = make_rig(tmp_path / f"bot{len(made)}", script, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def _cid_of(rig: LiveRig, n: int = 0) -> str:
    return rig.events("order_submitted")[n]["client_id"]


def test_a_target_restated_every_bar_is_bought_once(rigs) -> None:
    rig = rigs(target(LOT))  # the account is re-read every 30 s, and whenever it may change

    rig.step(4, settle_s=0.05)

    assert rig.emulator_position() == LOT
    assert len(admin(rig.emu, "/orders")["orders"]) == 1
    assert rig.events("reconcile_delta") == []


def test_timeout_after_accept_places_no_second_order(rigs) -> None:
    rig = rigs(target(LOT), call_timeout_s=0.5)  # the strategy wants 0.01 BTC, every cycle
    admin(
        rig.emu, "/faults", {"kind": "timeout_after_accept", "count": 1, "hang_s": 3, **ORDER_PATH}
    )

    rig.step()  # the order lands, the reply never comes: outcome unknown
    cid = _cid_of(rig)
    unknown = rig.bot.orders.orders[cid].status
    rig.step(5, settle_s=0.05)  # looked up by client id, never re-sent

    assert unknown is OrderStatus.UNKNOWN
    assert len(rig.emulator_orders(cid)) == 1
    assert len(admin(rig.emu, "/orders")["orders"]) == 1  # and no other order either
    assert rig.bot.orders.orders[cid].status is OrderStatus.FILLED
    assert rig.emulator_position() == LOT
    assert rig.bot.ledger()[SYMBOL] == LOT
    # Resolved by whichever witness spoke first: the user stream or the lookup.
    kinds = [ev["kind"] for ev in rig.events("order_unknown", "order_filled")]
    assert kinds == ["order_unknown", "order_filled"]


def test_rate_limit_storm_backs_off_then_flattens_and_halts_at_the_cap(rigs) -> None:
    rig = rigs(lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=LOT if i == 0 else 2 * LOT)])
    rig.step()  # 0.01 bought before the storm
    attempts = rig.bot.orders.policy.max_attempts
    admin(
        rig.emu,
        "/faults",
        {"kind": "rate_limit", "count": attempts, "retry_after_s": 0, **ORDER_PATH},
    )

    wait_for(lambda: rig.step(settle_s=0.03) or rig.events("flatten"), timeout=10)
    rig.step(2)  # halted: the strategy still wants more, nothing is sent

    capped = _cid_of(rig, 1)
    retries = rig.events("retry_scheduled")
    assert [r["delay_ms"] for r in retries] == [50, 100]  # exponential backoff
    assert all(r["client_id"] == capped for r in retries)
    assert rig.events("retry_cap")[0]["alert"] is True
    (flatten,) = rig.events("flatten")
    assert flatten["reason"] == "RETRY_CAP" and flatten["details"]["client_id"] == capped
    assert rig.bot.risk.latch.state is not HaltState.ACTIVE
    assert rig.emulator_orders(capped) == []  # every attempt was refused before placing
    assert rig.emulator_position() == 0  # flat
    sent = [o["client_id"] for o in admin(rig.emu, "/orders")["orders"]]
    assert len(sent) == 2 and sent[1].startswith("bx")  # the entry, then the flatten only
    refused = rig.events("risk_decision")[-1]
    assert refused["verdict"] != "approve"


@pytest.mark.parametrize(
    ("fault", "what"),
    [
        ({"kind": "schema_drift", "count": 1, "drop_fields": ["status"], **ORDER_PATH}, "status"),
        ({"kind": "schema_drift", "stream": "executionReport", "drop_fields": ["t"]}, "trade"),
    ],
    ids=["order field (REST reply)", "trade field (user stream)"],
)
def test_schema_drift_stops_new_exposure_and_alerts(rigs, fault, what) -> None:
    rig = rigs(lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=LOT if i < 2 else 2 * LOT)])
    admin(rig.emu, "/faults", fault)

    rig.step()
    assert wait_for(lambda: rig.venue.schema_drift, timeout=5)
    admin(rig.emu, "/faults", method="DELETE")
    rig.step(3, settle_s=0.05)

    (drift,) = rig.events("schema_drift")
    assert drift["alert"] is True and drift["venue"] == "binance" and what in drift["what"]
    blocked = [d for d in rig.events("risk_decision") if d.get("reason") == "SYMBOL_BLOCKED"]
    assert blocked and blocked[-1]["symbol"] == SYMBOL
    assert rig.emulator_position() == LOT  # the first order stands; nothing was added
    assert len(admin(rig.emu, "/orders")["orders"]) == 1
