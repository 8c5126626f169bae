"""A kill is final, on the fault wrapper (fast; the process version through the
emulator is ``tests/killswitch/test_killswitch_sigstop.py``).

A kill that lands while a cycle is under way (the bot hung at that step, the
kill ran, the bot woke) must not let one more order out: the kill flag and the
halt latch are checked immediately before every send, retries and re-sends
included. The kill is the real one (``KillSwitch``: flag, stored latch,
flatten) run at a seeded step of a seeded cycle, as a SIGSTOP would freeze
the bot there; the steps are every venue call a cycle makes (entry and exit), the
write-ahead flush of its decisions, and the moment just before a send is checked.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.execution.conftest import POLICY, SYMBOL, make_rig

from bastion.config import BotConfig
from bastion.killswitch.kill import KillSwitch
from bastion.killswitch.venueset import VenueSet
from bastion.model import OrderStatus, QuoteLevel, TargetPosition, TargetQuotes
from bastion.risk import HaltState
from bastion.venues.faults import Fault

# What a cycle of this bot calls: the private stream, the account read, the
# write-ahead flush of its decisions, and the check before each send.
READS = ("drain_events", "fetch_account")
POINTS = (
    *(f"{m}:{when}" for m in READS for when in ("enter", "exit")),
    "journal_flush",
    "before_send_check",
)


def flip(i, view, acct):
    """Trades all the time: a target that moves every cycle."""
    return [TargetPosition(symbol=SYMBOL, qty=Decimal(1 + i % 3))] if i >= 1 else []


def kill(rig: Any, folder: Path) -> dict[str, Any]:
    """The kill switch's kill, on the same exchange (the simulated venue itself)."""
    config = BotConfig().model_copy(
        update={"killswitch": BotConfig().killswitch.model_copy(update={"deadline_s": 2.0})}
    )
    c = rig.prices[rig.bar % len(rig.prices)]
    rig.sim.on_quote(SYMBOL, rig.now, c * 0.999, 1000.0, c * 1.001, 1000.0)  # closes fill now
    switch = KillSwitch(config, folder, venues=VenueSet([SYMBOL], lambda _s: rig.sim))
    try:
        return switch.kill(reason="test kill", by="test")
    finally:
        switch.close()


