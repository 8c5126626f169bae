"""Shadow evidence and the shadow report, read from the journal.

A shadow version's *evidence* is the time it ran in shadow on this bot since
the last halt or critical alert: the windows from each session's
``strategies`` event that lists it as ``shadow`` to that session's last event,
cut at the newest disqualifying event (the bot's latch leaving ACTIVE, any
critical alert, or the shadow's own simulated halt, flatten or failure).

The *report* compares each shadow version with the version of the same
strategy id that traded: intents per hour, the cycles where their intents
differ, the simulated PnL of the shadow book beside the account's, its risk
rejections by reason and the orders it would have placed.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bastion.observe.alerting import TRIGGERS
from bastion.observe.journal import find_journal

HOUR_MS = 3_600_000
CRITICAL = tuple(k for k, (severity, _) in TRIGGERS.items() if severity == "critical")
SHADOW_STOPS = ("shadow_flatten", "shadow_failed", "shadow_latch")


@dataclass(slots=True)
class Evidence:
    strategy: str  # id@version
    hours: float = 0.0  # in shadow since the last disqualifying event
    windows: list[tuple[int, int]] = field(default_factory=list)
    disqualified: tuple[int, str] | None = None  # the newest (ts, kind)
    traded_live: bool = False  # this version traded live money on this bot before
    bot_traded_live: bool = False  # any version did


def _sessions(db: sqlite3.Connection) -> list[tuple[int, int]]:
    """(first seq, last ts) of every session, in order; one for a journal without any."""
    starts = [r[0] for r in db.execute("SELECT seq FROM events WHERE kind = 'session_start'")]
    bounds = (starts or [0]) + [1 << 62]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        (end,) = db.execute(
            "SELECT MAX(ts) FROM events WHERE seq >= ? AND seq < ?", (lo, hi)
        ).fetchone()
        out.append((lo, int(end or 0)))
    return out


def _strategy_events(db: sqlite3.Connection) -> list[tuple[int, int, dict[str, Any]]]:
    rows = db.execute("SELECT seq, ts, payload FROM events WHERE kind = 'strategies' ORDER BY seq")
    return [(seq, ts, orjson.loads(p)) for seq, ts, p in rows]


def _end_of(sessions: list[tuple[int, int]], seq: int) -> int:
    end = 0
    for lo, last in sessions:
        if lo <= seq:
            end = last
    return end


def evidence(path: str | Path, strategy_id: str, version: str) -> Evidence:
    """How long ``strategy_id@version`` has run in shadow here without a halt or critical alert."""
    ref = f"{strategy_id}@{version}"
    out = Evidence(strategy=ref)
    try:
        journal = find_journal(path)
    except FileNotFoundError:
        return out  # a new folder: nothing ran here yet
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        sessions = _sessions(db)
        for seq, ts, p in _strategy_events(db):
            live_money = p.get("venue_mode") == "live"
            for s in p.get("strategies", []):
                mine = s["id"] == strategy_id and s["version"] == version
                if s.get("mode", "live") == "live" and live_money:
                    out.bot_traded_live = True
                    out.traded_live = out.traded_live or mine
                if mine and s.get("mode") == "shadow":
                    out.windows.append((ts, _end_of(sessions, seq)))
        out.disqualified = _last_stop(db, ref)
        cut = out.disqualified[0] if out.disqualified else None
        total = 0
        for start, end in out.windows:
            total += max(0, end - max(start, cut if cut is not None else start))
        out.hours = total / HOUR_MS
    finally:
        db.close()
    return out


def _last_stop(db: sqlite3.Connection, ref: str) -> tuple[int, str] | None:
    """The newest event that resets a shadow's clock: the bot halted, a critical
    alert, or this shadow's own simulated halt, flatten or failure."""
    kinds = (*CRITICAL, "latch", *SHADOW_STOPS)
    marks = ",".join("?" * len(kinds))
    rows = db.execute(
        f"SELECT ts, kind, strategy, payload FROM events WHERE kind IN ({marks}) ORDER BY seq",
        kinds,
    )
    last: tuple[int, str] | None = None
    for ts, kind, strategy, payload in rows:
        if kind.startswith("shadow_") and strategy != ref:
            continue  # another shadow's trouble is not this one's
        if kind in ("latch", "shadow_latch") and orjson.loads(payload).get("state") == "ACTIVE":
            continue
        last = (ts, kind)
    return last


