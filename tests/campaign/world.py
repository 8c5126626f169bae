"""A seeded campaign world: one bot, one exchange that outlives it, and a
chaos schedule of kills, halts, simulated SIGKILLs, venue faults and changes
to the account that the bot did not make.

The exchange is a simulated venue wrapped twice: ``Exchange`` (the truth,
watched at the moment an order arrives, not afterwards) under the fault
wrapper the bot talks to. The bot is the production session
(``open_session`` with SQLite store, latch and journal in a real folder); a
"SIGKILL" drops the process's objects without closing them and throws away
the journal's unflushed buffer, which is what the kernel does to a killed
process. The kill is the kill switch's own ``Halt`` and ``flatten`` against
the same exchange.

Every invariant is checked by ``World.check`` after every step, against the
world's own ground truth (what it deposited, withdrew and traded by hand),
never against the bot's beliefs:

* ``sent_after_kill``: no order of the bot's reaches the exchange while the
  kill flag is down;
* ``sent_while_halted``: no exposure-adding order of the bot's reaches the
  exchange while the latch says HALTED or REDUCING;
* ``below_baseline``: the account never holds less of an asset than what is
  not the bot's (the baseline);
* ``journal_lacks``: every order and fill the order store holds has its
  journal event once the bot is up (after a crash: once it has recovered);
* ``client_id_reused``: no client id is accepted twice by the exchange;
* ``kill_not_flat``: a kill that reported flat left no bot position and no
  resting order.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from tests.scripted import NoParams, Scripted

from bastion.config import BotConfig
from bastion.engine.session import Session, open_session
from bastion.execution.policy import ExecutionPolicy
from bastion.killswitch.flatten import flatten, record_to
from bastion.killswitch.halt import Halt
from bastion.killswitch.share import venue_share
from bastion.killswitch.venueset import VenueSet
from bastion.model import (
    AccountSnapshot,
    Instrument,
    Intent,
    OrderReport,
    OrderRequest,
    QuoteLevel,
    TargetPosition,
    TargetQuotes,
)
from bastion.model.view import MarketView
from bastion.state.baseline import read_floors
from bastion.state.killflag import clear_flag, read_flag
from bastion.state.store import LatchRow, StateStore
from bastion.venues.errors import VenueError
from bastion.venues.faults import Fault, FaultyVenue, StreamFault
from bastion.venues.sim import SimVenue

SYMBOL = "SYN/USDT"
BASE, QUOTE = "SYN", "USDT"
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
BAR_MS = 30 * 60_000
BARS_PER_DAY = 48  # a simulated day: 24 hours of 30-minute bars

POLICY = ExecutionPolicy(
    max_attempts=4,
    backoff_base_ms=BAR_MS,
    backoff_max_ms=4 * BAR_MS,
    max_total_delay_ms=12 * BAR_MS,
    jitter=0.0,
    unknown_grace_ms=BAR_MS,
    unknown_checks=2,
    unresolved_after_ms=8 * BAR_MS,
    resend_if_younger_ms=3 * BAR_MS,
)

CRASH_POINTS = ("before_persist", "after_persist", "after_send", "after_ack", "after_fill")


class Crash(BaseException):
    """A simulated SIGKILL: unwinds the bot's stack without running its clean-up."""


@dataclass(frozen=True, slots=True)
class Violation:
    seed: int
    step: int
    kind: str
    detail: str


class Exchange:
    """The exchange as it really is: a simulated venue that notes, as each
    order arrives, what state the bot's folder was in at that instant."""

    def __init__(self, world: World, sim: SimVenue) -> None:
        self.world = world
        self.sim = sim
        self.accepted: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def submit(self, request: OrderRequest) -> OrderReport:
        self.world.on_send(request)
        report = self.sim.submit(request)
        self.accepted[request.client_id] += 1
        if self.accepted[request.client_id] > 1:
            self.world.violate("client_id_reused", request.client_id)
        return report


