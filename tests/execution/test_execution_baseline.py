"""No sequence of targets, explicit sells, risk flattens and kills sells the
account below its baseline (on the simulated venue, fast)."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.execution.conftest import SYMBOL, make_rig

from bastion.config import BotConfig
from bastion.engine.cycle import flatten as risk_flatten
from bastion.killswitch.flatten import flatten as kill_flatten
from bastion.killswitch.venueset import VenueSet
from bastion.model import OrderType, PlaceOrder, Side, TargetPosition
from bastion.risk import Flatten, HaltState, RiskReason
from bastion.state.baseline import read_floors

BASE = "SYN"
HELD = Decimal(5)  # what the account held before the bot: its baseline
ROOMY = BotConfig.model_validate(
    {"risk": {"max_position": "5", "max_order": "5", "max_gross_exposure": "10",
              "max_net_exposure": "10", "rate": {"enabled": False},
              "volume": {"enabled": False}}}
)  # fmt: skip

qty = st.decimals(min_value=0, max_value=8, places=1)
op = st.one_of(
    st.tuples(st.just("target"), qty),
    st.tuples(st.just("sell"), qty.filter(lambda q: q > 0)),
    st.tuples(st.just("flatten"), st.just(Decimal(0))),
    st.tuples(st.just("kill"), st.just(Decimal(0))),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=10))
def test_nothing_the_bot_does_sells_below_the_baseline(ops) -> None:
    wanted: list = []

    def script(i, v, a):
        return wanted[:1]  # one intent per cycle, as told

    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(
            Path(tmp), script, config=ROOMY, balances={"USDT": Decimal(100_000), BASE: HELD}
        )
        try:
            rig.step(2)  # the first start records the baseline
            assert rig.bot.reconciler.baseline[BASE] == HELD
            for kind, q in ops:
                wanted.clear()
                if kind == "target":
                    wanted.append(TargetPosition(symbol=SYMBOL, qty=q))
                elif kind == "sell":  # a strategy that misremembers what it holds
                    wanted.append(PlaceOrder(symbol=SYMBOL, side=Side.SELL, qty=q,
                                             type=OrderType.MARKET))  # fmt: skip
                elif kind == "flatten":
                    acct = rig.bot.reconciler.account(rig.now, rig.bot.ledger())
                    view = rig.bot.gate.view_at(rig.now)
                    risk_flatten(
                        rig.bot, acct, view, rig.now, Flatten(reason=RiskReason.DAILY_LOSS)
                    )
                    rig.bot.risk.latch.set(HaltState.ACTIVE, reason="test", now=rig.now, by="t")
                else:
                    venues = VenueSet([SYMBOL], lambda s: rig.sim)
                    clock = iter(range(10_000)).__next__  # moves 0.1 s per look
                    kill_flatten(venues, deadline_s=1.0, floors=read_floors(rig.folder),
                                 clock=lambda c=clock: c() / 10, sleep=lambda s: None)  # fmt: skip
                rig.step(2)
                held = rig.sim.fetch_account().position(SYMBOL)
                assert held >= HELD, (kind, q, held)
        finally:
            rig.session.close()