# ------------------------------------------------------------------ the report
@dataclass(slots=True)
class Comparison:
    shadow: str  # id@version
    live: str | None  # the version of the same id that traded
    hours: float = 0.0
    intents: int = 0
    live_intents: int = 0
    intents_per_hour: float = 0.0
    live_intents_per_hour: float = 0.0
    cycles_compared: int = 0
    divergent_cycles: int = 0
    divergences: list[dict[str, Any]] = field(default_factory=list)  # the first few
    rejections: dict[str, int] = field(default_factory=dict)
    live_rejections: dict[str, int] = field(default_factory=dict)
    would_place: list[dict[str, Any]] = field(default_factory=list)
    fills: int = 0
    start_equity: str | None = None
    end_equity: str | None = None
    pnl: str | None = None  # of the simulated book
    live_pnl: str | None = None  # of the whole account, over the same contexts

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _equity(acct: dict[str, Any] | None, marks: dict[str, float]) -> Decimal | None:
    if acct is None:
        return None
    total = Decimal(0)
    quote = acct.get("quote")
    for asset, (free, locked) in acct.get("balances", {}).items():
        if asset == quote:
            total += Decimal(free) + Decimal(locked)
    for sym, (qty, _avg) in (acct.get("holdings") or acct.get("positions", {})).items():
        if Decimal(qty):
            if sym not in marks:
                return None
            total += Decimal(qty) * Decimal(repr(marks[sym]))
    return total


def _diff(a: Decimal | None, b: Decimal | None) -> str | None:
    return None if a is None or b is None else str(b - a)


def report(path: str | Path, *, examples: int = 5) -> list[Comparison]:
    """One comparison per shadow version the journal at ``path`` holds."""
    db = sqlite3.connect(f"file:{find_journal(path)}?mode=ro", uri=True)
    try:
        return _report(db, examples)
    finally:
        db.close()


def _report(db: sqlite3.Connection, examples: int) -> list[Comparison]:
    sessions = _sessions(db)
    trading: dict[str, str] = {}  # id -> id@version that traded (the newest)
    found: dict[str, Comparison] = {}
    windows: dict[str, list[tuple[int, int]]] = {}
    for seq, ts, p in _strategy_events(db):
        for s in p.get("strategies", []):
            ref = f"{s['id']}@{s['version']}"
            if s.get("mode") == "shadow":
                found.setdefault(ref, Comparison(shadow=ref, live=None))
                windows.setdefault(ref, []).append((ts, _end_of(sessions, seq)))
            else:
                trading[s["id"]] = ref
    for ref, c in found.items():
        c.live = trading.get(ref.partition("@")[0])
        c.hours = sum(max(0, e - s) for s, e in windows[ref]) / HOUR_MS
    if not found:
        return []
    scan = _Scan(found)
    kinds = ("session_start", "strategies", *_Scan.KINDS)
    rows = db.execute(
        f"SELECT ts, kind, strategy, payload FROM events WHERE kind IN "
        f"({','.join('?' * len(kinds))}) ORDER BY seq",
        kinds,
    )
    for ts, kind, strategy, payload in rows:
        scan.take(ts, kind, strategy, orjson.loads(payload) if kind != "session_start" else {})
    for c in found.values():
        _compare(c, scan.intents, scan.present.get(c.shadow, set()), examples)
        accts = scan.shadow_accounts.get(c.shadow, [])
        if accts:
            first, last = _equity(accts[0], scan.marks), _equity(accts[-1], scan.marks)
            c.start_equity = None if first is None else str(first)
            c.end_equity = None if last is None else str(last)
            c.pnl = _diff(first, last)
        if scan.live_first is not None and scan.live_last is not None:
            begin = _equity(scan.live_first, scan.live_first_marks)
            c.live_pnl = _diff(begin, _equity(scan.live_last, scan.marks))
    return list(found.values())