@dataclass
class World:
    """One episode: a fresh data folder, ``days`` simulated days, one seed."""

    folder: Path
    seed: int
    days: int = 1
    rng: random.Random = field(init=False)
    violations: list[Violation] = field(default_factory=list)
    step_no: int = 0
    bar: int = 0
    price: float = 100.0
    target: Decimal = Decimal(0)
    quotes: bool = False
    foreign: Decimal = Decimal(0)  # what of the base asset is not the bot's: the ground truth
    killed: bool = False  # a kill flag is down
    crash_at: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.foreign = Decimal(self.rng.choice([0, 1, 2, 5]))
        sim = SimVenue([Instrument.spot(SYMBOL)], {QUOTE: Decimal(100_000), BASE: self.foreign})
        self.exchange = Exchange(self, sim)
        self.venue = FaultyVenue(self.exchange, seed=self.seed)  # type: ignore[arg-type]
        self.sim = sim
        self._quote(T0)
        self.session: Session | None = None
        self.start()

    # ------------------------------------------------------------------ the bot
    def config(self) -> BotConfig:
        return BotConfig.model_validate({"name": "campaign"})

    def start(self) -> None:
        self.session = open_session(
            data_dir=self.folder,
            venue=self.venue,  # type: ignore[arg-type]
            strategies=[Scripted(NoParams(), [SYMBOL], "scripted")],
            config=self.config(),
            intervals={SYMBOL: BAR_MS},
            now=self.now,
            policy=POLICY,
            refresh_ms=0,
        )
        self._arm_hooks(self.session)

    def script(self, i: int, view: MarketView, account: AccountSnapshot) -> list[Intent]:
        if self.quotes and SYMBOL in view:
            mid = Decimal(str(round(self.price, 2)))
            return [
                TargetQuotes(
                    symbol=SYMBOL,
                    bids=(QuoteLevel(mid * Decimal("0.995"), Decimal("0.5")),),
                    asks=(QuoteLevel(mid * Decimal("1.005"), Decimal("0.5")),),
                )
            ]
        return [TargetPosition(symbol=SYMBOL, qty=self.target)]

    @property
    def now(self) -> int:
        return T0 + self.bar * BAR_MS

    # ---------------------------------------------------------------- the chaos
    def run(self) -> list[Violation]:
        Scripted.script = staticmethod(self.script)
        total = self.days * BARS_PER_DAY
        try:
            while self.bar < total:
                self.step()
        finally:
            self.stop()
        return self.violations

    def step(self) -> None:
        self.step_no += 1
        self.action = "bar"
        r = self.rng.random()
        if r < 0.08:
            self.target = Decimal(self.rng.randint(0, 3))
            self.quotes = self.rng.random() < 0.2
        elif r < 0.16:
            self.action = "fault"
            self.fault()
        elif r < 0.20:
            self.action = "foreign"
            self.foreign_change()
        elif r < 0.22:
            self.operator(halt=self.rng.random() < 0.6)
        elif r < 0.235:
            self.action = "kill"
            self.kill()
        elif r < 0.25 and self.killed:
            self.resume_after_kill()
        elif r < 0.28:
            self.crash_at = self.rng.choice(CRASH_POINTS)
            self.action = f"armed {self.crash_at}"
        elif r < 0.29:
            self.restart(clean=True)
        self.advance()
        self.check()

    def advance(self) -> None:
        """One bar on the exchange and, if the bot is up, one cycle."""
        self.bar += 1
        drift = self.rng.gauss(0, 0.01)
        self.price = max(1.0, self.price * (1 + drift))
        t = self.now - BAR_MS
        c = self.price
        self.sim.on_bar(SYMBOL, t, c, c * 1.002, c * 0.998, c, 1e6)
        self.sim.set_time(self.now)
        self._quote(self.now)
        assert self.session is not None
        self.session.bot.gate.on_bar(SYMBOL, t, c, c * 1.002, c * 0.998, c, 1e6)
        try:
            self.session.cycle(self.now)
        except Crash:
            self.counts["crash"] += 1
            self.crash()
        except VenueError:
            self.counts["cycle_failed"] += 1  # as the live loop does: skip, try next bar
        else:
            self.counts["cycle"] += 1

    def _quote(self, ts: int) -> None:
        p = self.price
        self.sim.on_quote(SYMBOL, ts, p * 0.9995, p * 1.0005, 1e6, 1e6)

    def fault(self) -> None:
        self.counts["fault"] += 1
        if self.rng.random() < 0.3:
            self.venue.stream(self.rng.choice(list(StreamFault)), drains=self.rng.randint(1, 3))
            return
        method = self.rng.choice(["submit", "submit", "cancel", "fetch_order", "fetch_account"])
        fault = self.rng.choice(list(Fault))
        if method != "submit" and fault in (Fault.TIMEOUT_AFTER, Fault.BAD_RESPONSE, Fault.REJECT):
            fault = Fault.SERVER_ERROR
        self.venue.fail(method, fault)

    def foreign_change(self) -> None:
        """Somebody else's hand on the account: a deposit, a withdrawal or a
        trade by hand, never touching what is the bot's."""
        self.counts["foreign"] += 1
        held = self.sim.fetch_account().balances.get(BASE)
        free = held.free if held is not None else Decimal(0)
        if self.rng.random() < 0.5:
            qty = Decimal(self.rng.randint(1, 3))
            self.sim.adjust_balance(BASE, qty)
            self.foreign += qty
        else:
            qty = min(self.foreign, free, Decimal(self.rng.randint(1, 3)))
            if qty > 0:
                self.sim.adjust_balance(BASE, -qty)
                self.foreign -= qty

    def operator(self, *, halt: bool) -> None:
        self.counts["halt" if halt else "resume"] += 1
        state = "HALTED" if halt else "ACTIVE"
        with StateStore(self.folder) as store:
            row = store.load_latch()
            if self.killed and not halt:
                return  # a kill is resumed only by resume_after_kill
            store.save_latch(
                LatchRow(state=state, reason="campaign operator", since_ts=self.now, by="op"),
                previous=row.state if row is not None else "ACTIVE",
            )

    def kill(self) -> None:
        """The kill switch, from outside the bot: flag, latch, flatten, report."""
        self.counts["kill"] += 1
        Halt(self.folder, reason="campaign kill", by="op", now_ms=self.now).wait(5.0)
        self.killed = True
        kill_venue = FaultyVenue(self.exchange, seed=self.rng.randint(0, 2**31))  # type: ignore[arg-type]
        if self.rng.random() < 0.3:
            kill_venue.fail("submit", self.rng.choice([Fault.TIMEOUT_AFTER, Fault.SERVER_ERROR]))
        venues = VenueSet([SYMBOL], lambda _s: kill_venue)  # type: ignore[arg-type,return-value]
        self._kill_sending = True
        try:
            # As ``KillSwitch.kill`` in bot scope: never below the recorded baseline.
            floors = read_floors(self.folder)
            own = venue_share(self.folder, venues)
            result = flatten(
                venues,
                deadline_s=5.0,
                floors=floors,
                own=own,
                sleep=lambda _s: None,
                record=record_to(self.folder),
            )
        finally:
            self._kill_sending = False
            venues.close()
        if result.flat:
            acct = self.sim.fetch_account()
            share = acct.position(SYMBOL) - self.foreign
            resting = [o.client_id for o in acct.open_orders]
            if share > 0 or resting:
                self.violate("kill_not_flat", f"share={share} resting={resting}")

    def resume_after_kill(self) -> None:
        self.counts["resume_kill"] += 1
        clear_flag(self.folder)
        self.killed = False
        with StateStore(self.folder) as store:
            row = store.load_latch()
            store.save_latch(
                LatchRow(state="ACTIVE", reason="campaign resume", since_ts=self.now, by="op"),
                previous=row.state if row is not None else "HALTED",
            )

    # ------------------------------------------------------------ crash, restart
    def _arm_hooks(self, session: Session) -> None:
        """Wrap the store, the venue's answer and the journal so that the next
        pass through the armed point raises ``Crash``: the production code runs
        unmodified up to that instant."""
        store, world = session.store, self
        real_save, real_fill = store.save_order, store.record_fill
        real_submit = self.exchange.submit

        def save_order(request: Any, status: Any, ts: int) -> None:
            world._maybe("before_persist")
            real_save(request, status, ts)
            world._maybe("after_persist")

        def record_fill(fill: Any) -> bool:
            ok = real_fill(fill)
            world._maybe("after_fill")
            return ok

        def submit(request: OrderRequest) -> OrderReport:
            report = real_submit(request)
            if not request.client_id.startswith("ks"):
                world._maybe("after_send")
            return report

        store.save_order = save_order  # type: ignore[method-assign]
        store.record_fill = record_fill  # type: ignore[method-assign]
        self.exchange.submit = submit  # type: ignore[method-assign]
        journal = session.journal
        real_append = journal.append

        def append(kind: str, ts: int, payload: dict[str, Any]) -> None:
            real_append(kind, ts, payload)
            if kind == "order_open":
                world._maybe("after_ack")

        journal.append = append  # type: ignore[method-assign]

    def _maybe(self, point: str) -> None:
        if self.crash_at == point:
            self.crash_at = None
            raise Crash(point)

    def crash(self) -> None:
        """What SIGKILL leaves: the databases as committed, the journal's buffer lost."""
        session, self.session = self.session, None
        assert session is not None
        self.exchange.__dict__.pop("submit", None)
        session.journal._buf.clear()
        for db in (session.journal, session.store, session.state):
            _drop(db)
        self.start()

    def restart(self, *, clean: bool) -> None:
        self.counts["restart"] += 1
        assert self.session is not None
        self.session.close()
        self.exchange.__dict__.pop("submit", None)
        self.start()

    def stop(self) -> None:
        self.close_readers()
        if self.session is not None:
            self.session.close()
            self.session = None
        self.exchange.__dict__.pop("submit", None)

    # -------------------------------------------------------------- invariants
    def violate(self, kind: str, detail: str, key: str | None = None) -> None:
        """Note a violation once: a state that stays broken is one finding."""
        mark = (kind, detail if key is None else key)
        if mark in self._noted:
            return
        self._noted.add(mark)
        self.violations.append(
            Violation(self.seed, self.step_no, kind, f"{detail} (step: {self.action})")
        )

    action: str = "bar"

    _noted: set[tuple[str, str]] = field(default_factory=set)

    _kill_sending: bool = False

    def on_send(self, request: OrderRequest) -> None:
        if self._kill_sending or request.client_id.startswith("ks"):
            return
        if read_flag(self.folder) is not None:
            self.violate(
                "sent_after_kill", f"{request.client_id} {request.side.value} {request.qty}"
            )
            return
        row = self._latch()
        if row is not None and row != "ACTIVE" and not request.reduces_exposure:
            self.violate("sent_while_halted", f"{request.client_id} latch={row}")

    def check(self) -> None:
        held = self.sim.fetch_account().balances.get(BASE)
        total = held.free + held.locked if held is not None else Decimal(0)
        if total < self.foreign:
            self.violate(
                "below_baseline",
                f"holds {total} of which {self.foreign} is not the bot's",
                key=f"below {self.foreign}",
            )
        if self.session is not None:
            self.journal_holds_store()

    def journal_holds_store(self) -> None:
        """Every order and fill in the order store has its journal event (read
        through read-only connections of the world's own, as an auditor would)."""
        assert self.session is not None
        self.session.journal.flush()
        journal, store = self._readers()
        for seq, kind, payload in journal.execute(
            "SELECT seq, kind, payload FROM events WHERE seq > ? "
            "AND kind IN ('order_submitted', 'fill')",
            (self._seen_seq,),
        ):
            self._seen_seq = seq
            key = "client_id" if kind == "order_submitted" else "trade_id"
            (self._journaled_orders if key == "client_id" else self._journaled_fills).add(
                orjson.loads(payload)[key]
            )
        orders = [r[0] for r in store.execute("SELECT client_id FROM orders")]
        fills = [r[0] for r in store.execute("SELECT trade_id FROM fills")]
        missing_orders = [c for c in orders if c not in self._journaled_orders]
        missing_fills = [f for f in fills if f not in self._journaled_fills]
        if missing_orders or missing_fills:
            self.violate(
                "journal_lacks",
                f"orders={missing_orders[:5]} fills={missing_fills[:5]}",
                key=f"{sorted(missing_orders)} {sorted(missing_fills)}",
            )

    _seen_seq: int = 0
    _journaled_orders: set[str] = field(default_factory=set)
    _journaled_fills: set[str] = field(default_factory=set)
    _ro: tuple[sqlite3.Connection, sqlite3.Connection] | None = None

    def _readers(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        if self._ro is None:
            self._ro = (
                sqlite3.connect(f"file:{self.folder / 'journal.sqlite'}?mode=ro", uri=True),
                sqlite3.connect(f"file:{self.folder / 'state.sqlite'}?mode=ro", uri=True),
            )
        return self._ro

    _latch_db: sqlite3.Connection | None = None

    def _latch(self) -> str | None:
        """The stored latch as another process would read it at this instant."""
        if self._latch_db is None:
            self._latch_db = sqlite3.connect(
                f"file:{self.folder / 'latch.sqlite'}?mode=ro", uri=True
            )
        try:
            row = self._latch_db.execute("SELECT state FROM halt WHERE id = 1").fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row is not None else None

    def close_readers(self) -> None:
        if self._latch_db is not None:
            self._latch_db.close()
            self._latch_db = None
        if self._ro is not None:
            for db in self._ro:
                db.close()
            self._ro = None


def _drop(holder: Any) -> None:
    """Close a database connection the way a dying process does: no commit,
    no flush, just gone."""
    for name in ("_db", "_conn", "db", "conn"):
        db = getattr(holder, name, None)
        if isinstance(db, sqlite3.Connection):
            db.close()
    if hasattr(holder, "_closed"):
        holder._closed = True


def run_episode(seed: int, days: int, root: Path) -> tuple[list[Violation], Counter[str]]:
    """One seeded episode in a fresh folder under ``root`` (removed afterwards)."""
    folder = root / f"episode-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    world = World(folder, seed, days=days)
    try:
        violations = world.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return violations, world.counts