class KillAt:
    """Runs the kill the ``nth`` time the bot reaches ``point`` (once)."""

    def __init__(self, rig: Any, folder: Path, point: str, nth: int) -> None:
        self.rig, self.folder, self.point, self.nth = rig, folder, point, nth
        self.seen = 0
        self.sent_at_kill: int | None = None
        self.report: dict[str, Any] | None = None
        faulty = rig.venue
        for method in {p.split(":")[0] for p in POINTS if ":" in p}:
            real = getattr(faulty, method)
            setattr(faulty, method, self._wrap(method, real))
        guard = rig.bot.orders.guard

        def checked(request: Any, now: int) -> Any:
            self.reached("before_send_check")
            return guard(request, now) if guard is not None else None

        rig.bot.orders.guard = checked
        journal = rig.session.journal
        flush = journal.flush

        def flushed() -> None:
            flush()
            self.reached("journal_flush")

        journal.flush = flushed  # type: ignore[method-assign]

    def _wrap(self, method: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.reached(f"{method}:enter")
            out = real(*args, **kwargs)
            self.reached(f"{method}:exit")
            return out

        return call

    def reached(self, point: str) -> None:
        if point != self.point or self.sent_at_kill is not None:
            return
        self.seen += 1
        if self.seen == self.nth:
            self.sent_at_kill = len(self.rig.venue.sent)
            self.report = kill(self.rig, self.folder)


TRIALS = 40


@pytest.mark.parametrize("seed", range(TRIALS))
def test_a_kill_at_any_step_of_a_cycle_lets_no_order_out_afterwards(tmp_path, seed):
    rng = random.Random(seed)
    point = POINTS[seed % len(POINTS)]  # every step, several times over
    rig = make_rig(tmp_path, flip, seed=seed)
    try:
        rig.step(2)  # trading
        hook = KillAt(rig, tmp_path, point, nth=rng.randint(1, 3))
        for _ in range(12):
            rig.step()
            if hook.sent_at_kill is not None:
                break
        assert hook.sent_at_kill is not None, f"the bot never reached {point}"
        assert hook.report is not None and hook.report["ok"], hook.report

        rig.step(4)  # woken: the rest of that cycle, then more cycles

        assert rig.venue.sent[hook.sent_at_kill :] == [], (point, rig.venue.sent)
        assert rig.bot.risk.latch.state is HaltState.HALTED
        assert rig.sim.fetch_account().position(SYMBOL) == 0
        assert rig.sim.fetch_open_orders(SYMBOL) == []
    finally:
        rig.session.close()


def want_one(i, view, acct):
    return [TargetPosition(symbol=SYMBOL, qty=Decimal(1))] if i >= 1 else []


@pytest.mark.parametrize("rig", [want_one], indirect=True)
def test_an_order_of_unknown_outcome_at_the_kill_is_never_re_sent(rig, tmp_path):
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)  # never reached the exchange
    rig.step(2)
    (cid,) = rig.bot.orders.orders
    assert rig.bot.orders.orders[cid].status is OrderStatus.UNKNOWN

    kill(rig, rig.folder)
    rig.step(6)  # looked up, proven not placed, while the decision is still fresh

    assert cid not in rig.venue.sent
    assert rig.venue.sent == []
    mo = rig.bot.orders.orders[cid]
    assert mo.status is OrderStatus.EXPIRED, (mo.status, mo.reason)
    assert "not placed" in mo.reason
    trail = [e for e in rig.events() if e.get("client_id") == cid]
    assert trail[-1]["kind"] == "order_expired" and trail[-1]["reason"] == mo.reason


@pytest.mark.parametrize("rig", [want_one], indirect=True)
def test_a_not_placed_order_is_re_sent_only_through_the_risk_gate(rig):
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)
    rig.step(2)
    (cid,) = rig.bot.orders.orders
    rig.bot.risk.latch.set(HaltState.HALTED, reason="operator", now=rig.now, by="test")

    rig.step(6)

    assert rig.venue.sent == []  # the latch refused the re-send
    refusal = [e for e in rig.events("risk_decision") if e.get("resend")]
    assert refusal and refusal[0]["client_id"] == cid and refusal[0]["verdict"] == "reject"
    assert rig.bot.orders.orders[cid].status is OrderStatus.EXPIRED


def moving_bid(i, view, acct):
    """One bid, whose price moves once: the strategy wants one quote resting."""
    if i < 1:
        return []
    price = Decimal("98.5") if i < 2 else Decimal("98")
    return [TargetQuotes(symbol=SYMBOL, bids=(QuoteLevel(price, Decimal(1)),))]


@pytest.mark.parametrize("rig", [moving_bid], indirect=True)
def test_an_order_whose_cancel_was_asked_while_unknown_is_never_re_sent(rig):
    rig.venue.fail("submit", Fault.TIMEOUT_BEFORE)
    rig.step(2)  # the first bid: outcome unknown
    (first,) = rig.bot.orders.orders
    assert rig.bot.orders.orders[first].status is OrderStatus.UNKNOWN

    rig.step(10)  # the quote moved (cancel asked while unknown), then resolution

    assert first not in rig.venue.sent
    assert rig.bot.orders.orders[first].status is OrderStatus.EXPIRED
    resting = rig.sim.fetch_open_orders(SYMBOL)
    assert [(o.side.value, o.price) for o in resting] == [("buy", Decimal("98"))]
    rig.assert_invariants()


def test_the_policy_would_have_re_sent_it():
    # The scenarios above rely on a re-send being due (fresh decision, proven
    # not placed), so that what stops it is the kill, the gate or the cancel.
    assert POLICY.resend_if_younger_ms > 2 * POLICY.unknown_grace_ms
