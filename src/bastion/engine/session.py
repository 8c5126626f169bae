"""A bot session with durable state: what paper and live runs are built on.

Unlike a backtest, a session survives its own death. Its data folder holds
``state.sqlite`` (orders written before they are sent, applied fills, the boot
counter, the heartbeat), ``latch.sqlite`` (the halt latch) and
``journal.sqlite``. Starting a session *recovers* before the
first decision: every order not known to be terminal is re-learned from the
venue by client id, fills missed while down are fetched, and the account is
re-read in full. Until an order's fate is known its symbol takes no new
exposure.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.config import BotConfig
from bastion.engine.context import journal_strategies
from bastion.engine.cycle import Bot, run_cycle
from bastion.engine.latch import open_latch, sync_latch
from bastion.engine.parts import data_gate, protector, risk_gate, slots
from bastion.engine.protective import Memory
from bastion.engine.sendcheck import SendCheck
from bastion.engine.shadow import attach as attach_shadows
from bastion.execution import OrderManager
from bastion.execution.backfill import JOURNAL_KINDS, missing_events
from bastion.execution.ids import run_identity
from bastion.execution.policy import ExecutionPolicy
from bastion.execution.tracked import ManagedOrder
from bastion.model import Instrument
from bastion.model.money import ZERO
from bastion.observe.journal import Journal, read_events
from bastion.risk import HaltLatch, HaltState
from bastion.state import Reconciler
from bastion.state.baseline import BaselineStore
from bastion.state.killflag import clear_flag, read_flag
from bastion.state.killorders import KillOrderReader
from bastion.state.orders import OrderStore
from bastion.state.store import StateStore
from bastion.strategy import Strategy
from bastion.venues.port import Venue

# The order store is checkpointed once this many writes have accumulated (a few
# MB of WAL at most); the journal and the latch every this many cycles.
WAL_WRITES = 256
WAL_CYCLES = 256
# SQLite's page cache per connection, for the journal and the order store. Its
# default (about 2 MB) fills page by page as a file grows, so a bot's memory
# rose for its first hour or so (issue 17's soak). A cycle writes a few pages
# and reads back by index; the operating system's file cache is behind it.
SESSION_CACHE_KIB = 256


@dataclass(slots=True)
class Session:
    bot: Bot
    store: OrderStore
    journal: Journal
    state: StateStore
    boot: int
    data_dir: Path | None = None

    def cycle(self, now: int) -> None:
        # The kill switch's KILLED flag first: a file, readable when the database is not.
        killed = self.data_dir is not None and halt_if_killed(
            self.bot.risk.latch, self.state, self.data_dir, self.journal.append, now
        )
        if not killed:
            sync_latch(self.bot.risk.latch, self.state)  # an operator's halt from another process
        run_cycle(self.bot, now)
        self.store.set_value("heartbeat", str(now))  # the sentinel's dead man's switch
        self.journal.flush()
        # Every SQLite file the bot writes keeps a small WAL (``bastion.sqlite_wal``).
        self.store.checkpoint(every=WAL_WRITES)
        if self.bot.cycle % WAL_CYCLES == 0:
            self.journal.checkpoint()
            self.state.checkpoint()

    def close(self) -> None:
        self.bot.reconciler.close()
        self.journal.close()
        self.store.close()
        self.state.close()


def open_session(
    *,
    data_dir: Path,
    venue: Venue,
    strategies: Sequence[Strategy[Any, Any]],
    config: BotConfig,
    intervals: Mapping[str, int],
    now: int,
    policy: ExecutionPolicy | None = None,
    refresh_ms: int = 30_000,
    size_scale: Decimal = Decimal(1),
    clock: Callable[[], int] | None = None,
    shadows: Sequence[Strategy[Any, Any]] = (),
) -> Session:
    """Open (or reopen) the bot in ``data_dir`` and recover before any decision.

    ``clock`` stamps send times (live: the wall clock); without one they are the
    cycle's ``now``. ``shadows`` run beside the strategies, never sent
    (``bastion.engine.shadow``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = OrderStore(data_dir / "state.sqlite", cache_kib=SESSION_CACHE_KIB)
    # Flushed by the cycle itself: once after the decisions are journaled and
    # before any order is sent, and once at the end of the cycle.
    journal = Journal(data_dir / "journal.sqlite", flush_every=10_000, cache_kib=SESSION_CACHE_KIB)
    identity = store.identity()  # drawn once per folder: ids never repeat across folders
    boot = store.next_boot()
    run_id = run_identity(identity, boot)
    instruments: dict[str, Instrument] = dict(venue.instruments())
    gate = data_gate(intervals, [*strategies, *shadows], config, journal)
    latch, state = open_latch(data_dir, sink=journal)
    halt_if_killed(latch, state, data_dir, journal.append, now)  # before recovery sends anything
    guard = SendCheck(
        latch,
        state,
        data_dir,
        on_flag=lambda at: halt_if_killed(latch, state, data_dir, journal.append, at),
    )
    orders = OrderManager(venue, journal, store, policy=policy, guard=guard, clock=clock)
    bot = Bot(
        run_id=run_id,
        venue=venue,
        gate=gate,
        reconciler=share_reconciler(venue, journal, config, data_dir, latch, refresh_ms),
        risk=risk_gate(config, latch),
        orders=orders,
        journal=journal,
        instruments=instruments,
        slots=slots(strategies),
        durable_journal=True,
        size_scale=size_scale,
        kill_orders=KillOrderReader(data_dir),
        record_every_cycle=True,
        protection=protector(config, strategies, StoreMemory(store)),
    )
    journal.append("session_start", now, {"boot": boot, "run_id": run_id, "identity": identity})
    attach_shadows(bot, shadows, config)
    journal_strategies(bot, now, venue_mode=config.exchange.mode)
    backfill_journal(store, journal, now)  # a crash may have left the journal behind
    recover(bot, store, now)
    journal.flush()
    if latch.state is not HaltState.ACTIVE:
        journal.append(
            "started_halted",
            now,
            {"state": latch.state.value, "reason": latch.reason, "alert": True},
        )
    return Session(bot=bot, store=store, journal=journal, state=state, boot=boot, data_dir=data_dir)


class StoreMemory(Memory):
    """The protection's stop-outs in the order store: a stop that filled while the
    bot was down still holds the strategy's target after the restart."""

    def __init__(self, store: OrderStore) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        return self._store.get_value(key)

    def set(self, key: str, value: str) -> None:
        self._store.set_value(key, value)


def share_reconciler(
    venue: Venue,
    journal: Journal,
    config: BotConfig,
    data_dir: Path,
    latch: HaltLatch,
    refresh_ms: int,
) -> Reconciler:
    """The reconciler over the folder's baseline, with the ``[account]`` policy."""

    def halt(reason: str, now: int) -> None:
        latch.set(HaltState.HALTED, reason=reason, now=now, by="reconciler")

    return Reconciler(
        venue,
        journal,
        refresh_ms=refresh_ms,
        book=BaselineStore(data_dir),
        adopt=config.account.adopt,
        on_unexplained=config.account.on_unexplained,
        halt=halt,
    )


def halt_if_killed(
    latch: HaltLatch,
    state: StateStore,
    data_dir: Path,
    journal: Callable[[str, int, dict[str, Any]], None],
    now: int,
) -> bool:
    """Halt when the kill switch's ``KILLED`` flag is in ``data_dir``; True if so.

    The flag is the kill's way in when the state database is locked or damaged,
    so a failure to read or persist the stored latch never undoes the halt: the
    latch is HALTED in memory before this returns. A resume stored after the
    kill (``bastion resume``) supersedes the flag, which is then removed."""
    flag = read_flag(data_dir)
    if flag is None:
        return False
    try:
        row = state.load_latch()
    except sqlite3.Error:
        row = None  # the flag alone decides
    if row is not None and row.state == HaltState.ACTIVE.value and row.since_ts > flag.ts:
        clear_flag(data_dir)
        journal("kill_flag_cleared", now, {"resumed_by": row.by, "reason": row.reason})
        return False
    if latch.state is HaltState.HALTED:
        if row is not None and row.state != HaltState.HALTED.value:  # the store is back
            with contextlib.suppress(sqlite3.Error):
                state.save_latch(latch, previous=row.state)
        return True
    persisted = ""
    try:
        latch.set(HaltState.HALTED, reason=flag.reason, now=now, by=flag.by)
    except sqlite3.Error as exc:  # HALTED in memory already; the store catches up later
        persisted = f"{type(exc).__name__}: {exc}"
    journal(
        "kill_flag",
        now,
        {"reason": flag.reason, "by": flag.by, "flag_ts": flag.ts, "alert": True}
        | ({"persist_error": persisted} if persisted else {}),
    )
    return True


def backfill_journal(store: OrderStore, journal: Journal, now: int) -> int:
    """Journal what the order store holds and the journal lacks (see
    ``bastion.execution.backfill``); the number of events written."""
    journal.flush()
    journaled = read_events(journal.path, kinds=JOURNAL_KINDS)
    events = missing_events(store.all_orders(), store.fills(), journaled)
    for kind, ts, payload in events:
        journal.append(kind, ts, payload)
    if events:
        counts: dict[str, int] = {}
        for kind, _, _ in events:
            counts[kind] = counts.get(kind, 0) + 1
        journal.append("journal_backfilled", now, {"events": len(events), "kinds": counts})
    journal.flush()
    return len(events)


def recover(bot: Bot, store: OrderStore, now: int) -> None:
    """Rebuild the order book from the store, then ask the venue about every open order."""
    orders = bot.orders
    fills = store.fills()
    seen = {f.trade_id for f in fills}
    owner: dict[str, str] = {}
    for stored in store.all_orders():
        mo = ManagedOrder.from_stored(stored)
        orders.adopt(mo, ())
        owner[stored.request.client_id] = stored.request.strategy.id
    orders.adopt_fills(fills, owner)
    open_before = [mo.request.client_id for mo in orders.working.values()]
    orders.recover(now)
    since = min(
        (mo.created_ts for mo in orders.orders.values() if mo.request.client_id in open_before),
        default=None,
    )
    # Fills missed while down: since the last one applied (or the first order).
    # A folder that never placed an order has none to miss: the account's
    # older trades are not the bot's, and fetching them would import them.
    first_order = min((mo.created_ts for mo in orders.orders.values()), default=None)
    if first_order is not None:
        last_fill = max((f.ts for f in fills), default=first_order)
        orders.catch_up_fills(min(since, last_fill) if since is not None else last_fill, now)
    orders.trim()  # terminal orders beyond the retention: the store has them
    bot.reconciler.invalidate()
    positions: dict[str, Decimal] = {}
    for (_sid, sym), qty in orders.attributed.items():
        positions[sym] = positions.get(sym, ZERO) + qty
    bot.journal(
        "recovered",
        now,
        {
            "orders_checked": len(open_before),
            "still_unknown": sorted(orders.blocked),
            "fills_known": len(seen),
            "ledger": {k: str(v) for k, v in positions.items()},
        },
    )
