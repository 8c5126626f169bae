"""Random sequences of intents, venue faults, hand trades and restarts keep the
execution invariants (hypothesis RuleBasedStateMachine)."""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tests.execution.conftest import SYMBOL, make_rig

from bastion.model import OrderStatus, TargetPosition
from bastion.venues.faults import Fault, StreamFault


class ExecutionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="bastion-sm-"))
        self.target = Decimal(0)
        self.rig = make_rig(self.folder, self._script)

    def _script(self, i, view, account):
        return [TargetPosition(symbol=SYMBOL, qty=self.target)]

    @rule(qty=st.integers(min_value=0, max_value=3))
    def want(self, qty):
        self.target = Decimal(qty)

    @rule(
        fault=st.sampled_from(list(Fault)),
        method=st.sampled_from(["submit", "cancel", "fetch_order"]),
    )
    def inject(self, fault, method):
        if method != "submit" and fault in (Fault.TIMEOUT_AFTER, Fault.BAD_RESPONSE, Fault.REJECT):
            fault = Fault.SERVER_ERROR
        self.rig.venue.fail(method, fault)

    @rule(kind=st.sampled_from(list(StreamFault)), drains=st.integers(1, 3))
    def stream(self, kind, drains):
        self.rig.venue.stream(kind, drains=drains, hold=2)

    @rule(n=st.integers(1, 3))
    def bars(self, n):
        self.rig.step(n)

    @rule(delta=st.integers(-1, 1))
    def hand_trade(self, delta):
        held = self.rig.sim.fetch_account().position(SYMBOL)
        locked = sum(
            o.remaining for o in self.rig.sim.fetch_open_orders(SYMBOL) if o.side.value == "sell"
        )
        if delta and held - locked + delta >= 0:
            self.rig.sim.adjust_balance("SYN", Decimal(delta), symbol=SYMBOL)

    @precondition(lambda self: self.rig.bar > 0)
    @rule()
    def restart(self):
        self.rig.restart()

    @invariant()
    def one_order_per_client_id_at_the_venue(self):
        sent = self.rig.venue.sent
        assert len(sent) == len(set(sent)), sent
        assert not self.rig.venue.resent_after_accept, self.rig.venue.resent_after_accept

    @invariant()
    def never_short_on_spot(self):
        assert self.rig.sim.fetch_account().position(SYMBOL) >= 0

    def teardown(self):
        try:
            # Faults stop; the bot gets time to learn the truth.
            self.rig.venue._faults.clear()
            self.rig.venue._stream.clear()
            self.rig.step(12)
            self.rig.assert_invariants()
            stuck = [
                m for m in self.rig.bot.orders.orders.values() if m.status is OrderStatus.UNKNOWN
            ]
            assert not stuck, stuck
        finally:
            self.rig.session.close()
            shutil.rmtree(self.folder, ignore_errors=True)


ExecutionMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExecutionMachine = ExecutionMachine.TestCase
