"""Whose position a target is measured against: the exchange's, whenever one
strategy alone trades the symbol, however many strategies the bot runs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bastion.config import BotConfig
from bastion.engine.session import open_session
from bastion.model import Instrument, TargetPosition
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue

T0 = 1_704_067_200_000
MINUTE = 60_000


@dataclass(frozen=True)
class _Params:
    qty: Decimal = Decimal(1)


class HoldOne(Strategy[_Params, None]):
    """Wants exactly ``qty`` of its one symbol, every cycle."""

    name = "hold_one"
    Params = _Params

    def initial_memory(self) -> None:
        return None

    def decide(self, view, account, memory):
        return [TargetPosition(symbol=s, qty=self.params.qty) for s in self.symbols], None


def test_each_strategy_sizes_its_target_from_the_exchange_position(tmp_path):
    # The account already holds 3 AAA (bought by hand before the bot started),
    # adopted by the config as the bot's.
    sim = SimVenue(
        [Instrument.spot("AAA/USDT"), Instrument.spot("BBB/USDT")],
        {"USDT": Decimal(100_000), "AAA": Decimal(3)},
    )
    a = HoldOne(_Params(), ["AAA/USDT"], "a")
    b = HoldOne(_Params(), ["BBB/USDT"], "b")
    session = open_session(
        data_dir=tmp_path,
        venue=sim,
        strategies=[a, b],
        config=BotConfig.model_validate({"account": {"adopt": ["AAA"]}}),
        intervals={"AAA/USDT": MINUTE, "BBB/USDT": MINUTE},
        now=T0,
    )
    try:
        for i in range(5):
            t = T0 + i * MINUTE
            for sym, px in (("AAA/USDT", 10.0), ("BBB/USDT", 20.0)):
                sim.on_bar(sym, t, px, px, px, px, 1e6)
                session.bot.gate.on_bar(sym, t, px, px, px, px, 1e6)
            sim.set_time(t + MINUTE)
            session.cycle(t + MINUTE)
    finally:
        session.close()

    account = sim.fetch_account()
    assert account.position("AAA/USDT") == 1  # sold 2 of the 3 it found, not bought a 4th
    assert account.position("BBB/USDT") == 1
