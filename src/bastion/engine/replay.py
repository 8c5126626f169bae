"""Replay a recorded day: the same cycle, the same inputs, the same decisions.

A paper or live session leaves behind everything a decision depended on: the
market data the bot consumed (``bastion.data.recorder``: warm-up history and
every bar with the time of the cycle that took it) and, in the journal, each
cycle's ``context`` (its number and time, the account the reconciler handed
the strategies, the latch, the blocked symbols, the strategies' working
orders) and the run's ``strategies`` event (run id, instruments). A replay
rebuilds the data gate, the strategies and the risk gate from the config and
re-runs, cycle by cycle, the cycle's own steps — ``decide``, ``make_plan``,
``review`` from ``bastion.engine.cycle``, and the risk gate's ``watch`` — then
compares what it decided with what the journal says was decided: the intents,
each order's client id, verdict, reason and approved quantity.

A session is replayed from its start (strategy memory and indicators are built
from the session's first bar), and the cycles whose time falls on the day are
compared. Nothing is sent: the replay has no venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from bastion.config import BotConfig
from bastion.data.recorder import read_day
from bastion.engine.context import account_from, intent_dict, order_from
from bastion.engine.cycle import Bot, decide, make_plan, review
from bastion.engine.live import build_strategies
from bastion.engine.parts import data_gate, protector, risk_gate, slots
from bastion.engine.protective import unprotect
from bastion.engine.shadow import split_modes
from bastion.model import Bar, OrderReport
from bastion.model.timeframe import parse_interval
from bastion.observe.journal import read_events
from bastion.risk import HaltLatch, HaltState
from bastion.risk.decisions import Decision, Verdict
from bastion.venues.sim.snapshot import instrument_from

DAY_MS = 86_400_000
KINDS = ["session_start", "strategies", "context", "cycle", "risk_decision"]


class ReplayError(ValueError):
    """The folder does not hold what a replay of that day needs."""


@dataclass(slots=True)
class Difference:
    session: int
    run_id: str
    cycle: int
    ts: int
    strategy: str  # the strategy id
    what: str  # "intents" or "decisions"
    journal: Any
    replay: Any


@dataclass(slots=True)
class ReplayResult:
    day: str
    sessions: int = 0
    cycles: int = 0  # cycles of the day compared
    intents: int = 0  # journaled intents of the day
    decisions: int = 0  # journaled risk decisions of the day
    versions: dict[str, list[str]] = field(default_factory=dict)  # id -> [journaled, replayed]
    differences: list[Difference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"identical": self.identical}


class ReplayOrders:
    """What the order manager told the planner and the risk gate in a cycle,
    from the cycle's context: the strategies' working orders, their own fills
    on shared symbols, the symbols blocked by an order of unknown outcome."""

    def __init__(self) -> None:
        self.working_by: dict[str, list[OrderReport]] = {}
        self.attributed_by: dict[str, dict[str, Decimal]] = {}
        self.blocked: frozenset[str] = frozenset()
        self.protect_by: dict[str, list[OrderReport]] = {}

    def load(self, ctx: dict[str, Any]) -> None:
        working = ctx.get("working", {})
        self.working_by = {sid: [order_from(o) for o in rows] for sid, rows in working.items()}
        self.attributed_by = {
            sid: {s: Decimal(q) for s, q in rows.items()}
            for sid, rows in ctx.get("attributed", {}).items()
        }
        self.blocked = frozenset(ctx.get("blocked", ()))
        legs = ctx.get("protect", {}).get("legs", {})
        self.protect_by = {sid: [order_from(o) for o in rows] for sid, rows in legs.items()}

    def working_for(self, strategy_id: str) -> list[OrderReport]:
        return self.working_by.get(strategy_id, [])

    def positions_for(self, strategy_id: str) -> dict[str, Decimal]:
        return self.attributed_by.get(strategy_id, {})

    def protection_for(self, strategy_id: str) -> list[OrderReport]:
        return self.protect_by.get(strategy_id, [])


@dataclass(slots=True)
class _Session:
    index: int
    run_id: str
    start_ts: int
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def end_ts(self) -> int:
        return self.events[-1]["ts"] if self.events else self.start_ts


def _sessions(folder: Path) -> list[_Session]:
    out: list[_Session] = []
    for e in read_events(folder, kinds=KINDS):
        if e["kind"] == "session_start":
            out.append(_Session(len(out) + 1, str(e.get("run_id")), e["ts"]))
        elif out and not e.get("resend") and e.get("mode") is None:
            out[-1].events.append(e)
    return out


def _decision_key(d: Decision) -> list[Any]:
    if d.verdict is Verdict.APPROVE:
        return [d.original.client_id, "approve", None, None]
    approved = str(d.request.qty) if d.request is not None else None
    return [d.original.client_id, d.verdict.value, d.reason.value if d.reason else None, approved]


def _journaled_key(e: dict[str, Any]) -> list[Any]:
    return [e["client_id"], e["verdict"], e.get("reason"), e.get("approved_qty")]


def replay_day(config: BotConfig, folder: Path, day: date) -> ReplayResult:
    """Replay every session with a cycle on ``day`` and compare its decisions."""
    d0 = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    result = ReplayResult(day=day.isoformat())
    sessions = [
        s
        for s in _sessions(folder)
        if any(e["kind"] == "context" and d0 <= e["ts"] < d0 + DAY_MS for e in s.events)
    ]
    if not sessions:
        raise ReplayError(
            f"{folder}: no cycle with a journaled decision context on {day.isoformat()}"
        )
    first_day = datetime.fromtimestamp(sessions[0].start_ts / 1000, tz=UTC).date()
    bars: list[dict[str, Any]] = []
    d = first_day
    while d <= day + timedelta(days=1):  # a session's bars may run past midnight
        bars += read_day(folder, d.isoformat(), "bars").to_pylist()
        d += timedelta(days=1)
    bars.sort(key=lambda b: b["seq"])
    everything = _sessions(folder)
    for s in sessions:
        nxt = next((t.start_ts for t in everything if t.start_ts > s.start_ts), 1 << 62)
        mine = [b for b in bars if s.start_ts <= b["cycle_ts"] < nxt]
        _replay_session(config, s, mine, d0, result)
        result.sessions += 1
    return result


def _replay_session(
    config: BotConfig, s: _Session, bars: list[dict[str, Any]], d0: int, result: ReplayResult
) -> None:
    started = next((e for e in s.events if e["kind"] == "strategies"), None)
    if started is None or "instruments" not in started:
        raise ReplayError(f"session {s.index} ({s.run_id}): no strategies event with instruments")
    strategies, _shadows = split_modes(config, build_strategies(config))
    journaled = {x["id"]: x["version"] for x in started["strategies"] if x.get("mode") != "shadow"}
    for st in strategies:
        result.versions[st.ref.id] = [journaled.get(st.ref.id, "-"), st.ref.version]
    bot = _bot(config, s, strategies, started)
    orders = cast(ReplayOrders, bot.orders)
    by_ts: dict[int, list[dict[str, Any]]] = {}
    for b in bars:
        by_ts.setdefault(b["cycle_ts"], []).append(b)
    contexts = [e for e in s.events if e["kind"] == "context"]
    steps = sorted([(t, 0, i) for i, t in enumerate(by_ts)] + [(c["ts"], 1, i) for i, c in
                   enumerate(contexts)])  # fmt: skip
    times = list(by_ts)
    accounts: dict[int, dict[str, Any]] = {}
    journal_cycles = _journaled(s)
    for t, is_ctx, i in steps:
        if not is_ctx:
            _feed(bot, by_ts[times[i]])
            continue
        ctx = contexts[i]
        if "account" in ctx:
            accounts[ctx["cycle"]] = ctx["account"]
        raw = ctx.get("account") or accounts.get(ctx.get("account_cycle", -1))
        if raw is None:
            raise ReplayError(f"session {s.index} cycle {ctx['cycle']}: its account is missing")
        decided = _cycle(bot, orders, ctx, raw, t)
        if not d0 <= t < d0 + DAY_MS:
            continue
        result.cycles += 1
        for st in strategies:
            want_i, want_d = journal_cycles.get((ctx["cycle"], st.ref.id), ([], []))
            got_i, got_d = decided.get(st.ref.id, ([], []))
            result.intents += len(want_i)
            result.decisions += len(want_d)
            for what, want, got in (("intents", want_i, got_i), ("decisions", want_d, got_d)):
                if want != got:
                    result.differences.append(
                        Difference(s.index, s.run_id, ctx["cycle"], t, st.ref.id, what, want, got)
                    )


def _bot(config: BotConfig, s: _Session, strategies: Sequence[Any], started: dict[str, Any]) -> Bot:
    interval = parse_interval(config.exchange.bar_interval)
    symbols = sorted({sym for st in strategies for sym in st.symbols})
    gate = data_gate(dict.fromkeys(symbols, interval), strategies, config, lambda *_: None)
    gate.keep_prior = True  # as live: an amended bar replaces the newest one
    instruments = {sym: instrument_from(d) for sym, d in started["instruments"].items()}
    missing = [sym for sym in symbols if sym not in instruments]
    if missing:
        raise ReplayError(f"session {s.index}: the journal has no instrument for {missing}")
    return Bot(
        run_id=s.run_id,
        venue=None,  # type: ignore[arg-type]  # a replay sends nothing
        gate=gate,
        reconciler=None,  # type: ignore[arg-type]  # the accounts come from the journal
        risk=risk_gate(config, HaltLatch()),
        orders=cast(Any, ReplayOrders()),
        journal=lambda *_: None,
        instruments=instruments,
        slots=slots(strategies),
        protection=protector(config, strategies),
    )


def _feed(bot: Bot, rows: list[dict[str, Any]]) -> None:
    """One cycle's bars into the gate, as the live loop fed them (warm-up, closed, amended)."""
    for b in rows:
        if b["kind"] == "amended":
            fields = ("symbol", "ts", "interval_ms", "open", "high", "low", "close", "volume")
            bot.gate.amend(Bar(**{k: b[k] for k in fields}))
        else:
            bot.gate.on_bar(b["symbol"], b["ts"], b["open"], b["high"], b["low"], b["close"],
                            b["volume"])  # fmt: skip


