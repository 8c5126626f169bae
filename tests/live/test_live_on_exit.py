"""``[service] on_exit = "flatten"`` through the real ccxt client and the
emulator: working orders cancelled, and what the bot's own fills hold closed,
never what else the account holds (a deposit the bot did not buy)."""

from __future__ import annotations

from decimal import Decimal

from live_support import SYMBOL, admin, make_rig, wait_for, wall_ms

from bastion.engine.service import on_exit
from bastion.model import QuoteLevel, TargetPosition, TargetQuotes

LOT = Decimal("0.01")


def test_flatten_on_exit_cancels_and_closes_only_the_bots_own_fills(tmp_path) -> None:
    script = {
        0: [TargetPosition(symbol=SYMBOL, qty=LOT)],
        1: [
            TargetPosition(symbol=SYMBOL, qty=LOT),
            TargetQuotes(symbol=SYMBOL, bids=(QuoteLevel(Decimal("58000"), LOT),), asks=()),
        ],
    }
    rig = make_rig(tmp_path / "bot", lambda i, v, a: script.get(i, []), refresh_ms=0)
    try:
        rig.step(2, settle_s=0.1)
        assert rig.emulator_position() == LOT
        held = admin(rig.emu, "/state")["balances"]["USDT"]
        usdt = Decimal(held["free"]) + Decimal(held["locked"])
        admin(rig.emu, "/balances", {"USDT": str(usdt), "BTC": str(Decimal("0.5") + LOT)})
        assert wait_for(lambda: admin(rig.emu, "/state")["openOrders"], timeout=5)

        done = on_exit(rig.session, "flatten", wall_ms())

        assert done["cancelled"] and done["closes"]
        assert wait_for(lambda: rig.emulator_position() == Decimal("0.5"), timeout=5)
        assert admin(rig.emu, "/state")["openOrders"] == []
        (close,) = done["closes"]
        assert rig.emulator_orders(close)[0]["side"] == "SELL"
    finally:
        rig.close()
