"""Shadow mode: a strategy version decided beside production and never sent.

Each shadow slot gets a bot of its own (``cycle.Bot``) that shares the live
bot's data gate, so it sees the same view in the same cycle, and runs the same
``run_cycle`` — plan, risk review, order manager — against an in-process
simulated venue seeded from the live account at its first cycle (cash, and the
bot's share of each base asset). Its venue is a ``SimVenue``: it holds no
reference to the exchange client, so a shadow order cannot reach the exchange
by construction. Everything it journals is prefixed ``shadow_`` (so no reader
of fills, orders or decisions counts it as the bot's) and its client ids carry
a run id no live order can have (an upper-case ``S``, outside base 36).

A shadow that raises is switched off for the rest of the run with one
``shadow_failed`` event (an alert): the live cycle never depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bastion.config import BotConfig
from bastion.engine.cycle import Bot, StrategySlot, run_cycle
from bastion.engine.errors import LiveError
from bastion.engine.parts import risk_gate
from bastion.execution import OrderManager
from bastion.model import AccountSnapshot
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk import HaltLatch, HaltState
from bastion.state import Reconciler
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue

PREFIX = "shadow_"


def split_modes(
    config: BotConfig, strategies: Sequence[Strategy[Any, Any]]
) -> tuple[list[Strategy[Any, Any]], list[Strategy[Any, Any]]]:
    """(trading, shadow): ``[flags] trade`` picks the trading version of a strategy
    id, every other entry with that id runs in shadow; without a flag, each
    entry's ``mode`` (entries that share an id, on other symbols, all trade)."""
    modes = [entry.mode for entry in config.strategies]
    flags = config.flags.trade
    for sid, version in flags.items():
        same = [i for i, s in enumerate(strategies) if s.ref.id == sid]
        if not same:
            raise LiveError(f"flags.trade.{sid}: no [[strategies]] entry has id {sid!r}")
        chosen = [i for i in same if strategies[i].ref.version == version]
        if not chosen:
            have = ", ".join(strategies[i].ref.version for i in same)
            raise LiveError(
                f"flags.trade.{sid} = {version!r}: no [[strategies]] entry {sid!r} has that "
                f"version (they have: {have})"
            )
        for i in same:
            modes[i] = "live" if i == chosen[0] else "shadow"
    live = [s for s, m in zip(strategies, modes, strict=True) if m == "live"]
    return live, [s for s, m in zip(strategies, modes, strict=True) if m == "shadow"]


class ShadowBook:
    """One shadow slot: its own simulated venue, order manager, risk gate and latch."""

    def __init__(self, slot: StrategySlot, config: BotConfig) -> None:
        self.slot = slot
        self.config = config
        self.bot: Bot | None = None
        self.last_bar: dict[str, int] = {}
        self.failed = False

    def seed(self, live: Bot, account: AccountSnapshot) -> Bot:
        """The simulated book: the live account's cash and the bot's share of each
        base asset (what a baseline sets aside is not the shadow's either)."""
        balances = {a: b.total for a, b in account.balances.items() if b.total}
        for sym, inst in live.instruments.items():
            floor = account.floor(sym)
            if floor and inst.base in balances:
                balances[inst.base] = max(balances[inst.base] - floor, ZERO)
        venue = SimVenue(live.instruments.values(), balances)
        journal = live.journal
        ref = str(self.slot.strategy.ref)

        def sink(kind: str, ts: int, payload: dict[str, Any]) -> None:
            # Every shadow event names its version: the journal's strategy column.
            journal(
                PREFIX + kind, ts, payload if "strategy" in payload else {"strategy": ref} | payload
            )

        latch = HaltLatch()
        latch.subscribe(
            lambda changed, previous: sink(
                "latch",
                changed.since_ts,
                {"strategy": ref, "state": changed.state.value, "from": previous.value,
                 "reason": changed.reason},
            )
        )  # fmt: skip
        return Bot(
            run_id=f"{live.run_id}S",
            venue=venue,
            gate=live.gate,  # the same view, in the same cycle
            reconciler=Reconciler(venue, sink),
            risk=risk_gate(self.config, latch),
            orders=OrderManager(venue, sink),
            journal=sink,
            instruments=live.instruments,
            slots=[self.slot],
            guard=live.guard,
            size_scale=live.size_scale,
        )

    def run(self, live: Bot, view: MarketView, account: AccountSnapshot, now: int) -> None:
        if self.bot is None:
            self.bot = self.seed(live, account)
        bot = self.bot
        venue = bot.venue
        assert isinstance(venue, SimVenue)
        for sym in self.slot.strategy.symbols:
            sv = view.get(sym)
            if sv is None or not sv.bars or self.last_bar.get(sym) == sv.ts:
                continue
            self.last_bar[sym] = sv.ts
            venue.on_bar(sym, sv.ts, sv.open, sv.high, sv.low, sv.close, sv.volume)
        venue.set_time(now)
        bot.cycle = live.cycle - 1  # run_cycle counts it: the live bot's cycle number
        run_cycle(bot, now)

    @property
    def halted(self) -> bool:
        return self.bot is not None and self.bot.risk.latch.state is not HaltState.ACTIVE


class ShadowRunner:
    """The shadow slots of a bot, run after its live slots in every cycle."""

    def __init__(self, strategies: Sequence[Strategy[Any, Any]], config: BotConfig, first: int):
        self.slots = [
            StrategySlot(strategy=s, memory=s.initial_memory(), index=first + i, mode="shadow")
            for i, s in enumerate(strategies)
        ]
        self.books = [ShadowBook(slot, config) for slot in self.slots]

    def run(self, live: Bot, view: MarketView, account: AccountSnapshot, now: int) -> None:
        for book in self.books:
            if book.failed:
                continue
            try:
                book.run(live, view, account, now)
            except Exception as exc:  # a shadow's bug must not stop the bot
                book.failed = True
                live.journal(
                    PREFIX + "failed",
                    now,
                    {
                        "strategy": str(book.slot.strategy.ref),
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "alert": True,
                    },
                )


def attach(bot: Bot, shadows: Sequence[Strategy[Any, Any]], config: BotConfig) -> None:
    """Give ``bot`` its shadow slots (none: nothing changes)."""
    if shadows:
        bot.shadow = ShadowRunner(shadows, config, first=len(bot.slots))