def _cycle(
    bot: Bot, orders: ReplayOrders, ctx: dict[str, Any], raw: dict[str, Any], now: int
) -> dict[str, tuple[list[Any], list[Any]]]:
    """decide → plan → review for each strategy, on the cycle's journaled inputs."""
    bot.cycle = ctx["cycle"]
    bot.size_scale = Decimal(ctx.get("size_scale", "1"))
    orders.load(ctx)
    if bot.protection is not None:  # targets held after a stop-out, as journaled
        held = ctx.get("protect", {}).get("held", [])
        bot.protection.held = {(sid, sym) for sid, sym in held}
    latch = bot.risk.latch
    state = HaltState(ctx.get("latch", HaltState.ACTIVE.value))
    latch.set(state, reason="as journaled", now=now, by="replay")
    view = bot.gate.view_at(now)
    account = account_from(raw)
    bot.risk.watch(account, view, now)  # the market and account sampling the rules rely on
    out: dict[str, tuple[list[Any], list[Any]]] = {}
    for slot in bot.slots:
        intents = decide(bot, slot, view, account)
        if not intents:
            continue
        plan = unprotect(bot, slot, make_plan(bot, slot, intents, account, view))
        decisions = review(bot, plan, account, view, now)
        out[slot.strategy.ref.id] = (
            [intent_dict(i) for i in intents],
            [_decision_key(d) for d in decisions],
        )
    return out


def _journaled(s: _Session) -> dict[tuple[int, str], tuple[list[Any], list[Any]]]:
    """What the journal says each strategy decided, by (cycle, strategy id)."""
    out: dict[tuple[int, str], tuple[list[Any], list[Any]]] = {}
    for e in s.events:
        if e["kind"] not in ("cycle", "risk_decision"):
            continue
        sid = str(e.get("strategy") or "").partition("@")[0]
        intents, decisions = out.setdefault((e["cycle"], sid), ([], []))
        if e["kind"] == "cycle":
            intents.extend(e.get("intents", []))
        else:
            decisions.append(_journaled_key(e))
    return out
