"""An account reply that drifted from its schema is an unknown account, not an
empty one: through the real ccxt client against the emulator, a balance reply
without ``balances`` must not read as equity 0 (a "loss" that flattens and
halts), must alert, and must block new exposure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from live_support import SYMBOL, admin, make_rig

from bastion.model import TargetPosition
from bastion.risk import HaltState
from bastion.venues.errors import SchemaDrift

LOT = Decimal("0.01")
NO_BALANCES = {
    "kind": "schema_drift",
    "path": "/api/v3/account",
    "method": "GET",
    "drop_fields": ["balances"],
}


@pytest.fixture
def rig(tmp_path):
    # refresh_ms=0: the account is re-read every cycle, as after any fill or refresh.
    rig = make_rig(
        tmp_path / "bot",
        lambda i, v, a: [TargetPosition(symbol=SYMBOL, qty=LOT if i < 3 else 3 * LOT)],
        refresh_ms=0,
    )
    yield rig
    rig.close()


def test_balance_reply_without_balances_is_unknown_not_a_total_loss(rig) -> None:
    rig.step(2, settle_s=0.05)  # bought LOT; the daily window opened on real equity
    assert rig.emulator_position() == LOT
    orders_before = len(admin(rig.emu, "/orders")["orders"])

    admin(rig.emu, "/faults", {**NO_BALANCES, "count": 3})
    failed = 0
    for _ in range(3):
        rig.bot.reconciler.invalidate()
        try:
            rig.step()
        except SchemaDrift:  # the cycle has no account: it decides nothing (the loop skips it)
            failed += 1
    rig.step(3, settle_s=0.05)  # the reply is whole again; the strategy now wants 3 lots

    assert rig.events("flatten") == []  # never counted as a loss
    assert failed == 3
    (drift,) = rig.events("schema_drift")
    assert drift["alert"] is True and "balances" in drift["what"]
    assert rig.events("flatten") == []  # never counted as a loss
    assert rig.bot.risk.latch.state is HaltState.ACTIVE
    assert rig.session.state.load_latch() is None or (
        rig.session.state.load_latch().state == HaltState.ACTIVE.value
    )
    # New exposure stays blocked until an operator looks: nothing was added.
    assert len(admin(rig.emu, "/orders")["orders"]) == orders_before
    assert rig.emulator_position() == LOT
    blocked = [d for d in rig.events("risk_decision") if d.get("reason") == "SYMBOL_BLOCKED"]
    assert blocked