class _Scan:
    """One pass over the journal, keeping what the comparisons need."""

    KINDS = ("cycle", "shadow_cycle", "risk_decision", "shadow_risk_decision",
             "shadow_order_submitted", "shadow_fill", "context", "shadow_context")  # fmt: skip

    def __init__(self, found: dict[str, Comparison]) -> None:
        self.found = found
        self.session = 0
        self.present: dict[str, set[int]] = {}  # shadow ref -> sessions it ran in
        self.intents: dict[tuple[int, int, str], list[Any]] = {}  # (session, cycle, ref)
        self.marks: dict[str, float] = {}  # the newest close per symbol
        self.live_first: dict[str, Any] | None = None
        self.live_first_marks: dict[str, float] = {}
        self.live_last: dict[str, Any] | None = None
        self.shadow_accounts: dict[str, list[dict[str, Any]]] = {}

    def take(self, ts: int, kind: str, strategy: str | None, p: dict[str, Any]) -> None:
        found = self.found
        if kind == "session_start":
            self.session += 1
        elif kind == "strategies":
            for s in p.get("strategies", []):
                if s.get("mode") == "shadow":
                    self.present.setdefault(f"{s['id']}@{s['version']}", set()).add(self.session)
        elif kind in ("context", "shadow_context"):
            self.marks.update({s: v["c"] for s, v in p.get("view", {}).items() if v.get("ts")})
            if "account" not in p:
                return
            if kind == "shadow_context":
                self.shadow_accounts.setdefault(str(strategy), []).append(p["account"])
            elif self.live_first is None:
                self.live_first, self.live_first_marks = p["account"], dict(self.marks)
            else:
                self.live_last = p["account"]
        elif kind in ("cycle", "shadow_cycle"):
            self.intents[(self.session, p["cycle"], str(strategy))] = p.get("intents", [])
        elif kind in ("risk_decision", "shadow_risk_decision"):
            if p.get("verdict") == "approve":
                return
            reason = str(p.get("reason"))
            if p.get("verdict") == "resize":
                reason += " (resized)"  # sent smaller, not refused
            for c in found.values():
                if kind == "shadow_risk_decision" and c.shadow == strategy:
                    c.rejections[reason] = c.rejections.get(reason, 0) + 1
                elif kind == "risk_decision" and c.live == strategy:
                    c.live_rejections[reason] = c.live_rejections.get(reason, 0) + 1
        elif kind == "shadow_order_submitted" and strategy in found:
            found[strategy].would_place.append({"ts": ts} | p)
        elif kind == "shadow_fill" and strategy in found:
            found[strategy].fills += 1


def _compare(
    c: Comparison,
    intents: dict[tuple[int, int, str], list[Any]],
    sessions: set[int],
    examples: int,
) -> None:
    """Cycle by cycle, in the sessions the shadow ran in, its intents against the
    trading version's (a cycle where only one of them wanted something differs)."""
    keys = sorted(
        {(s, n) for (s, n, ref) in intents if s in sessions and ref in (c.shadow, c.live)}
    )
    c.cycles_compared = len(keys)
    for session, cycle in keys:
        ours = intents.get((session, cycle, c.shadow), [])
        theirs = intents.get((session, cycle, c.live or ""), [])
        c.intents += len(ours)
        c.live_intents += len(theirs)
        if ours != theirs:
            c.divergent_cycles += 1
            if len(c.divergences) < examples:
                c.divergences.append(
                    {"session": session, "cycle": cycle, "shadow": ours, "live": theirs}
                )
    if c.hours > 0:
        c.intents_per_hour = c.intents / c.hours
        c.live_intents_per_hour = c.live_intents / c.hours
